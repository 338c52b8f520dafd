"""The revocation listener against a real redis-server: push, catch-up, restarts, a cluster."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from shared import redis_keys
from shared.revocation import DenyList, RevocationListener, publish_revocation
from shared.store import RedisClient, connect_redis
from tests.conftest import RedisServer

TTL = 900


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def make_listener() -> Iterator[Callable[[str], RevocationListener]]:
    """`make_listener(url)`: a started listener over a fresh deny list; stopped after the test."""
    listeners: list[RevocationListener] = []

    def make(url: str) -> RevocationListener:
        states: list[bool] = []
        listener = RevocationListener(
            lambda: connect_redis(url, socket_timeout=5), DenyList(leeway=30),
            on_state=lambda connected, entries: states.append(connected),
        )
        listener.states = states  # type: ignore[attr-defined]
        listener.ensure_started()
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.stop()


def denies_sid(listener: RevocationListener, sid: str) -> bool:
    return listener.deny_list.denies({"sid": sid, "sub": "u", "iat": time.time()})


def test_a_published_session_reaches_a_running_listener(redis_client, redis_server: RedisServer, make_listener) -> None:
    listener = make_listener(redis_server.url)
    assert listener.wait_caught_up(5) and eventually(lambda: listener.connected)
    assert not denies_sid(listener, "s1")
    publish_revocation(redis_client, sids=["s1"], token_ttl=TTL)
    assert eventually(lambda: denies_sid(listener, "s1"))
    assert not denies_sid(listener, "s2")


def test_a_late_listener_catches_up_before_it_reports_ready(redis_client, redis_server: RedisServer,
                                                           make_listener) -> None:
    # More than one XREAD batch, so the catch-up pages through the backlog.
    pipe = redis_client.pipeline()
    for i in range(2500):
        publish_revocation(pipe, sids=[f"s{i}"], token_ttl=TTL)
    cutoff = int(time.time())
    publish_revocation(pipe, user_id="u1", not_before=cutoff, token_ttl=TTL)
    pipe.execute()
    listener = make_listener(redis_server.url)
    assert listener.wait_caught_up(10)
    # Caught up means everything written before the start is in force at once: no polling.
    assert all(denies_sid(listener, f"s{i}") for i in range(2500))
    assert listener.deny_list.denies({"sid": "other", "sub": "u1", "iat": cutoff - 1})
    assert len(listener.deny_list) == 2501


def test_entries_past_a_token_lifetime_are_not_loaded(redis_client, redis_server: RedisServer, make_listener) -> None:
    # Written by hand with an id from 20 minutes ago: what a stream still holds before trimming.
    old_ms = int((time.time() - 1200) * 1000)
    redis_client.xadd(redis_keys.revocations_key(), {"sids": "old", "ttl": str(TTL)}, id=f"{old_ms}-0")
    publish_revocation(redis_client, sids=["new"], token_ttl=TTL)
    listener = make_listener(redis_server.url)
    assert listener.wait_caught_up(5)
    assert denies_sid(listener, "new") and not denies_sid(listener, "old")
    assert len(listener.deny_list) == 1


def test_short_lived_entries_leave_the_list(redis_client, redis_server: RedisServer, make_listener) -> None:
    listener = make_listener(redis_server.url)
    assert listener.wait_caught_up(5)
    publish_revocation(redis_client, sids=["brief"], token_ttl=1)  # kept 1 s + the 30 s leeway
    assert eventually(lambda: denies_sid(listener, "brief"))
    listener.deny_list._leeway = 0  # type: ignore[attr-defined]  # a later entry needs no skew
    publish_revocation(redis_client, sids=["briefer"], token_ttl=1)
    assert eventually(lambda: denies_sid(listener, "briefer"))
    assert eventually(lambda: not denies_sid(listener, "briefer"), timeout=5)


def test_the_stream_is_trimmed_to_a_token_lifetime(redis_client) -> None:
    key = redis_keys.revocations_key()
    old_ms = int((time.time() - 3600) * 1000)
    for i in range(300):  # approximate trimming drops whole nodes of 100 entries
        redis_client.xadd(key, {"sids": f"old{i}", "ttl": str(TTL)}, id=f"{old_ms}-{i + 1}")
    publish_revocation(redis_client, sids=["new"], token_ttl=TTL)
    assert redis_client.xlen(key) < 300


def test_a_restart_of_redis_disconnects_and_the_listener_catches_up(tmp_path: Path, make_listener) -> None:
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        publish_revocation(client, sids=["before"], token_ttl=TTL)
        listener = make_listener(server.url)
        assert listener.wait_caught_up(5) and denies_sid(listener, "before")
        server.stop()
        assert eventually(lambda: not listener.connected)
        # Away: what was read stays in force, and nothing else is refused.
        assert denies_sid(listener, "before") and not denies_sid(listener, "meanwhile")
        server.start()
        # Written before the listener is back: the resumed read from its last id brings it.
        publish_revocation(client, sids=["meanwhile"], token_ttl=TTL)
        assert eventually(lambda: denies_sid(listener, "meanwhile"))
        assert listener.connected and False in listener.states and listener.states[-1]  # type: ignore[attr-defined]
        client.close()
    finally:
        server.stop()


def test_a_listener_started_while_redis_is_away_does_not_hold_requests(tmp_path: Path, make_listener) -> None:
    server = RedisServer(tmp_path / "redis")  # not started
    listener = make_listener(server.url)
    assert listener.wait_caught_up(5)  # the failed first attempt ends the wait
    assert not listener.connected
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        publish_revocation(client, sids=["s1"], token_ttl=TTL)
        assert eventually(lambda: denies_sid(listener, "s1"))
        client.close()
    finally:
        server.stop()


def test_the_listener_works_through_a_cluster(redis_cluster, cluster_client: RedisClient, make_listener) -> None:
    publish_revocation(cluster_client, sids=["early"], token_ttl=TTL)
    listener = make_listener(redis_cluster.url)
    assert listener.wait_caught_up(10) and denies_sid(listener, "early")
    cutoff = int(time.time())
    publish_revocation(cluster_client, user_id="u9", not_before=cutoff, token_ttl=TTL)
    assert eventually(lambda: listener.deny_list.denies({"sid": "x", "sub": "u9", "iat": cutoff - 1}))
