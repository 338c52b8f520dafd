"""The refresh cases of README "Refresh sessions", against rotate_session.lua itself and through
SessionStore; bounded sessions; legacy sessions; O(1) memory per session; refresh-key rotation."""

from __future__ import annotations

import pytest

from auth_service.sessions import reply
from auth_service.tokens import RefreshTokenKeys, hash_refresh_token
from shared import redis_keys
from shared.store import load_script
from tests.integration.test_sessions import (
    GRACE,
    IDLE,
    KEYS,
    make_accounts,
    make_store,
    open_session,
    refused,
)
from tests.store_clock import StoreClock

OTHER_KEYS = RefreshTokenKeys.from_secrets((b"a newer refresh-token key, 32 bytes long",))


@pytest.fixture(params=["server", "cluster"])
def redis_client(request):
    return request.getfixturevalue("redis_client" if request.param == "server" else "cluster_client")


@pytest.fixture
def clock():
    return StoreClock()


@pytest.fixture
def store(redis_client, clock):
    return make_store(redis_client, clock)


@pytest.fixture
def user_id(redis_client, clock):
    return make_accounts(redis_client, clock).register("alice@example.com", "correct horse")["id"]


def rotate_script(redis_client, clock, user_id: str, session_id: str, generation: int, branch: int):
    """One call of rotate_session.lua, as SessionStore makes it, with its raw reply as a dict."""
    script = redis_client.register_script(load_script("auth_service", "rotate_session.lua"))
    return reply(script(
        keys=[redis_keys.session_key(user_id, session_id), redis_keys.user_sessions_key(user_id),
              redis_keys.user_key(user_id)],
        args=[clock(), generation, branch, IDLE * 1000, GRACE * 1000, session_id, ""],
    ))


def position(token: str) -> tuple[int, int]:
    """(generation, branch) of a refresh token."""
    parts = token.split(".")
    return int(parts[3]), int(parts[4])


# The session at generation 2: a (0,0) -> b (1,0) -> c (2,0), c live and unused.
# Each case: what is presented, how long after the latest answer, and the script's answer.
CASES = [
    ("live", (2, 0), 0, {"outcome": "rotated", "generation": "3", "branch": "0"}),
    ("parent of an unused successor, within the grace", (1, 0), GRACE - 1,
     {"outcome": "grace", "generation": "2", "branch": "0"}),
    ("parent of an unused successor, after the grace", (1, 0), GRACE,
     {"outcome": "reissued", "generation": "2", "branch": "1"}),
    ("parent of a used successor", (0, 0), 0, {"outcome": "ended", "reason": "reused", "ended_now": "1"}),
    ("never issued: a branch ahead of the live one", (2, 5), 0, {"outcome": "unknown"}),
    ("never issued: a generation ahead", (7, 0), 0, {"outcome": "unknown"}),
]


