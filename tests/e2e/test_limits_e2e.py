"""Rate limits under gunicorn (2 workers): one count in Redis, whichever worker answers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import redis
import requests

from tests.conftest import RedisServer

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A Redis of this module's own: the limits count per address, and every test here is 127.0.0.1."""
    server = RedisServer(tmp_path_factory.mktemp("limits-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(e2e_env, own_redis):
    """The e2e environment over this module's Redis, flushed."""
    client = redis.Redis.from_url(own_redis.url)
    client.flushdb()
    client.close()
    return {**e2e_env, "REDIS_URL": own_redis.url}


def test_parallel_guesses_over_two_workers_get_the_free_failures_and_no_more(start_service, env):
    auth = start_service("auth_service", {**env, "LOGIN_FAILURES_BEFORE_DELAY": "5", "LOGIN_DELAY": "60"})
    email = "alice@example.com"
    assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5).ok
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        barrier.wait()
        response = requests.post(f"{auth.url}/login", json={"email": email, "password": f"wrong guess {i}"},
                                 timeout=10)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Per-worker counts would let up to 10 guesses through; the shared count lets exactly 5.
    assert Counter(statuses) == {401: 5, 429: 15}
    for _ in range(4):  # the right password now, on whichever worker: still locked
        locked = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5)
        assert locked.status_code == 429 and locked.json()["error"] == "rate_limited"
        assert 1 <= int(locked.headers["Retry-After"]) <= 60


def test_gunicorn_does_not_make_x_forwarded_for_the_client(start_service, env):
    auth = start_service("auth_service", {**env, "REGISTER_ADDRESS_LIMIT": "3"})

    def register(i: int) -> requests.Response:
        return requests.post(f"{auth.url}/register", json={"email": f"u{i}@example.com", "password": PASSWORD},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=5)

    assert [register(i).status_code for i in range(3)] == [201, 201, 201]
    limited = register(3)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 20  # 3 a minute: one more 20 s after the first


def test_the_owner_logs_in_every_time_while_a_stranger_hammers_the_email(start_service, env):
    """Issue 13.2: before, the per-email lock refused the owner's right password too (139 of 139)."""
    auth = start_service("auth_service", {**env, "TRUSTED_PROXY_COUNT": "1", "LOGIN_ADDRESS_LIMIT": "0"})
    email = "owner@example.com"
    assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5).ok

    def login(address: str, password: str) -> requests.Response:
        return requests.post(f"{auth.url}/login", json={"email": email, "password": password},
                             headers={"X-Forwarded-For": address}, timeout=10)

    assert login("198.51.100.10", PASSWORD).status_code == 200  # the owner's address, known from now on
    done = threading.Event()
    stranger: Counter[int] = Counter()

    def hammer() -> None:
        while not done.is_set():
            stranger[login("203.0.113.66", "a wrong guess").status_code] += 1

    hammering = threading.Thread(target=hammer)
    hammering.start()
    try:
        owner = Counter(login("198.51.100.10", PASSWORD).status_code for _ in range(30))
        newcomer = login("192.0.2.1", PASSWORD)  # an address that never logged in shares the stranger's lock
    finally:
        done.set()
        hammering.join()
    print(f"owner {dict(owner)}, stranger {dict(stranger)}, new address {newcomer.status_code}")
    assert owner == {200: 30}
    assert stranger[401] <= 5 + 3 and stranger[429] > stranger[401]  # 5 free, then 1 s, 2 s, 4 s ... locks
    assert newcomer.status_code == 429
