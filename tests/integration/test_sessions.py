"""SessionStore against a real Redis, one server and a cluster, with the store's clock moved by the tests."""

from __future__ import annotations

import threading

import pytest

from auth_service.accounts import AccountStore
from auth_service.config import HashingConfig
from auth_service.flows import TokenPair
from auth_service.passwords import PasswordHasher
from auth_service.sessions import TOMBSTONE_MS, SessionStore
from auth_service.tokens import RefreshTokenKeys
from shared import redis_keys
from shared.errors import InvalidCredentialsError, InvalidGrantError
from tests.conftest import dump_redis
from tests.store_clock import StoreClock

IDLE, MAX_AGE, GRACE = 100, 1000, 10
KEYS = RefreshTokenKeys.from_secrets((b"the sessions tests' refresh key, 32+ bytes",))


@pytest.fixture(params=["server", "cluster"])
def redis_client(request):
    """Every test runs on one redis-server and on a Redis Cluster: the scripts must keep to one slot."""
    # "redis_client" here is the conftest's, which this fixture overrides.
    return request.getfixturevalue("redis_client" if request.param == "server" else "cluster_client")


@pytest.fixture
def clock():
    return StoreClock()


def make_store(redis_client, clock, **settings) -> SessionStore:
    options = {"keys": KEYS, "idle_ttl": IDLE, "max_age": MAX_AGE, "reuse_grace": GRACE, **settings}
    return SessionStore(redis_client, clock_offset=clock, **options)


def make_accounts(redis_client, clock) -> AccountStore:
    return AccountStore(redis_client, PasswordHasher(HashingConfig(8, 1, 1)), clock_offset=clock)


@pytest.fixture
def store(redis_client, clock):
    return make_store(redis_client, clock)


@pytest.fixture
def user_id(redis_client, clock):
    return make_accounts(redis_client, clock).register("alice@example.com", "correct horse")["id"]


def open_session(store, user_id: str, user_agent: str = ""):
    """A login's session: the account's password hash now is the one the login checked."""
    stored = store._redis.hget(redis_keys.user_key(user_id), "password_hash")
    return store.create(user_id, stored.decode() if stored else "", user_agent)


def refused(store, token) -> str:
    """The reason a refresh with `token` is refused."""
    with pytest.raises(InvalidGrantError) as info:
        store.rotate(token)
    return info.value.fields["reason"]


def test_a_refresh_token_is_in_no_repr(store, user_id):
    # What the store and the flows hand around reaches a traceback or a debug line only as its repr.
    issued = store.rotate(open_session(store, user_id).refresh_token)
    pair = TokenPair("an.access.token", "Bearer", 900, issued.refresh_token, 60, "users:read", user_id,
                     issued.session_id)
    assert issued.refresh_token not in repr(issued) and issued.session_id in repr(issued)
    assert issued.refresh_token not in repr(pair) and "an.access.token" not in repr(pair)