@pytest.mark.parametrize(("case", "presented", "later", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_case_against_the_script(store, redis_client, clock, user_id, case, presented, later, expected):
    a = open_session(store, user_id)
    b = store.rotate(a.refresh_token)
    store.rotate(b.refresh_token)
    clock.now += later
    answer = rotate_script(redis_client, clock, user_id, a.session_id, *presented)
    assert {k: answer[k] for k in expected} == expected


def test_the_script_revokes_a_superseded_successor_and_an_older_ancestor(store, redis_client, clock, user_id):
    a = open_session(store, user_id)
    b = store.rotate(a.refresh_token)  # (1, 0)
    clock.now += GRACE
    store.rotate(a.refresh_token)  # a lost answer: (1, 1) supersedes (1, 0)
    assert rotate_script(redis_client, clock, user_id, a.session_id, *position(b.refresh_token)) == {
        "outcome": "ended", "reason": "reused", "ended_now": "1"}
    # Ended: every token answers why, none ends it again.
    assert rotate_script(redis_client, clock, user_id, a.session_id, 1, 1) == {
        "outcome": "ended", "reason": "reused", "ended_now": "0"}
    assert rotate_script(redis_client, clock, user_id, "0" * 32, 0, 0) == {"outcome": "unknown"}


def test_a_lost_answer_never_logs_out_and_the_superseded_successor_revokes(store, user_id, clock):
    first = open_session(store, user_id)
    lost = store.rotate(first.refresh_token)  # the answer never reached the client
    clock.now += GRACE + 5
    retried = store.rotate(first.refresh_token)
    assert retried.refresh_token != lost.refresh_token
    # A quick retry of that late retry gets the same new successor again: the grace counts
    # from the latest answer given for the token.
    clock.now += GRACE - 1
    assert store.rotate(first.refresh_token).refresh_token == retried.refresh_token
    clock.now += GRACE - 1
    assert store.rotate(first.refresh_token).refresh_token == retried.refresh_token
    # The client goes on with its new token; the lost one, if it ever comes back, was a
    # second party's: the session is revoked.
    nxt = store.rotate(retried.refresh_token)
    assert refused(store, lost.refresh_token) == "reused"
    assert refused(store, nxt.refresh_token) == "reused"


def test_a_thief_with_a_copy_of_any_token_is_caught_by_the_next_refresh_of_the_other(store, user_id, clock):
    shared = open_session(store, user_id).refresh_token
    # The thief refreshes first; the user, later, with the same token: indistinguishable from a
    # lost answer, so the user goes on with a new branch and the thief's token is superseded.
    thief = store.rotate(shared)
    clock.now += GRACE
    user = store.rotate(shared)
    assert refused(store, thief.refresh_token) == "reused"
    assert refused(store, user.refresh_token) == "reused"


def test_the_user_first_then_the_thief_after_the_grace(store, user_id, clock):
    shared = open_session(store, user_id).refresh_token
    user = store.rotate(shared)
    clock.now += GRACE
    thief = store.rotate(shared)  # a new branch: the user's token is superseded
    assert refused(store, user.refresh_token) == "reused"
    assert refused(store, thief.refresh_token) == "reused"


def test_logout_all_ends_a_session_whatever_its_state(store, user_id, clock):
    first = open_session(store, user_id)
    store.rotate(first.refresh_token)
    clock.now += GRACE
    reissued = store.rotate(first.refresh_token)
    assert store.revoke_all(user_id) == 1
    assert refused(store, reissued.refresh_token) == "revoked"
    assert refused(store, first.refresh_token) == "revoked"


def test_a_new_login_past_the_limit_ends_the_least_recently_used_session(redis_client, clock, user_id):
    store = make_store(redis_client, clock, max_sessions=3)
    sessions = []
    for _ in range(3):
        sessions.append(open_session(store, user_id))
        clock.now += 1
    used = store.rotate(sessions[0].refresh_token)  # the oldest login, used just now
    newest = open_session(store, user_id)
    assert refused(store, sessions[1].refresh_token) == "evicted"
    assert {s["id"] for s in store.list(user_id)} == {used.session_id, sessions[2].session_id, newest.session_id}
    assert store.rotate(used.refresh_token).session_id == used.session_id
    assert redis_client.zcard(redis_keys.user_sessions_key(user_id)) == 3


def test_expired_sessions_make_room_before_any_is_evicted(redis_client, clock, user_id):
    store = make_store(redis_client, clock, max_sessions=2)
    stale = open_session(store, user_id)
    clock.now += IDLE - 10
    live = open_session(store, user_id)
    clock.now += 10
    open_session(store, user_id)
    assert refused(store, stale.refresh_token) == "expired_idle"
    assert store.rotate(live.refresh_token).session_id == live.session_id


def test_listing_never_removes_and_judges_by_the_store_clock(store, redis_client, clock, user_id):
    issued = open_session(store, user_id)
    index = redis_keys.user_sessions_key(user_id)
    # A replica whose own clock runs ahead lists: nothing leaves the index.
    assert [s["id"] for s in store.list(user_id)] == [issued.session_id]
    clock.now += IDLE
    assert store.list(user_id) == []
    assert redis_client.zcard(index) == 1  # expired, but only a script that ends sessions removes it
    clock.now -= IDLE
    assert store.rotate(issued.refresh_token)
    assert store.revoke_all(user_id) == 1
    assert redis_client.zcard(index) == 0


def test_a_rotation_puts_the_session_back_in_the_index(store, redis_client, user_id):
    issued = open_session(store, user_id)
    index = redis_keys.user_sessions_key(user_id)
    redis_client.delete(index)  # as if an old version of a listing had dropped it
    store.rotate(issued.refresh_token)
    assert store.revoke_all(user_id) == 1


def test_a_session_from_before_hmac_tokens_ends_as_upgraded(store, redis_client, user_id, clock):
    legacy_token = f"{user_id}.{'ab' * 16}.{'Q' * 43}"
    key = redis_keys.session_key(user_id, "ab" * 16)
    now = int(redis_client.time()[0]) * 1000
    redis_client.hset(key, mapping={
        "current": hash_refresh_token(legacy_token), "created_at": now, "last_used_at": now,
        "idle_deadline": now + IDLE * 1000, "abs_deadline": now + 10 * IDLE * 1000, "user_agent": "old"})
    redis_client.zadd(redis_keys.user_sessions_key(user_id), {"ab" * 16: now + 10 * IDLE * 1000})
    assert [s["user_agent"] for s in store.list(user_id)] == ["old"]
    assert refused(store, f"{user_id}.{'ab' * 16}.{'R' * 43}") == "unknown"  # not its token
    assert refused(store, legacy_token) == "upgraded"
    assert store.list(user_id) == []


# --- O(1) memory per session (issue 17) -------------------------------------------------

ROTATIONS = 2000


def session_bytes(redis_client, user_id: str, session_id: str) -> int:
    """MEMORY USAGE of every key a session owns: its hash and the user's index (its only session)."""
    keys = [redis_keys.session_key(user_id, session_id), redis_keys.user_sessions_key(user_id)]
    return sum(int(redis_client.memory_usage(key, samples=0)) for key in keys)


def test_a_session_rotated_2000_times_stays_under_one_kilobyte(redis_client, clock, user_id):
    store = make_store(redis_client, clock, max_age=10**7)
    first = open_session(store, user_id, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120")
    fresh = session_bytes(redis_client, user_id, first.session_id)
    token, history = first.refresh_token, [first.refresh_token]
    for _ in range(ROTATIONS):
        clock.now += 1
        token = store.rotate(token).refresh_token
        history.append(token)
    aged = session_bytes(redis_client, user_id, first.session_id)
    assert aged <= 1024 and aged <= fresh + 16  # only the digits of the counters grow
    assert set(redis_client.scan_iter(match=f"user:{{{user_id}}}:*")) == {
        redis_keys.session_key(user_id, first.session_id).encode(), redis_keys.user_sessions_key(user_id).encode()}
    # A forged token for this live session never ends it; a genuine one 1,500 rotations old does.
    forged = token.rsplit(".", 1)[0] + "." + "A" * 43
    assert refused(store, forged) == "unknown"
    assert refused(store, history[-1500]) == "reused"
    assert refused(store, token) == "reused"


def test_old_tokens_are_recognised_across_a_refresh_key_rotation(redis_client, clock, user_id):
    before = make_store(redis_client, clock, max_age=10**7)
    token = open_session(before, user_id).refresh_token
    history = [token]
    for _ in range(600):
        clock.now += 1
        token = before.rotate(token).refresh_token
        history.append(token)
    # The new key mints; the old one still recognises what it made.
    rotated = RefreshTokenKeys({**OTHER_KEYS.keys, **KEYS.keys})
    after = make_store(redis_client, clock, max_age=10**7, keys=rotated)
    for _ in range(900):
        clock.now += 1
        token = after.rotate(token).refresh_token
        history.append(token)
    assert token.split(".")[2] == OTHER_KEYS.minting_kid
    # A token under a key the server does not hold, and a forged one under a key it holds.
    stranger = make_store(redis_client, clock, keys=RefreshTokenKeys.from_secrets((b"x" * 32,)))
    assert refused(after, stranger._keys.mint(user_id, token.split(".")[1], *position(token))) == "unknown"
    assert refused(after, token.rsplit(".", 1)[0] + "." + "B" * 43) == "unknown"
    # A genuine token from 1,500 rotations ago, made under the old key, revokes the session.
    assert history[-1501].split(".")[2] == KEYS.minting_kid
    assert refused(after, history[-1501]) == "reused"
    assert refused(after, token) == "reused"


def test_a_store_without_the_old_key_refuses_its_tokens_without_revoking(redis_client, clock, user_id):
    before = make_store(redis_client, clock)
    issued = open_session(before, user_id)
    only_new = make_store(redis_client, clock, keys=OTHER_KEYS)
    assert refused(only_new, issued.refresh_token) == "unknown"
    assert before.rotate(issued.refresh_token).session_id == issued.session_id


def test_revoking_with_a_token_needs_one_the_session_issued(store, user_id):
    issued = open_session(store, user_id)
    assert not store.revoke(issued.refresh_token.rsplit(".", 1)[0] + "." + "C" * 43)
    future = KEYS.mint(user_id, issued.session_id, 9, 0)
    assert not store.revoke(future)
    assert store.revoke(issued.refresh_token)
