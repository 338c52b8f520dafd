"""Revocation reaching resource services: push over Redis, introspection, /revoke and /introspect
with a stock OAuth client, against gunicorn processes and a real Redis."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.conftest import RedisServer, free_port
from tests.e2e.conftest import REPO, Service, StartService
from tests.e2e.test_oauth_e2e import create_client
from tests.e2e.test_resource_e2e import PASSWORD, bearer, me, new_email, resource_env, signup_and_login

# The contract: a push-mode resource service refuses an ended session's token within 1 s.
PUSH_DEADLINE = 1.0
SESSION_ENDED = "session has ended"
REFUSALS = 10  # refusals in a row that say every worker (WEB_CONCURRENCY=2) refuses


def refused_within(resource: Service, token: str, deadline: float) -> float | None:
    """Poll GET /me until every worker refuses the token (REFUSALS in a row, each on a fresh
    connection, which gunicorn hands to any worker); the seconds until the first of them, or
    None if that did not happen within `deadline`."""
    started = time.monotonic()
    streak_started: float | None = None
    streak = 0
    while time.monotonic() - started < deadline:
        response = me(resource, token)
        if response.status_code == 401:
            assert response.json()["error"] == "invalid_token"
            assert SESSION_ENDED in response.json()["error_description"]
            streak_started = streak_started or time.monotonic()
            streak += 1
            if streak == REFUSALS:
                return streak_started - started
        else:
            assert response.status_code == 200, response.text
            streak, streak_started = 0, None
            time.sleep(0.005)
    return None


def refused_by_every_worker(resource: Service, token: str) -> bool:
    """A fresh connection per request, so gunicorn's workers all get some of them."""
    return all(me(resource, token).status_code == 401 for _ in range(REFUSALS))


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def readiness(resource: Service) -> str:
    return str(requests.get(f"{resource.url}/readyz", timeout=5).json()["revocation_push"])


@pytest.fixture
def push_pair(start_service: StartService, e2e_env) -> tuple[Service, Service]:
    """The auth service and a resource service with REVOCATION_PUSH=redis, over the shared Redis."""
    auth = start_service("auth_service", {**e2e_env, "REFRESH_REUSE_GRACE": "0"})
    resource = start_service("resource_service", resource_env(e2e_env, auth, REVOCATION_PUSH="redis"))
    return auth, resource


@pytest.mark.parametrize("ending", ["logout", "reuse", "password_change", "logout_all", "revoke"])
def test_a_session_end_reaches_the_resource_service_within_a_second(push_pair, ending: str) -> None:
    auth, resource = push_pair
    email = new_email()
    pair = signup_and_login(auth.url, email)
    token, refresh = pair["access_token"], pair["refresh_token"]
    assert me(resource, token).status_code == 200
    if ending == "logout":
        ended = requests.post(f"{auth.url}/logout", json={"refresh_token": refresh}, timeout=5)
    elif ending == "reuse":  # the successor was used, then the spent token came back
        successor = requests.post(f"{auth.url}/refresh", json={"refresh_token": refresh}, timeout=5).json()
        assert requests.post(f"{auth.url}/refresh", json={"refresh_token": successor["refresh_token"]},
                             timeout=5).status_code == 200
        ended = requests.post(f"{auth.url}/refresh", json={"refresh_token": refresh}, timeout=5)
        assert ended.json()["reason"] == "reused"
    elif ending == "password_change":
        other = signup_and_login(auth.url, email, register=False)
        ended = requests.post(f"{auth.url}/password", headers=bearer(other["access_token"]), timeout=5,
                              json={"current_password": PASSWORD, "new_password": "another passphrase"})
    elif ending == "logout_all":
        ended = requests.post(f"{auth.url}/logout/all", headers=bearer(token), timeout=5)
    else:
        ended = requests.post(f"{auth.url}/revoke", data={"token": refresh}, timeout=5)
    assert ended.status_code in (200, 204, 400), ended.text
    assert refused_within(resource, token, PUSH_DEADLINE) is not None
    assert refused_by_every_worker(resource, token)
    if ending == "password_change":  # the session that made the change goes on
        assert me(resource, other["access_token"]).status_code == 200
    # A new login after the end is accepted.
    fresh = signup_and_login(auth.url, email, register=False) if ending != "password_change" else None
    if fresh:
        assert me(resource, fresh["access_token"]).status_code == 200