def test_rotation_spends_the_token_and_hands_out_a_new_one(store, user_id):
    first = open_session(store, user_id, "agent")
    second = store.rotate(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert (second.user_id, second.session_id) == (user_id, first.session_id)
    assert second.email == "alice@example.com" and second.role == "user"
    third = store.rotate(second.refresh_token)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


def test_parallel_use_within_grace_gets_the_same_successor(store, user_id, clock):
    first = open_session(store, user_id)
    a = store.rotate(first.refresh_token)
    clock.now += GRACE - 1
    b = store.rotate(first.refresh_token)
    assert b.refresh_token == a.refresh_token
    assert len(store.list(user_id)) == 1
    assert store.rotate(a.refresh_token).session_id == first.session_id


def test_reuse_of_a_token_whose_successor_was_used_revokes_the_whole_session(store, user_id, clock):
    first = open_session(store, user_id)
    second = store.rotate(first.refresh_token)
    third = store.rotate(second.refresh_token)
    clock.now += GRACE
    assert refused(store, first.refresh_token) == "reused"
    # The rightful holder of the newest token is refused too, and must log in again.
    assert refused(store, third.refresh_token) == "reused"
    assert store.list(user_id) == []


def test_an_older_ancestor_is_reuse_even_within_the_grace(store, user_id):
    first = open_session(store, user_id)
    second = store.rotate(first.refresh_token)
    store.rotate(second.refresh_token)
    assert refused(store, first.refresh_token) == "reused"
    assert store.list(user_id) == []


def test_grace_zero_gives_a_second_use_a_new_successor_and_superseding_the_first(redis_client, user_id, clock):
    store = make_store(redis_client, clock, reuse_grace=0)
    first = open_session(store, user_id)
    a = store.rotate(first.refresh_token)
    b = store.rotate(first.refresh_token)
    assert b.refresh_token != a.refresh_token
    assert refused(store, a.refresh_token) == "reused"


def test_a_forged_token_for_a_real_session_is_refused_without_revoking(store, user_id):
    first = open_session(store, user_id)
    forged = first.refresh_token[:-43] + "A" * 43
    assert refused(store, forged) == "unknown"
    assert store.rotate(first.refresh_token).session_id == first.session_id


def test_idle_expiry_is_enforced_by_the_server(store, user_id, clock):
    first = open_session(store, user_id)
    clock.now += IDLE - 1
    second = store.rotate(first.refresh_token)  # a refresh resets the idle clock
    clock.now += IDLE - 1
    third = store.rotate(second.refresh_token)
    clock.now += IDLE
    assert refused(store, third.refresh_token) == "expired_idle"
    assert store.list(user_id) == []


def test_absolute_expiry_holds_whatever_happens(store, user_id, clock):
    token = open_session(store, user_id).refresh_token
    for _ in range(MAX_AGE // (IDLE // 2) - 1):
        clock.now += IDLE // 2
        issued = store.rotate(token)
        token = issued.refresh_token
        assert issued.expires_in <= MAX_AGE
    clock.now += IDLE // 2
    assert refused(store, token) == "expired_absolute"


def test_expires_in_is_the_nearer_deadline(redis_client, user_id, clock):
    store = make_store(redis_client, clock, idle_ttl=MAX_AGE)
    issued = open_session(store, user_id)
    assert issued.expires_in == MAX_AGE
    clock.now += MAX_AGE - 10
    # A refresh near the absolute deadline gets only what is left of it.
    assert store.rotate(issued.refresh_token).expires_in in (9, 10)  # 10 s less the time the calls took


def test_redis_forgets_a_session_a_day_after_its_absolute_deadline(store, user_id, redis_client, clock):
    issued = open_session(store, user_id)
    store.rotate(issued.refresh_token)
    key = redis_keys.session_key(user_id, issued.session_id)
    created = int(redis_client.hget(key, "created_at"))
    assert redis_client.pexpiretime(key) == created + MAX_AGE * 1000 + TOMBSTONE_MS
    # The index lives as long as its longest-lived session's idle deadline.
    index = redis_keys.user_sessions_key(user_id)
    assert redis_client.pexpiretime(index) == int(redis_client.hget(key, "idle_deadline"))


def test_logout_revokes_with_the_live_or_a_spent_token_and_is_idempotent(store, user_id):
    first = open_session(store, user_id)
    second = store.rotate(first.refresh_token)
    assert store.revoke(second.refresh_token)
    assert not store.revoke(second.refresh_token)
    assert refused(store, second.refresh_token) == "revoked"
    other = open_session(store, user_id)
    store.rotate(other.refresh_token)
    assert store.revoke(other.refresh_token)  # a spent token still names its session
    assert store.list(user_id) == []


def test_logout_with_a_foreign_secret_revokes_nothing(store, user_id):
    issued = open_session(store, user_id)
    assert not store.revoke(issued.refresh_token[:-43] + "B" * 43)
    assert not store.revoke("garbage")
    assert len(store.list(user_id)) == 1


def test_revoke_all_ends_every_session_of_the_user_only(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    bob = accounts.register("bob@example.com", "correct horse")["id"]
    mine = [open_session(store, user_id) for _ in range(3)]
    store.rotate(mine[0].refresh_token)
    theirs = open_session(store, bob)
    assert store.revoke_all(user_id) == 3
    for issued in mine[1:]:
        assert refused(store, issued.refresh_token) == "revoked"
    assert store.list(user_id) == []
    assert store.rotate(theirs.refresh_token).user_id == bob
    # What stays of the ended sessions is their reason; the index no longer names them.
    for key in redis_client.scan_iter(match=f"user:{{{user_id}}}:session:*"):
        assert redis_client.hget(key, "ended") == b"revoked" and not redis_client.hexists(key, "gen")
    assert redis_client.zcard(redis_keys.user_sessions_key(user_id)) == 0


def test_revoke_by_id_touches_only_the_owners_sessions(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    bob = accounts.register("bob@example.com", "correct horse")["id"]
    theirs = open_session(store, bob)
    assert not store.revoke_by_id(user_id, theirs.session_id)
    assert store.rotate(theirs.refresh_token)
    mine = open_session(store, user_id)
    assert store.revoke_by_id(user_id, mine.session_id)
    assert not store.revoke_by_id(user_id, mine.session_id)


def test_list_shows_live_sessions_oldest_first(store, user_id, clock):
    first = open_session(store, user_id, "phone")
    clock.now += 5
    second = open_session(store, user_id, "laptop")
    clock.now += 5
    store.rotate(first.refresh_token)
    sessions = store.list(user_id)
    assert [s["id"] for s in sessions] == [first.session_id, second.session_id]
    assert [s["user_agent"] for s in sessions] == ["phone", "laptop"]
    assert sessions[0]["last_used_at"] > sessions[0]["created_at"]


def test_no_token_and_no_secret_is_stored(store, user_id, redis_client):
    first = open_session(store, user_id)
    second = store.rotate(first.refresh_token)
    dump = dump_redis(redis_client)
    for token in (first.refresh_token, second.refresh_token):
        assert token.split(".")[-1].encode() not in dump
    for key in KEYS.keys.values():
        assert key not in dump


def test_twenty_parallel_rotations_share_one_successor(store, user_id):
    token = open_session(store, user_id).refresh_token
    barrier = threading.Barrier(20)
    results: list[str] = []

    def spend() -> None:
        barrier.wait()
        results.append(store.rotate(token).refresh_token)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and len(set(results)) == 1
    assert len(store.list(user_id)) == 1


def test_twenty_parallel_rotations_without_grace_leave_one_live_token(redis_client, user_id, clock):
    store = make_store(redis_client, clock, reuse_grace=0)
    token = open_session(store, user_id).refresh_token
    barrier = threading.Barrier(20)
    answers: list[str] = []

    def spend() -> None:
        barrier.wait()
        answers.append(store.rotate(token).refresh_token)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Without a grace each one after the first is a lost-answer retry: a new branch that
    # supersedes the one before. No fork: of the twenty tokens, one is live.
    assert len(set(answers)) == 20
    live = max(answers, key=lambda t: int(t.split(".")[4]))
    superseded = next(t for t in answers if t != live)
    assert refused(store, superseded) == "reused"
    assert refused(store, live) == "reused"
    assert store.list(user_id) == []


def test_a_session_ends_with_its_account(store, user_id, redis_client):
    issued = open_session(store, user_id)
    redis_client.delete(redis_keys.user_key(user_id))
    assert refused(store, issued.refresh_token) == "revoked"
    with pytest.raises(InvalidCredentialsError):
        open_session(store, user_id)


def test_each_refusal_says_why(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    logged_out = open_session(store, user_id)
    store.revoke(logged_out.refresh_token)
    assert refused(store, logged_out.refresh_token) == "revoked"
    idle = open_session(store, user_id)
    clock.now += IDLE
    assert refused(store, idle.refresh_token) == "expired_idle"
    assert refused(store, idle.refresh_token) == "expired_idle"  # and says so again
    other = open_session(store, user_id)
    accounts.change_password(user_id, "a new passphrase")
    assert refused(store, other.refresh_token) == "password_changed"
    assert refused(store, f"{user_id}.{'0' * 32}.{'A' * 43}") == "unknown"
    assert refused(store, "not a token") == "unknown"


def test_a_reuse_is_reported_once_with_who_and_which_session(redis_client, user_id, clock):
    reported = []
    store = make_store(redis_client, clock, reuse_grace=0, on_reuse=lambda uid, sid: reported.append((uid, sid)))
    first = open_session(store, user_id)
    second = store.rotate(first.refresh_token)
    third = store.rotate(second.refresh_token)
    assert refused(store, first.refresh_token) == "reused"
    assert refused(store, third.refresh_token) == "reused"
    assert reported == [(user_id, first.session_id)]


def test_password_change_keeps_the_current_session_and_ends_the_others(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    here, elsewhere = open_session(store, user_id), open_session(store, user_id)
    checked = accounts.check_password(user_id, "correct horse")
    assert accounts.change_password(user_id, "a new passphrase", checked_hash=checked,
                                    keep_session=here.session_id) == 1
    assert store.rotate(here.refresh_token).session_id == here.session_id
    assert refused(store, elsewhere.refresh_token) == "password_changed"
    assert accounts.authenticate("alice@example.com", "a new passphrase")["id"] == user_id
    with pytest.raises(InvalidCredentialsError):
        accounts.authenticate("alice@example.com", "correct horse")


def test_password_change_loses_a_race_with_another_change(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    session = open_session(store, user_id)
    checked = accounts.check_password(user_id, "correct horse")
    accounts.change_password(user_id, "first new passphrase", checked_hash=checked)
    with pytest.raises(InvalidCredentialsError):
        accounts.change_password(user_id, "second new passphrase", checked_hash=checked)
    assert accounts.authenticate("alice@example.com", "first new passphrase")
    assert refused(store, session.refresh_token) == "password_changed"


def test_password_change_can_leave_other_sessions(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    elsewhere = open_session(store, user_id)
    assert accounts.change_password(user_id, "a new passphrase", end_sessions=False) == 0
    assert store.rotate(elsewhere.refresh_token)


def test_a_login_checked_against_a_changed_password_opens_no_session(store, user_id, redis_client, clock):
    accounts = make_accounts(redis_client, clock)
    checked = accounts.authenticate("alice@example.com", "correct horse")["password_hash"]
    accounts.change_password(user_id, "a new passphrase")  # lands while the login verifies
    with pytest.raises(InvalidCredentialsError):
        store.create(user_id, checked)
    assert store.list(user_id) == []


class ChangedWhileRehashing(PasswordHasher):
    """A hasher at a new cost that, when a login upgrades a hash, first lets `change` land: the
    password change another worker makes between the login's verify and its write."""

    change = None

    def hash(self, password: str) -> str:
        change, self.change = self.change, None
        if change:
            change()
        return super().hash(password)


def test_upgrading_a_hash_at_login_never_undoes_a_password_change(store, redis_client, user_id, clock):
    old_cost = AccountStore(redis_client, PasswordHasher(HashingConfig(8, 1, 1)), clock_offset=clock)
    changing = ChangedWhileRehashing(HashingConfig(16, 1, 1))
    changing.change = lambda: old_cost.change_password(user_id, "a new passphrase")
    new_cost = AccountStore(redis_client, changing, clock_offset=clock)
    checked = new_cost.authenticate("alice@example.com", "correct horse")["password_hash"]
    assert checked.startswith("$argon2id$v=19$m=8,")  # the upgrade lost to the change
    with pytest.raises(InvalidCredentialsError):
        store.create(user_id, checked)
    with pytest.raises(InvalidCredentialsError):
        new_cost.authenticate("alice@example.com", "correct horse")
    assert new_cost.authenticate("alice@example.com", "a new passphrase")["id"] == user_id


def test_a_login_upgrades_a_hash_of_an_old_cost(redis_client, user_id, clock):
    old_hash = redis_client.hget(redis_keys.user_key(user_id), "password_hash").decode()
    new_cost = AccountStore(redis_client, PasswordHasher(HashingConfig(16, 1, 1)), clock_offset=clock)
    upgraded = new_cost.authenticate("alice@example.com", "correct horse")["password_hash"]
    assert upgraded.startswith("$argon2id$v=19$m=16,")
    assert redis_client.hget(redis_keys.user_key(user_id), "password_hash").decode() == upgraded != old_hash
