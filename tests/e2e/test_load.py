"""Load: concurrent clients against both services under gunicorn, then checks that nothing broke.

`make test` runs a short version (8 clients, 5 s). A longer one, by hand:

    LOAD_CLIENTS=32 LOAD_SECONDS=60 make test PYTEST_ARGS='-m load'

Passwords are hashed at the tests' low Argon2 cost, so the figures measure everything but
the hashing (which a real deployment pays on every register and login).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
import redis
import requests

from shared import redis_keys
from tests.conftest import NO_LIMITS
from tests.e2e.conftest import StartService

PASSWORD = "correct horse battery"
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "8"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "5"))
REPLAYS = 100  # spent or logged-out tokens sent again at the end, at most


@dataclass
class ClientRun:
    """What one client did and saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)
    # (login token spent by the refresh, the refresh's token that logout then revoked), per loop
    logged_out: list[tuple[str, str]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)  # one session kept alive all along, refreshed once a loop
    crash: BaseException | None = None


def run_client(auth: str, resource: str, deadline: float, run: ClientRun) -> None:
    """Loop register → login → list users → refresh → logout until the deadline, refreshing the chain too."""
    http = requests.Session()

    def call(step: str, method: str, url: str, expected: int, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        response = http.request(method, url, timeout=30, **kwargs)
        run.latencies.append(time.perf_counter() - started)
        run.statuses[response.status_code] += 1
        if response.status_code != expected:
            run.unexpected.append((step, response.status_code, response.text[:300]))
            return None
        return response

    def refresh(step: str, token: str) -> str | None:
        response = call(step, "POST", f"{auth}/refresh", 200, json={"refresh_token": token})
        new = response.json()["refresh_token"] if response else None
        if new == token:
            run.unexpected.append((step, 200, "the refresh answered the same token"))
            return None
        return new

    def sign_up() -> requests.Response | None:
        credentials = {"email": f"load-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
        if not call("register", "POST", f"{auth}/register", 201, json=credentials):
            return None
        return call("login", "POST", f"{auth}/login", 200, json=credentials)

    try:
        kept = sign_up()
        if not kept:
            return
        run.chain.append(kept.json()["refresh_token"])
        while time.monotonic() < deadline:
            pair = sign_up()
            if not pair:
                continue
            access, spent = pair.json()["access_token"], pair.json()["refresh_token"]
            call("list users", "GET", f"{resource}/users", 200, headers={"Authorization": f"Bearer {access}"})
            last = refresh("refresh", spent)
            if last and call("logout", "POST", f"{auth}/logout", 204, json={"refresh_token": last}):
                run.logged_out.append((spent, last))
            head = refresh("refresh the chain", run.chain[-1])
            if head:
                run.chain.append(head)
    except BaseException as exc:  # reported by the test, which cannot see a thread's exception otherwise
        run.crash = exc


def ids(refresh_token: str) -> tuple[str, str]:
    """(user id, session id) of a refresh token `<user id>.<session id>.<key id>.<generation>.<branch>.<secret>`."""
    user_id, session_id, *_ = refresh_token.split(".")
    return user_id, session_id


def assert_refused(http: requests.Session, auth: str, token: str) -> None:
    response = http.post(f"{auth}/refresh", json={"refresh_token": token}, timeout=30)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text


@pytest.mark.load
def test_concurrent_clients_break_nothing(start_service: StartService, e2e_env, redis_server, capsys):
    env = {**e2e_env, **NO_LIMITS, "WEB_CONCURRENCY": "3", "REFRESH_REUSE_GRACE": "0"}
    auth = start_service("auth_service", env)
    resource_env = {k: v for k, v in env.items() if k != "JWT_PRIVATE_KEY_FILE"}
    resource = start_service("resource_service", {**resource_env, "JWKS_URL": f"{auth.url}/.well-known/jwks.json"})

    runs = [ClientRun() for _ in range(CLIENTS)]
    started = time.monotonic()
    threads = [threading.Thread(target=run_client, args=(auth.url, resource.url, started + SECONDS, run))
               for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    duration = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a client hung"

    statuses = sum((run.statuses for run in runs), Counter())
    requests_sent = sum(statuses.values())
    latencies = sorted(latency for run in runs for latency in run.latencies)
    errors = [problem for run in runs for problem in run.unexpected]
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    with capsys.disabled():  # the figures, in `make test`'s output too
        print(f"\nload: {CLIENTS} clients, {duration:.1f} s, {requests_sent} requests, "
              f"{requests_sent / duration:.0f} requests/s, {len(errors)} errors, "
              f"latency p50 {p50 * 1000:.0f} ms p95 {p95 * 1000:.0f} ms, statuses {dict(sorted(statuses.items()))}")
    assert [run.crash for run in runs if run.crash] == []
    assert not [s for s in statuses if s >= 500], statuses
    assert errors == []  # every answer was the expected one: each refresh 200 with a new token
    assert all(len(run.chain) > 1 for run in runs), "a client's chain never refreshed"

    # Of a logged-out session, Redis keeps only a tombstone with its reason: no token
    # position, no index entry...
    logged_out = [pair for run in runs for pair in run.logged_out]
    store = redis.Redis.from_url(redis_server.url)
    try:
        pipe = store.pipeline(transaction=False)
        for _, token in logged_out:
            user_id, session_id = ids(token)
            pipe.hmget(redis_keys.session_key(user_id, session_id), ["ended", "gen", "branch"])
            pipe.zscore(redis_keys.user_sessions_key(user_id), session_id)
        left = pipe.execute()
    finally:
        store.close()
    assert left == [[b"revoked", None, None], None] * len(logged_out), "a logged-out session kept more"

    # ...and their tokens, spent or revoked, are refused.
    http = requests.Session()
    rng = random.Random(4)  # noqa: S311 (a sample, not a secret)
    for spent, revoked in rng.sample(logged_out, min(REPLAYS, len(logged_out))):
        assert_refused(http, auth.url, spent)
        assert_refused(http, auth.url, revoked)

    # Each chain is alive at its head; a token whose successor was used is refused and kills the chain.
    for run in runs:
        head = http.post(f"{auth.url}/refresh", json={"refresh_token": run.chain[-1]}, timeout=30)
        assert head.status_code == 200, head.text
        assert_refused(http, auth.url, rng.choice(run.chain[:-1]))
        assert_refused(http, auth.url, head.json()["refresh_token"])
