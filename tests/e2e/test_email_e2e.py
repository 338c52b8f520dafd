"""Password reset and email verification end to end: the auth service under gunicorn, the
mailer process, and a real SMTP server (aiosmtpd) receiving the mails."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import jwt
import pytest
import requests

from tests.conftest import dump_redis
from tests.e2e.conftest import REPO, Service, StartService
from tests.smtp import SmtpSink

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
PUBLIC_URL = "http://app.example.test"
RESET, VERIFY = "Reset your password", "Confirm your email address"


class MailerProcess:
    """`python -m auth_service mailer` with an environment, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MailerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "auth_service", "mailer"], cwd=REPO,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while "mailer started" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the mailer did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class EmailStack:
    def __init__(self, auth: Service, mailer: MailerProcess, sink: SmtpSink) -> None:
        self.auth, self.mailer, self.sink = auth, mailer, sink

    def post(self, path: str, body: dict[str, object]) -> requests.Response:
        return requests.post(self.auth.url + path, json=body, timeout=10)

    def register(self, password: str = PASSWORD) -> str:
        email = f"mail-{uuid.uuid4().hex[:12]}@example.com"
        assert self.post("/register", {"email": email, "password": password}).status_code == 201
        return email

    def login(self, email: str, password: str = PASSWORD) -> requests.Response:
        return self.post("/login", {"email": email, "password": password})


StartStack = Callable[..., EmailStack]


@pytest.fixture
def start_stack(start_service: StartService, e2e_env, redis_client, tmp_path) -> Iterator[StartStack]:
    """`start_stack(**env)`: an SMTP server, the auth service with EMAIL=on sending to it, and the mailer."""
    with ExitStack() as stack:
        def start(**overrides: str) -> EmailStack:
            sink = SmtpSink().start()
            stack.callback(sink.stop)
            env = {**e2e_env, "EMAIL": "on", "SMTP_URL": sink.url, "MAIL_FROM": "Auth <auth@example.test>",
                   "PUBLIC_URL": PUBLIC_URL, "MAIL_EMAIL_LIMIT": "0", "MAIL_ADDRESS_LIMIT": "0", **overrides}
            auth = start_service("auth_service", env)
            mailer = MailerProcess(env, tmp_path / f"mailer-{uuid.uuid4().hex[:6]}.log").start()
            stack.callback(mailer.stop)
            return EmailStack(auth, mailer, sink)

        yield start


def claims(pair: requests.Response) -> dict[str, object]:
    return jwt.decode(pair.json()["access_token"], options={"verify_signature": False})


def test_the_reset_link_sets_the_password_once_and_ends_every_session(start_stack, redis_client):
    stack = start_stack()
    email = stack.register()
    sessions = [stack.login(email).json()["refresh_token"] for _ in range(2)]

    answer = stack.post("/password/forgot", {"email": email})
    assert (answer.status_code, answer.json()) == (202, {})
    mail = stack.sink.wait_for(email, RESET)
    assert mail.link.startswith(f"{PUBLIC_URL}/reset-password?token=")
    for text in (mail.part("plain"), mail.part("html")):
        assert "expires in 30 minutes" in text and "If this was not you, ignore this mail" in text
        assert "reset the password" in text and PASSWORD not in text
    wait_until(lambda: redis_client.zcard("{mail}:queue") == 0)
    assert mail.token.encode() not in dump_redis(redis_client), "the store holds a usable reset token"
    for refresh in sessions:
        assert refresh.encode() not in mail.raw

    # A bad new password is refused and spends nothing.
    short = stack.post("/password/reset", {"token": mail.token, "password": "short"})
    assert (short.status_code, short.json()["error"]) == (400, "invalid_request")
    assert stack.post("/password/reset", {"token": mail.token, "password": NEW_PASSWORD}).status_code == 204

    for refresh in sessions:  # every old session is over
        refused = stack.post("/refresh", {"refresh_token": refresh})
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
        assert refused.json()["reason"] == "password_changed"
    assert stack.login(email).status_code == 401
    assert stack.login(email, NEW_PASSWORD).status_code == 200
    assert "password reset by email" in stack.auth.log()

    again = stack.post("/password/reset", {"token": mail.token, "password": "yet another passphrase"})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    assert stack.login(email, NEW_PASSWORD).status_code == 200


