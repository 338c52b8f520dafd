"""Rate limits through the auth service's test client over a real Redis, with the store's clock moved by the tests."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import pytest

from auth_service.config import RateLimitConfig
from auth_service.ratelimit import RateLimiter
from shared.errors import RateLimitedError
from tests.conftest import dump_redis
from tests.store_clock import StoreClock

PASSWORD = "correct horse battery"
# Three free failures, then 2 s doubling up to 20 s, remembered for 100 s; per-address limits
# out of the way unless a test sets them.
STRICT = {"LOGIN_FAILURES_BEFORE_DELAY": "3", "LOGIN_DELAY": "2", "LOGIN_DELAY_MAX": "20",
          "LOGIN_FAILURE_MEMORY": "100",
          "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0", "REFRESH_ADDRESS_LIMIT": "0"}


@pytest.fixture
def clock():
    return StoreClock()


@pytest.fixture
def make_app(make_auth_app, clock):
    """`make_app(**env)`: an auth app over the tests' Redis whose limiter reads `clock`."""

    def make(**env: str):
        app = make_auth_app(**env)
        svc = app.extensions["auth"]
        limits = RateLimiter(svc.redis, RateLimitConfig.from_env(env), clock_offset=clock)
        app.extensions["auth"] = dataclasses.replace(svc, limits=limits)
        return app

    return make


@pytest.fixture
def client(make_app):
    client = make_app(**STRICT).test_client()
    assert client.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 201
    return client


def login(client, email="alice@example.com", password=PASSWORD, **kwargs):
    return client.post("/login", json={"email": email, "password": password}, **kwargs)


def fail(client, email="alice@example.com", times=1) -> None:
    for _ in range(times):
        response = login(client, email, "wrong password")
        assert response.status_code == 401, response.json


