"""The email endpoints through Flask's test client, and the mailer in this process, over the tests'
Redis and a real SMTP server (aiosmtpd): switching off, throttling, bad input, each SMTP outcome."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import jwt
import pytest
import schemathesis

from auth_service.config import EmailConfig
from auth_service.email_openapi import with_email_paths
from auth_service.mailer import Mailer
from auth_service.mailqueue import MailQueue
from auth_service.openapi import DOCUMENT as AUTH_DOCUMENT
from tests.conftest import NO_LIMITS
from tests.integration.test_openapi import CHECKS, FUZZ_SETTINGS
from tests.smtp import SmtpSink

PASSWORD = "correct horse battery"
PATHS = ("/password/forgot", "/password/reset", "/email/verify", "/email/verify/resend")
EMAIL_DOCUMENT = with_email_paths(AUTH_DOCUMENT)
email_schema = schemathesis.openapi.from_dict(EMAIL_DOCUMENT, config=CHECKS).include(
    path_regex="^/(password/(forgot|reset)|email/)")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def email_env(sink: SmtpSink, **overrides: str) -> dict[str, str]:
    return {"EMAIL": "on", "SMTP_URL": sink.url, "MAIL_FROM": "auth@example.test",
            "PUBLIC_URL": "http://app.example.test", "MAIL_EMAIL_LIMIT": "0", "MAIL_ADDRESS_LIMIT": "0", **overrides}


def mailer_for(app, env: dict[str, str]) -> Mailer:
    config = EmailConfig.from_env(env)
    assert config is not None
    return Mailer(app.extensions["auth"].redis, config, app.extensions["auth"].accounts)


def drain(mailer: Mailer) -> None:
    while mailer.send_next():
        pass


def register(client) -> str:
    email = f"it-{uuid.uuid4().hex[:10]}@example.com"
    assert client.post("/register", json={"email": email, "password": PASSWORD}).status_code == 201
    return email


def test_with_email_off_the_endpoints_are_404_and_registration_queues_nothing(make_auth_app, redis_client):
    client = make_auth_app().test_client()
    for path in PATHS:
        answer = client.post(path, json={"email": "ada@example.com", "token": "x", "password": PASSWORD})
        assert (answer.status_code, answer.json["error"]) == (404, "not_found")
    email = register(client)
    assert redis_client.zcard("{mail}:queue") == 0
    pair = client.post("/login", json={"email": email, "password": PASSWORD})
    assert pair.status_code == 200
    assert "email_verified" not in jwt.decode(pair.json["access_token"], options={"verify_signature": False})


def test_a_password_change_voids_the_reset_link_still_out(make_auth_app, sink):
    # OWASP's forgot-password advice: a link sent before the password changed must not set it again.
    app = make_auth_app(**email_env(sink))
    client = app.test_client()
    email = register(client)
    user_id = app.extensions["auth"].accounts.find_by_email(email)["id"]
    link_token = app.extensions["email"].tokens.issue("reset", user_id)  # what the mailer mints as it sends
    access = client.post("/login", json={"email": email, "password": PASSWORD}).json["access_token"]
    changed = client.post("/password", json={"current_password": PASSWORD, "new_password": "a new passphrase"},
                          headers={"Authorization": f"Bearer {access}"})
    assert changed.status_code == 204
    reset = client.post("/password/reset", json={"token": link_token, "password": "the link's password"})
    assert (reset.status_code, reset.json["error"]) == (400, "invalid_token")
    assert client.post("/login", json={"email": email, "password": "a new passphrase"}).status_code == 200


@pytest.mark.parametrize("path", ["/password/forgot", "/email/verify/resend"])
def test_throttled_per_email_alike_for_known_and_unknown(make_auth_app, sink, path):
    client = make_auth_app(**email_env(sink, MAIL_EMAIL_LIMIT="6")).test_client()
    known, unknown = register(client), "nobody@example.com"
    for email in (known, unknown):
        assert [client.post(path, json={"email": email}).status_code for _ in range(3)] == [202] * 3
        refused = client.post(path, json={"email": email})
        assert (refused.status_code, refused.json["error"]) == (429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
    assert client.post(path, json={"email": "someone-else@example.com"}).status_code == 202


def test_throttled_per_client_address(make_auth_app, sink):
    client = make_auth_app(**email_env(sink, MAIL_ADDRESS_LIMIT="3")).test_client()
    answers = [client.post("/password/forgot", json={"email": f"n{i}@example.com"}).status_code for i in range(3)]
    answers.append(client.post("/email/verify", json={"token": "x"}).status_code)
    assert answers == [202, 202, 202, 429]
    other = client.post("/password/forgot", json={"email": "n9@example.com"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 202


@pytest.mark.parametrize("path, body, status, error", [
    ("/password/forgot", {}, 400, "invalid_request"),
    ("/password/forgot", {"email": 7}, 400, "invalid_request"),
    ("/password/forgot", {"email": "not-an-address"}, 400, "invalid_request"),
    ("/password/reset", {"token": "x"}, 400, "invalid_request"),
    ("/password/reset", {"token": "x", "password": PASSWORD}, 400, "invalid_token"),
    ("/password/reset", {"token": "0" * 32 + "." + "A" * 43, "password": PASSWORD}, 400, "invalid_token"),
    ("/email/verify", {"token": ["x"]}, 400, "invalid_request"),
    ("/email/verify", {"token": "0" * 32 + "." + "A" * 43}, 400, "invalid_token"),
])
def test_bad_input(make_auth_app, sink, path, body, status, error):
    answer = make_auth_app(**email_env(sink)).test_client().post(path, json=body)
    assert (answer.status_code, answer.json["error"]) == (status, error)
    assert "WWW-Authenticate" not in answer.headers  # not an access-token refusal


def test_a_server_that_says_try_later_gets_the_mail_again_later(make_auth_app, sink, redis_client):
    env = email_env(sink)
    app = make_auth_app(**env)
    email = register(app.test_client())
    sink.reply = "451 4.3.0 busy, try later"
    mailer = mailer_for(app, env)
    assert mailer.send_next() and not mailer.send_next()  # deferred, due again only after a backoff
    assert redis_client.zcard("{mail}:queue") == 1 and sink.to(email) == []
    job = redis_client.hgetall(redis_keys_job(email))
    assert job[b"attempts"] == b"1" and b"leased" not in job


def test_a_server_that_refuses_for_good_ends_the_job(make_auth_app, sink, redis_client):
    env = email_env(sink)
    app = make_auth_app(**env)
    register(app.test_client())
    sink.reply = "550 5.1.1 no such mailbox"
    drain(mailer_for(app, env))
    assert redis_client.zcard("{mail}:queue") == 0 and sink.mails == []


def test_a_mail_handed_over_by_a_mailer_that_died_is_not_sent_again(make_auth_app, sink, redis_client):
    env = email_env(sink)
    app = make_auth_app(**env)
    register(app.test_client())
    queue = MailQueue(app.extensions["auth"].redis)
    job = queue.claim(lease_seconds=0)  # a mailer takes the job, hands the message over, and dies
    assert job is not None
    queue.handing_over(job.job_id)
    drain(mailer_for(app, env))  # the lease is over: another mailer finds the job
    assert redis_client.zcard("{mail}:queue") == 0 and sink.mails == []


def test_claiming_a_mail_passes_the_job_it_leases_in_keys(make_auth_app, sink, redis_client):
    # Redis's rule for scripts (and what keeps them right on a cluster): every key in KEYS.
    app = make_auth_app(**email_env(sink))
    register(app.test_client())
    queue = MailQueue(app.extensions["auth"].redis)
    script, passed = queue._claim, []

    def spy(*, keys, args):
        passed.extend(keys)
        return script(keys=keys, args=args)

    queue._claim = spy
    job = queue.claim(lease_seconds=60)
    assert job is not None and job.attempts == 1
    assert f"{{mail}}:job:{job.job_id}" in passed
    assert queue.claim(lease_seconds=60) is None  # leased: not due again before the lease ends


def test_a_lost_answer_to_the_message_is_never_sent_again(make_auth_app, sink, redis_client, caplog):
    env = email_env(sink)
    app = make_auth_app(**env)
    register(app.test_client())
    sink.reply = "drop"
    drain(mailer_for(app, env))
    assert redis_client.zcard("{mail}:queue") == 0  # maybe delivered: given up, not retried
    assert [r.fields["outcome"] for r in caplog.records if hasattr(r, "fields")] == ["maybe_sent"]


def test_two_mailers_at_once_send_each_mail_once(make_auth_app, sink):
    env = email_env(sink)
    app = make_auth_app(**env)
    client = app.test_client()
    emails = [register(client) for _ in range(12)]
    mailers = [mailer_for(app, env) for _ in range(2)]
    threads = [threading.Thread(target=drain, args=(m,)) for m in mailers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(to for mail in sink.mails for to in mail.envelope_to) == sorted(emails)


def redis_keys_job(email: str) -> str:
    from auth_service.mailqueue import email_digest
    from shared import redis_keys

    return redis_keys.mail_job_key(f"verify:{email_digest(email)}")


def test_with_email_on_the_document_names_the_email_routes_too(make_auth_app, sink):
    import jsonschema_rs
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    from tests.integration.test_openapi import app_routes, documented_routes

    app = make_auth_app(**email_env(sink))
    served = app.test_client().get("/openapi.json").json
    assert app_routes(app) == documented_routes(served)
    assert set(EMAIL_DOCUMENT["paths"]) - set(AUTH_DOCUMENT["paths"]) == set(PATHS)
    assert served == EMAIL_DOCUMENT
    assert [e.message for e in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(served)] == []


@pytest.fixture
def email_app(make_auth_app, sink):
    return make_auth_app(**email_env(sink), **NO_LIMITS)


@email_schema.parametrize()
@FUZZ_SETTINGS
def test_the_email_endpoints_keep_their_document(case, email_app):
    case.operation.schema.app = email_app
    case.call_and_validate(app=email_app)