def test_a_worker_started_after_the_revocation_refuses_at_once(start_service: StartService, e2e_env) -> None:
    auth = start_service("auth_service", e2e_env)
    ended, live = signup_and_login(auth.url), signup_and_login(auth.url)
    assert requests.post(f"{auth.url}/logout", json={"refresh_token": ended["refresh_token"]},
                         timeout=5).status_code == 204
    resource = start_service("resource_service", resource_env(e2e_env, auth, REVOCATION_PUSH="redis"))
    # The very first request of each fresh worker: no polling, the catch-up comes first.
    response = me(resource, ended["access_token"])
    assert response.status_code == 401 and SESSION_ENDED in response.json()["error_description"]
    assert refused_by_every_worker(resource, ended["access_token"])
    assert me(resource, live["access_token"]).status_code == 200


def test_without_push_a_resource_service_accepts_until_expiry(start_service: StartService, e2e_env) -> None:
    auth = start_service("auth_service", e2e_env)
    resource = start_service("resource_service", resource_env(e2e_env, auth))
    pair = signup_and_login(auth.url)
    requests.post(f"{auth.url}/logout", json={"refresh_token": pair["refresh_token"]}, timeout=5)
    assert me(resource, pair["access_token"]).status_code == 200  # autonomous: the documented price
    assert readiness(resource) == "off"


class TcpProxy:
    """A TCP forwarder to `port` that can be cut (every connection dropped, new ones refused) and restored."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._all: list[socket.socket] = []  # every socket ever made, closed by close()
        self._lock = threading.Lock()

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        self._all.append(server)
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept(), which close() alone would not
                self._server.close()
                self._server = None
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._conns.clear()

    def close(self) -> None:
        self.cut()
        for conn in self._all:
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                server.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._conns += [client, upstream]
                self._all += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for conn in (source, sink):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, append-only so that a restart keeps sessions and the stream."""
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    yield server
    server.stop()


def test_redis_down_tokens_verify_as_before_and_the_list_holds(start_service: StartService, e2e_env,
                                                               own_redis: RedisServer) -> None:
    env = {**e2e_env, "REDIS_URL": own_redis.url}
    auth = start_service("auth_service", env)
    resource = start_service("resource_service", resource_env(env, auth, REVOCATION_PUSH="redis"))
    ended, valid, later = signup_and_login(auth.url), signup_and_login(auth.url), signup_and_login(auth.url)
    requests.post(f"{auth.url}/logout", json={"refresh_token": ended["refresh_token"]}, timeout=5)
    assert refused_within(resource, ended["access_token"], PUSH_DEADLINE) is not None
    assert refused_by_every_worker(resource, ended["access_token"])
    own_redis.stop()
    assert wait_for(lambda: readiness(resource) == "disconnected")
    metrics = requests.get(f"{resource.url}/metrics", timeout=5).text
    assert "revocation_push_connected 0.0" in metrics
    for _ in range(6):  # both workers: valid tokens 200, the ended one still refused
        assert me(resource, valid["access_token"]).status_code == 200
        assert me(resource, ended["access_token"]).status_code == 401
    own_redis.start()
    # A revocation the moment Redis is back (the auth service's first success), while the
    # resource workers may still be reconnecting: refused within a second of it all the same.
    while requests.post(f"{auth.url}/logout", json={"refresh_token": later["refresh_token"]},
                        timeout=5).status_code != 204:
        time.sleep(0.01)
    assert refused_within(resource, later["access_token"], PUSH_DEADLINE) is not None
    assert refused_by_every_worker(resource, later["access_token"])
    assert me(resource, valid["access_token"]).status_code == 200
    assert wait_for(lambda: readiness(resource) == "connected")


