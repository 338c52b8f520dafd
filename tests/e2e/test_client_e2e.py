"""The Python client (clients/python) against both services under gunicorn, with access tokens that live 2 seconds.

The services run with JWT_CLOCK_SKEW=0, so a token is refused as soon as it expires, and
REFRESH_REUSE_GRACE=0, so a refresh token spent twice revokes its session: a client
that refreshed more than once for one expiry would end its own session.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests
from session_client import Client, SessionEndedError

from shared import redis_keys
from tests.e2e.conftest import Service, base_env

PASSWORD = "correct horse battery"
ACCESS_TOKEN_TTL = 2
THREADS = 20


@pytest.fixture(scope="module")
def services(redis_server, signing_key_file, tmp_path_factory) -> Iterator[tuple[Service, Service]]:
    """The auth and resource services, shared by this module's tests."""
    env = base_env(redis_server.url, signing_key_file)
    env.update(ACCESS_TOKEN_TTL=str(ACCESS_TOKEN_TTL), JWT_CLOCK_SKEW="0", REFRESH_REUSE_GRACE="0")
    logs = tmp_path_factory.mktemp("client-e2e")
    with ExitStack() as stack:
        auth = Service("auth_service", env, logs / "auth.log")
        stack.callback(auth.stop)
        auth.start()
        resource_env = {k: v for k, v in env.items() if k != "JWT_PRIVATE_KEY_FILE"}
        resource_env["JWKS_URL"] = f"{auth.url}/.well-known/jwks.json"
        resource = Service("resource_service", resource_env, logs / "resource.log")
        stack.callback(resource.stop)
        resource.start()
        yield auth, resource


class ObservedSession(requests.Session):
    """A real HTTP session that keeps the token pairs it carries, to look for them later.

    With `hold_refresh_until`, the first /refresh waits until that many requests were
    answered 401: every thread has then failed with the old token before anyone refreshes.
    """

    def __init__(self, hold_refresh_until: int = 0) -> None:
        super().__init__()
        self.pairs: list[dict[str, Any]] = []
        self.refused = 0
        self.hold_refresh_until = hold_refresh_until
        self.all_refused = threading.Event()
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if str(url).endswith("/refresh") and self.hold_refresh_until:
            self.all_refused.wait(timeout=10)
        response = super().request(method, url, *args, **kwargs)
        with self._lock:
            if str(url).endswith(("/login", "/refresh")) and response.status_code == 200:
                self.pairs.append(response.json())
            if response.status_code == 401:
                self.refused += 1
                if self.refused >= self.hold_refresh_until:
                    self.all_refused.set()
        return response


def new_user(auth: Service) -> str:
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    response = requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5)
    assert response.status_code == 201
    return email


def wait_for_expiry() -> None:
    """Sleep until an access token issued before this call has expired (exp is whole seconds)."""
    time.sleep(ACCESS_TOKEN_TTL + 0.2)


def refreshes_logged(auth: Service, since: int) -> int:
    """POST /refresh lines in the auth service's access log after offset `since`.

    The line is written just after the answer: wait a little for the first.
    """
    deadline = time.monotonic() + 5
    while True:
        count = auth.log()[since:].count('"message": "POST /refresh ')
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_an_expired_access_token_is_refreshed_and_the_call_sent_again(services, caplog):
    auth, resource = services
    caplog.set_level(logging.DEBUG)
    email = new_user(auth)
    http = ObservedSession()
    client = Client(auth.url, session=http)
    client.login(email, PASSWORD)
    assert client.get(f"{resource.url}/me").json()["email"] == email
    log_start, resource_log_start = len(auth.log()), len(resource.log())

    wait_for_expiry()
    me = client.get(f"{resource.url}/me")
    assert me.status_code == 200 and me.json()["email"] == email
    assert refreshes_logged(auth, log_start) == 1
    assert '"message": "GET /me 401"' in resource.log()[resource_log_start:], "the token had not expired"
    assert len(http.pairs) == 2

    # The client's own log lines, requests' and urllib3's, and its repr hold no token.
    for pair in http.pairs:
        for token in (pair["access_token"], pair["refresh_token"]):
            assert token not in caplog.text
            assert token not in repr(client) + repr(vars(client))


