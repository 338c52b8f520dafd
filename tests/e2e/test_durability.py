"""Durability: with Redis's append-only file, a crash loses no account and no session it acknowledged."""

from __future__ import annotations

import threading
import uuid

import requests

from tests.conftest import NO_LIMITS, RedisServer
from tests.e2e.conftest import StartService

PASSWORD = "correct horse battery"
CLIENTS = 6
ACCOUNTS_BEFORE_THE_CRASH = 40


class Acknowledged:
    """What the services confirmed (201/200) before Redis died, and every other answer they gave."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accounts: set[str] = set()  # emails answered 201
        self.refresh_tokens: dict[str, str] = {}  # email -> the last refresh token answered 200
        self.refusals: list[tuple[str, int, str]] = []
        self.enough = threading.Event()

    def keep_account(self, email: str) -> None:
        with self.lock:
            self.accounts.add(email)
            if len(self.accounts) >= ACCOUNTS_BEFORE_THE_CRASH:
                self.enough.set()

    def keep_token(self, email: str, token: str) -> None:
        with self.lock:
            self.refresh_tokens[email] = token


def sign_up_and_refresh_until_refused(url: str, acknowledged: Acknowledged) -> None:
    """Register, log in and refresh three times, over and over, until an answer is not a success."""
    http = requests.Session()

    def post(step: str, path: str, body: dict, expected: int) -> requests.Response | None:
        response = http.post(f"{url}{path}", json=body, timeout=10)
        if response.status_code == expected:
            return response
        with acknowledged.lock:
            acknowledged.refusals.append((step, response.status_code, response.text))
        return None

    while True:
        email = f"durable-{uuid.uuid4().hex[:12]}@example.com"
        credentials = {"email": email, "password": PASSWORD}
        if not post("register", "/register", credentials, 201):
            return
        acknowledged.keep_account(email)
        answer = post("login", "/login", credentials, 200)
        for _ in range(3):
            if not answer:
                return
            token = answer.json()["refresh_token"]
            acknowledged.keep_token(email, token)
            answer = post("refresh", "/refresh", {"refresh_token": token}, 200)
        if not answer:
            return
        acknowledged.keep_token(email, answer.json()["refresh_token"])


def kill(server: RedisServer) -> None:
    """SIGKILL: no shutdown, no final write of the append-only file."""
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)
    server.process = None


# `always`: Redis fsyncs before it answers. `everysec` (what `make run` uses) would do as well
# against a process kill most of the time, but not on a disk so busy that Redis postpones its
# writes (see the README), which a shared test machine can be.
def test_a_redis_crash_loses_no_acknowledged_account_or_session(start_service: StartService, e2e_env, tmp_path):
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    try:
        # A refresh Redis applied but whose answer the crash swallowed spent the token this test
        # holds last; sending it again within the grace is the retry the grace is there for.
        env = {**e2e_env, **NO_LIMITS, "REDIS_URL": server.url, "WEB_CONCURRENCY": "3", "REFRESH_REUSE_GRACE": "300"}
        auth = start_service("auth_service", env)
        acknowledged = Acknowledged()
        clients = [threading.Thread(target=sign_up_and_refresh_until_refused, args=(auth.url, acknowledged))
                   for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        assert acknowledged.enough.wait(timeout=60), "the burst never got going"
        kill(server)  # mid-burst: requests are in flight
        for client in clients:
            client.join(timeout=60)
        assert not any(client.is_alive() for client in clients)
        # Once Redis is gone, every refusal is a clean 503, never a 500 or a hang.
        assert len(acknowledged.refusals) == CLIENTS
        for step, status, body in acknowledged.refusals:
            assert status == 503 and "temporarily_unavailable" in body, (step, status, body)

        server.start()  # the same port and directory: Redis replays its append-only file
        assert requests.get(f"{auth.url}/readyz", timeout=5).status_code == 200
        http = requests.Session()
        for email in acknowledged.accounts:
            login = http.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=10)
            assert login.status_code == 200, (email, login.text)
        for email, token in acknowledged.refresh_tokens.items():
            refreshed = http.post(f"{auth.url}/refresh", json={"refresh_token": token}, timeout=10)
            assert refreshed.status_code == 200, (email, refreshed.text)
    finally:
        server.stop()