def test_a_second_request_voids_the_first_link(start_stack):
    stack = start_stack()
    email = stack.register()
    stack.post("/password/forgot", {"email": email})
    first = stack.sink.wait_for(email, RESET)
    stack.post("/password/forgot", {"email": email})
    second = stack.sink.wait_for(email, RESET, count=2)
    assert first.token != second.token
    voided = stack.post("/password/reset", {"token": first.token, "password": NEW_PASSWORD})
    assert (voided.status_code, voided.json()["error"]) == (400, "invalid_token")
    assert stack.post("/password/reset", {"token": second.token, "password": NEW_PASSWORD}).status_code == 204


def test_an_expired_link_is_refused(start_stack):
    stack = start_stack(PASSWORD_RESET_TTL="1")
    email = stack.register()
    stack.post("/password/forgot", {"email": email})
    mail = stack.sink.wait_for(email, RESET)
    assert "expires in 1 second" in mail.part("plain")
    time.sleep(1.2)  # the shortest life PASSWORD_RESET_TTL takes, judged by Redis's clock
    expired = stack.post("/password/reset", {"token": mail.token, "password": NEW_PASSWORD})
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_token")
    assert stack.login(email).status_code == 200


def test_an_unknown_email_gets_the_same_answer_and_no_mail(start_stack, redis_client):
    stack = start_stack()
    known = stack.register()
    unknown = f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    answers = [stack.post("/password/forgot", {"email": address}) for address in (unknown, known)]
    assert {(a.status_code, a.content, a.headers["Content-Type"]) for a in answers} == {
        (202, b"{}\n", "application/json")}
    stack.sink.wait_for(known, RESET)
    wait_until(lambda: redis_client.zcard("{mail}:queue") == 0)
    assert stack.sink.to(unknown) == []


def test_an_smtp_outage_delays_mail_but_never_a_request(start_stack, redis_client):
    stack = start_stack()
    email = stack.register()
    stack.sink.wait_for(email, VERIFY)
    stack.sink.stop()

    started = time.monotonic()
    answer = stack.post("/password/forgot", {"email": email})
    assert (answer.status_code, answer.json()) == (202, {})
    other = stack.register()  # registering queues a mail too, and answers as usual
    print(f"during the outage: /password/forgot and /register answered within {time.monotonic() - started:.3f} s")
    wait_until(lambda: "mail deferred" in stack.mailer.log())

    stack.sink.start()  # the server is back: the queued mails go out, each once
    mail = stack.sink.wait_for(email, RESET, timeout=30)
    stack.sink.wait_for(other, VERIFY, timeout=30)
    wait_until(lambda: redis_client.zcard("{mail}:queue") == 0)
    assert len(stack.sink.to(email, RESET)) == 1 and len(stack.sink.to(other, VERIFY)) == 1
    assert stack.post("/password/reset", {"token": mail.token, "password": NEW_PASSWORD}).status_code == 204


def test_verification_is_required_for_login_with_require_verified_email(start_stack):
    stack = start_stack(REQUIRE_VERIFIED_EMAIL="on")
    email = stack.register()
    first = stack.sink.wait_for(email, VERIFY)
    assert first.link.startswith(f"{PUBLIC_URL}/verify-email?token=")
    assert "If this was not you, ignore this mail" in first.part("plain")

    refused = stack.login(email)
    assert (refused.status_code, refused.json()["error"]) == (403, "email_not_verified")
    wrong = stack.login(email, "not the password")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_credentials")

    resent = stack.post("/email/verify/resend", {"email": email})
    assert (resent.status_code, resent.json()) == (202, {})
    second = stack.sink.wait_for(email, VERIFY, count=2)
    assert stack.post("/email/verify", {"token": first.token}).status_code == 400  # replaced by the resend
    assert stack.post("/email/verify", {"token": second.token}).status_code == 204
    spent = stack.post("/email/verify", {"token": second.token})
    assert (spent.status_code, spent.json()["error"]) == (400, "invalid_token")

    pair = stack.login(email)
    assert pair.status_code == 200 and claims(pair)["email_verified"] is True


def test_access_tokens_say_whether_the_email_is_verified(start_stack):
    stack = start_stack()
    email = stack.register()
    mail = stack.sink.wait_for(email, VERIFY)
    pair = stack.login(email)
    assert pair.status_code == 200 and claims(pair)["email_verified"] is False
    assert stack.post("/email/verify", {"token": mail.token}).status_code == 204
    refreshed = stack.post("/refresh", {"refresh_token": pair.json()["refresh_token"]})
    assert claims(refreshed)["email_verified"] is True
    # A verified address gets no more verification mail.
    assert stack.post("/email/verify/resend", {"email": email}).status_code == 202
    stack.post("/password/forgot", {"email": email})
    stack.sink.wait_for(email, RESET)
    assert len(stack.sink.to(email, VERIFY)) == 1


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)