def test_a_revocation_made_while_the_resource_was_cut_off_is_refused_within_a_second_of_its_return(
    start_service: StartService, e2e_env, own_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    proxy = TcpProxy(own_redis.port)
    proxy.start()
    request.addfinalizer(proxy.close)  # after the services (started later, stopped first)
    env = {**e2e_env, "REDIS_URL": own_redis.url}
    auth = start_service("auth_service", env)
    # One worker: the one measured is the one every request reaches (which of several a request
    # reaches is the kernel's choice, so "ten refusals in a row" would not prove all of them).
    resource = start_service("resource_service", resource_env(
        {**env, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0", "WEB_CONCURRENCY": "1"}, auth,
        REVOCATION_PUSH="redis"))
    pair = signup_and_login(auth.url)
    assert me(resource, pair["access_token"]).status_code == 200
    assert wait_for(lambda: readiness(resource) == "connected")
    proxy.cut()
    assert wait_for(lambda: readiness(resource) == "disconnected")
    # The auth service still reaches Redis: the session ends and its entry waits in the stream.
    assert requests.post(f"{auth.url}/logout", json={"refresh_token": pair["refresh_token"]},
                         timeout=5).status_code == 204
    assert me(resource, pair["access_token"]).status_code == 200  # cut off: autonomy first
    proxy.start()
    assert refused_within(resource, pair["access_token"], PUSH_DEADLINE) is not None
    assert refused_by_every_worker(resource, pair["access_token"])


def test_stock_client_revokes_and_introspects(start_service: StartService, e2e_env, monkeypatch) -> None:
    auth = start_service("auth_service", e2e_env)
    metadata = requests.get(f"{auth.url}/.well-known/oauth-authorization-server", timeout=5).json()
    gateway = create_client(e2e_env, "introspect")
    service = OAuth2Session(gateway["client_id"], gateway["client_secret"])  # client_secret_basic
    pair = signup_and_login(auth.url)

    answer = service.introspect_token(metadata["introspection_endpoint"], token=pair["access_token"], timeout=5)
    assert answer.status_code == 200 and answer.json()["active"] is True
    assert answer.json()["token_type"] == "Bearer"
    # The app, a public client, revokes its refresh token; its access token goes inactive with it.
    app = OAuth2Session("e2e-app", token_endpoint_auth_method="none")  # noqa: S106
    revoked = app.revoke_token(metadata["revocation_endpoint"], token=pair["refresh_token"],
                               token_type_hint="refresh_token", timeout=5)
    assert revoked.status_code == 200
    answer = service.introspect_token(metadata["introspection_endpoint"], token=pair["access_token"], timeout=5)
    assert answer.json() == {"active": False}
    # A service client revokes a user's access token.
    other = signup_and_login(auth.url)
    assert service.revoke_token(metadata["revocation_endpoint"], token=other["access_token"],
                                token_type_hint="access_token", timeout=5).status_code == 200
    answer = service.introspect_token(metadata["introspection_endpoint"], token=other["access_token"], timeout=5)
    assert answer.json() == {"active": False}
    refused = OAuth2Session(gateway["client_id"], "wrong").introspect_token(
        metadata["introspection_endpoint"], token=pair["access_token"], timeout=5)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_introspect_mode_refuses_an_ended_session_and_fails_closed(start_service: StartService, e2e_env) -> None:
    auth = start_service("auth_service", e2e_env)
    gateway = create_client(e2e_env, "introspect")
    resource = start_service("resource_service", resource_env(
        e2e_env, auth, REVOCATION_CHECK="introspect", INTROSPECTION_CLIENT_ID=gateway["client_id"],
        INTROSPECTION_CLIENT_SECRET=gateway["client_secret"], INTROSPECTION_CACHE_TTL="1"))
    pair, live = signup_and_login(auth.url), signup_and_login(auth.url)
    assert me(resource, pair["access_token"]).status_code == 200
    requests.post(f"{auth.url}/logout", json={"refresh_token": pair["refresh_token"]}, timeout=5)
    # Cached for at most INTROSPECTION_CACHE_TTL by each worker: then refused by all.
    assert wait_for(lambda: refused_by_every_worker(resource, pair["access_token"]))
    response = me(resource, pair["access_token"])
    assert response.json()["error"] == "invalid_token" and "not active" in response.json()["error_description"]
    assert me(resource, live["access_token"]).status_code == 200
    auth.stop()
    # Whatever was cached expires within a second; then no answer means no access.
    assert wait_for(lambda: all(me(resource, live["access_token"]).status_code == 503 for _ in range(REFUSALS)))
    assert me(resource, live["access_token"]).json()["error"] == "temporarily_unavailable"


def test_reset_password_from_the_command_line_is_pushed(push_pair, e2e_env) -> None:
    auth, resource = push_pair
    email = new_email()
    pair = signup_and_login(auth.url, email)
    subprocess.run([sys.executable, "-m", "auth_service", "reset-password", email, "--password-stdin"],
                   input="a brand new passphrase\n", text=True, env=e2e_env, cwd=REPO, check=True,
                   capture_output=True, timeout=30)
    assert refused_within(resource, pair["access_token"], PUSH_DEADLINE) is not None
