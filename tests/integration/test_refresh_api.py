"""The refresh cases of README "Refresh sessions" through HTTP (POST /refresh), the store's clock moved by the test."""

from __future__ import annotations

import dataclasses

import pytest

from auth_service.sessions import SessionStore
from auth_service.tokens import RefreshTokenKeys
from tests.conftest import TEST_REFRESH_KEY
from tests.store_clock import StoreClock

PASSWORD = "correct horse battery"
GRACE = 10


@pytest.fixture
def clock():
    return StoreClock()


@pytest.fixture
def client(make_auth_app, clock):
    """The auth app, its session store and accounts moved by `clock`."""
    app = make_auth_app(REFRESH_REUSE_GRACE=str(GRACE), MAX_SESSIONS_PER_USER="2")
    svc = app.extensions["auth"]
    sessions = SessionStore(svc.redis, keys=RefreshTokenKeys.from_secrets((TEST_REFRESH_KEY,)), idle_ttl=1_209_600,
                            max_age=2_592_000, reuse_grace=GRACE, max_sessions=2, clock_offset=clock)
    app.extensions["auth"] = dataclasses.replace(svc, sessions=sessions)
    client = app.test_client()
    assert client.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).status_code == 201
    return client


def login(client) -> dict[str, str]:
    answer = client.post("/login", json={"email": "alice@example.com", "password": PASSWORD})
    assert answer.status_code == 200
    return answer.json


def refresh(client, token: str):
    return client.post("/refresh", json={"refresh_token": token})


def new_token(client, token: str) -> str:
    answer = refresh(client, token)
    assert answer.status_code == 200, answer.json
    return answer.json["refresh_token"]


def reason(client, token: str) -> str:
    answer = refresh(client, token)
    assert answer.status_code == 400 and answer.json["error"] == "invalid_grant", answer.json
    return answer.json["reason"]


def test_the_live_token_rotates_and_a_parallel_refresh_within_the_grace_gets_the_same_pair(client, clock):
    first = login(client)["refresh_token"]
    second = new_token(client, first)
    clock.now += GRACE - 1
    assert new_token(client, first) == second
    assert new_token(client, second) not in (first, second)


def test_a_lost_answer_gets_a_new_successor_and_the_lost_one_revokes(client, clock):
    first = login(client)["refresh_token"]
    lost = new_token(client, first)
    clock.now += GRACE
    retried = new_token(client, first)
    assert retried != lost
    clock.now += 1
    assert new_token(client, first) == retried  # a quick retry of the late retry
    assert reason(client, lost) == "reused"
    assert reason(client, retried) == "reused"


def test_the_parent_of_a_used_successor_and_older_ancestors_revoke(client, clock):
    first = login(client)["refresh_token"]
    second = new_token(client, first)
    third = new_token(client, second)
    assert reason(client, first) == "reused"  # within the grace, too
    assert reason(client, third) == "reused"
    other = login(client)["refresh_token"]
    a = new_token(client, other)
    new_token(client, a)
    clock.now += GRACE
    assert reason(client, other) == "reused"


def test_unknown_tokens_are_refused_and_end_nothing(client):
    token = login(client)["refresh_token"]
    assert reason(client, token.rsplit(".", 1)[0] + "." + "A" * 43) == "unknown"
    assert reason(client, "x" * 10) == "unknown"
    assert new_token(client, token)


def test_a_login_past_the_limit_ends_the_least_recently_used_session(client, clock):
    oldest = login(client)["refresh_token"]
    clock.now += 1
    middle = login(client)["refresh_token"]
    clock.now += 1
    oldest = new_token(client, oldest)
    clock.now += 1
    login(client)
    assert reason(client, middle) == "evicted"
    assert new_token(client, oldest)


def test_logout_all_and_a_password_change_end_a_reissued_session(client, clock):
    pair = login(client)
    new_token(client, pair["refresh_token"])
    clock.now += GRACE
    reissued = new_token(client, pair["refresh_token"])
    here = login(client)
    listed = client.get("/sessions", headers={"Authorization": f"Bearer {here['access_token']}"}).json["sessions"]
    assert len(listed) == 2
    assert client.post("/password", headers={"Authorization": f"Bearer {here['access_token']}"},
                       json={"current_password": PASSWORD, "new_password": "another passphrase"}).status_code == 204
    assert reason(client, reissued) == "password_changed"
    assert client.post("/logout/all", headers={"Authorization": f"Bearer {here['access_token']}"}).status_code == 204
    assert reason(client, here["refresh_token"]) == "revoked"