def test_twenty_threads_on_an_expired_token_cause_one_refresh(services, redis_client):
    auth, resource = services
    email = new_user(auth)
    http = ObservedSession(hold_refresh_until=THREADS)
    client = Client(auth.url, session=http)
    client.login(email, PASSWORD)
    user_id = client.get(f"{resource.url}/me").json()["id"]
    wait_for_expiry()
    log_start = len(auth.log())

    barrier = threading.Barrier(THREADS)
    answers: list[int | str] = []

    def call() -> None:
        barrier.wait()
        try:
            answers.append(client.get(f"{resource.url}/me", timeout=15).status_code)
        except Exception as exc:  # recorded: the assertion below shows it
            answers.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert http.all_refused.is_set(), "not every thread met the expired token"
    assert answers == [200] * THREADS
    assert refreshes_logged(auth, log_start) == 1
    # Redis agrees: one session, whose refresh token was spent once (it is at generation 1).
    (session_id,) = [m.decode() for m in redis_client.zrange(redis_keys.user_sessions_key(user_id), 0, -1)]
    assert redis_client.hmget(redis_keys.session_key(user_id, session_id), ["gen", "branch"]) == [b"1", b"0"]


def log_out_everywhere_else(auth: Service, email: str, http: ObservedSession) -> None:
    """Another device logs in and ends every session of the user."""
    pair = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5).json()
    answer = requests.post(f"{auth.url}/logout/all", headers={"Authorization": f"Bearer {pair['access_token']}"},
                           timeout=5)
    assert answer.status_code == 204


def steal_the_refresh_token(auth: Service, email: str, http: ObservedSession) -> None:
    """A thief spends the client's refresh token and then its successor; the client's refresh is then a reuse.

    (Had the thief refreshed once only, the client's refresh would look like a retry after a lost
    answer and get a new successor; the thief's next refresh would then end the session.)"""
    answer = requests.post(f"{auth.url}/refresh", json={"refresh_token": http.pairs[-1]["refresh_token"]},
                           timeout=5)
    assert answer.status_code == 200
    again = requests.post(f"{auth.url}/refresh", json={"refresh_token": answer.json()["refresh_token"]}, timeout=5)
    assert again.status_code == 200


@pytest.mark.parametrize("end_session", [log_out_everywhere_else, steal_the_refresh_token])
def test_a_revoked_session_raises_session_ended(services, end_session):
    auth, resource = services
    email = new_user(auth)
    http = ObservedSession()
    client = Client(auth.url, session=http)
    client.login(email, PASSWORD)
    end_session(auth, email, http)
    wait_for_expiry()
    log_start = len(auth.log())

    with pytest.raises(SessionEndedError, match="session ended") as ended:
        client.get(f"{resource.url}/me")
    assert ended.value.error == "invalid_grant"
    # Over for good: the next call asks nothing of the auth service, and says why.
    with pytest.raises(SessionEndedError) as again:
        client.get(f"{resource.url}/me")
    assert again.value.error == "invalid_grant"
    assert refreshes_logged(auth, log_start) == 1


def test_logout_ends_the_session_on_the_server(services):
    auth, _ = services
    email = new_user(auth)
    client = Client(auth.url)
    client.login(email, PASSWORD)
    (session,) = client.get(f"{auth.url}/sessions").json()["sessions"]
    client.logout()
    with pytest.raises(SessionEndedError, match="logged out"):
        client.get(f"{auth.url}/sessions")

    other = Client(auth.url)
    other.login(email, PASSWORD)
    remaining = other.get(f"{auth.url}/sessions").json()["sessions"]
    assert session["id"] not in {s["id"] for s in remaining} and len(remaining) == 1
    client.close()
    other.close()