def assert_limited(response, retry_after: int | None = None) -> int:
    """The response is 429 rate_limited; its Retry-After in seconds."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == "rate_limited" and response.json["error_description"]
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    if retry_after is not None:
        assert seconds == retry_after
    return seconds


def test_failures_then_429_with_retry_after(client):
    fail(client, times=3)
    assert_limited(login(client, password="wrong password"), 2)


def test_the_delay_doubles_up_to_the_maximum(client, clock):
    fail(client, times=3)
    waits = []
    for _ in range(6):
        wait = assert_limited(login(client, password="wrong password"))
        waits.append(wait)
        clock.now += wait
        fail(client)
    assert waits == [2, 4, 8, 16, 20, 20]


def test_the_right_password_during_a_lock_is_refused_then_works(client, clock):
    fail(client, times=3)
    assert_limited(login(client), 2)
    clock.now += 1
    assert_limited(login(client), 1)
    clock.now += 1
    assert login(client).status_code == 200


def test_a_success_resets_the_failures(client, clock):
    fail(client, times=2)
    assert login(client).status_code == 200
    fail(client, times=2)  # two more, not four: no lock
    assert login(client).status_code == 200
    fail(client, times=3)
    assert_limited(login(client))


def test_failures_are_forgotten_after_a_quiet_spell(client, clock):
    fail(client, times=2)
    clock.now += 99
    fail(client)  # remembered: the third failure locks
    assert_limited(login(client), 2)
    clock.now += 2 + 100  # the lock, then LOGIN_FAILURE_MEMORY without a failure
    fail(client, times=2)
    assert login(client).status_code == 200


def test_unknown_emails_are_throttled_the_same_way(client, redis_client):
    fail(client, times=3)
    fail(client, "nobody@example.com", times=3)
    known = login(client, password="wrong password")
    unknown = login(client, "nobody@example.com", "wrong password")
    assert_limited(known, 2)
    assert_limited(unknown, 2)
    assert known.json == unknown.json
    # The throttle keys hold digests: what was typed as an email is not in Redis.
    assert b"nobody@example.com" not in dump_redis(redis_client)


def test_spellings_of_one_email_share_its_throttle(client):
    fail(client, "Alice@Example.com", times=1)
    fail(client, "  ALICE@example.com", times=1)
    fail(client, "alice@ｅｘａｍｐｌｅ.com", times=1)  # fullwidth letters: NFKC makes them the same email
    assert_limited(login(client))


def test_a_lock_holds_on_one_email_only(client):
    client.post("/register", json={"email": "bob@example.com", "password": PASSWORD})
    fail(client, times=3)
    assert_limited(login(client))
    assert login(client, "bob@example.com").status_code == 200


def test_parallel_guesses_cannot_pass_the_limit_together(redis_client, clock):
    """Counted before the password check, so 20 guesses at once get 3 checks, not 20."""
    limiter = RateLimiter(redis_client, RateLimitConfig.from_env(STRICT), clock_offset=clock)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def guess() -> None:
        barrier.wait()
        try:
            limiter.start_login("alice@example.com", "203.0.113.9")
            outcome = "checked"
        except RateLimitedError:
            outcome = "limited"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(outcomes) == ["checked"] * 3 + ["limited"] * 17


@pytest.mark.parametrize(
    ("variable", "path", "body"),
    [
        ("LOGIN_ADDRESS_LIMIT", "/login", {"email": "nobody@example.com", "password": "wrong password"}),
        ("REGISTER_ADDRESS_LIMIT", "/register", {"email": "not an email", "password": PASSWORD}),
        ("REFRESH_ADDRESS_LIMIT", "/refresh", {"refresh_token": "garbage"}),
    ],
)
def test_each_endpoint_is_limited_per_address(make_app, clock, variable, path, body):
    client = make_app(**{**STRICT, "LOGIN_DELAY": "0", variable: "3"}).test_client()

    def post(address: str):
        return client.post(path, json=body, environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        assert post("198.51.100.7").status_code in (400, 401)
    assert_limited(post("198.51.100.7"), 20)  # 3 a minute: one more every 20 s
    assert post("198.51.100.8").status_code in (400, 401)  # another address has its own allowance
    clock.now += 20
    assert post("198.51.100.7").status_code in (400, 401)
    assert_limited(post("198.51.100.7"), 20)


def test_the_addresses_of_one_ipv6_64_share_an_allowance(make_app):
    client = make_app(**{**STRICT, "LOGIN_DELAY": "0", "LOGIN_ADDRESS_LIMIT": "2"}).test_client()
    body = {"email": "nobody@example.com", "password": "wrong password"}
    for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):
        assert client.post("/login", json=body, environ_base={"REMOTE_ADDR": address}).status_code == 401
    assert_limited(client.post("/login", json=body, environ_base={"REMOTE_ADDR": "2001:db8:1:2::77"}))
    assert client.post("/login", json=body, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 401


def test_x_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    client = make_app(**{**STRICT, "LOGIN_DELAY": "0", "LOGIN_ADDRESS_LIMIT": "2"}).test_client()
    body = {"email": "nobody@example.com", "password": "wrong password"}
    for i in range(2):
        headers = {"X-Forwarded-For": f"203.0.113.{i}"}
        assert client.post("/login", json=body, headers=headers).status_code == 401
    # A client changing the header at will is still the one socket address.
    assert_limited(client.post("/login", json=body, headers={"X-Forwarded-For": "203.0.113.99"}))


def test_with_a_trusted_proxy_the_address_it_appended_counts(make_app):
    client = make_app(**{**STRICT, "LOGIN_DELAY": "0", "LOGIN_ADDRESS_LIMIT": "2",
                         "TRUSTED_PROXY_COUNT": "1"}).test_client()
    body = {"email": "nobody@example.com", "password": "wrong password"}

    def post(forwarded_for: str):
        # Every request comes from the proxy's socket; the proxy appended the client's address.
        return client.post("/login", json=body, headers={"X-Forwarded-For": forwarded_for},
                           environ_base={"REMOTE_ADDR": "10.0.0.1"})

    # What the client wrote before the proxy's entry is not trusted: all three are 203.0.113.5.
    assert post("203.0.113.5").status_code == 401
    assert post("1.1.1.1, 203.0.113.5").status_code == 401
    assert_limited(post("2.2.2.2, 203.0.113.5"))
    # Other clients behind the same proxy keep their own allowance.
    assert post("203.0.113.6").status_code == 401
    assert post("203.0.113.5, 203.0.113.7").status_code == 401


def test_limits_are_shared_by_two_app_instances(make_app):
    env = {**STRICT, "LOGIN_ADDRESS_LIMIT": "5"}
    first, second = make_app(**env).test_client(), make_app(**env).test_client()
    assert first.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 201
    fail(first, times=2)
    fail(second, times=1)
    assert_limited(login(first), 2)  # the third failure, on the other instance, started the lock
    assert_limited(login(second), 2)
    # Both instances counted the same address: 5 a minute, and this is the sixth login.
    limited = login(second, "bob@example.com")
    assert assert_limited(limited) == 12
    assert "address" in limited.json["error_description"]


def test_limits_off(make_app, redis_client):
    client = make_app(LOGIN_DELAY="0", LOGIN_ADDRESS_LIMIT="0", REGISTER_ADDRESS_LIMIT="0",
                      REFRESH_ADDRESS_LIMIT="0").test_client()
    assert client.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 201
    fail(client, times=25)
    pair = login(client).json
    for _ in range(25):
        pair = client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).json
    assert not list(redis_client.scan_iter("limit:*"))


# Login throttling without lockout: an address that logged in before has a throttle of its own.

OWNER, STRANGER = "198.51.100.10", "203.0.113.66"


def login_from(client, address: str, password=PASSWORD, email="alice@example.com"):
    # Behind one trusted proxy (TRUSTED_PROXY_COUNT=1): the proxy appended the client's address.
    return client.post("/login", json={"email": email, "password": password},
                       headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def proxied(make_app):
    client = make_app(**STRICT, TRUSTED_PROXY_COUNT="1", REFRESH_TOKEN_TTL="1000").test_client()
    assert client.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 201
    return client


def test_a_stranger_hammering_an_email_never_locks_out_its_owner(proxied, clock):
    assert login_from(proxied, OWNER).status_code == 200  # the owner's address is now known
    owner, stranger = [], []
    for _ in range(40):
        for _ in range(5):
            stranger.append(login_from(proxied, STRANGER, "wrong password").status_code)
        owner.append(login_from(proxied, OWNER).status_code)
        clock.now += 1
    assert owner == [200] * 40
    # 3 free failures, then one each time a lock of 2, 4, 8, 16 s ends: 7 checks in 40 s, 193 refusals.
    assert Counter(stranger) == {401: 7, 429: 193}
    # Another address the owner never logged in from shares the stranger's throttle.
    assert_limited(login_from(proxied, "192.0.2.1"))


def test_a_known_address_is_throttled_on_its_own_failures(proxied, clock):
    assert login_from(proxied, OWNER).status_code == 200
    for _ in range(3):
        assert login_from(proxied, OWNER, "wrong password").status_code == 401
    limited = login_from(proxied, OWNER, "wrong password")
    assert_limited(limited, 2)
    assert "from this address" in limited.json["error_description"]
    # The shared throttle counted none of the owner's failures.
    for _ in range(3):
        assert login_from(proxied, STRANGER, "wrong password").status_code == 401
    clock.now += 2
    assert login_from(proxied, OWNER).status_code == 200


def test_an_address_is_known_for_refresh_token_ttl_after_its_last_login(proxied, clock):
    assert login_from(proxied, OWNER).status_code == 200
    clock.now += 999
    for _ in range(4):
        login_from(proxied, STRANGER, "wrong password")
    assert login_from(proxied, OWNER).status_code == 200  # known until 1000 s after the last login
    clock.now += 1001
    for _ in range(4):
        login_from(proxied, STRANGER, "wrong password")
    assert_limited(login_from(proxied, OWNER))  # forgotten: it shares the stranger's locked throttle


def test_parallel_guesses_from_a_known_address_get_the_free_failures_and_no_more(redis_client, clock):
    limiter = RateLimiter(redis_client, RateLimitConfig.from_env(STRICT), clock_offset=clock)
    limiter.start_login("alice@example.com", OWNER)
    limiter.login_succeeded("alice@example.com", OWNER)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def guess() -> None:
        barrier.wait()
        try:
            limiter.start_login("alice@example.com", OWNER)
            outcomes.append("checked")
        except RateLimitedError:
            outcomes.append("limited")

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(outcomes) == ["checked"] * 3 + ["limited"] * 17


def test_known_addresses_are_bounded_and_kept_as_digests(proxied, redis_client):
    for i in range(15):
        assert login_from(proxied, f"198.51.100.{i}").status_code == 200
    [known] = redis_client.scan_iter("limit:*:known")
    assert redis_client.zcard(known) == 10
    assert b"alice" not in known
