"""Revocation push: ended sessions reach resource services within a second, over one Redis stream.

The auth service appends one entry per ending (`publish_revocation`) to the stream
`redis_keys.revocations_key()`, trimmed to a token lifetime. Each resource worker reads it
in a background thread (`RevocationListener`) with a blocking XREAD from the last entry it
saw, and keeps what it read in memory (`DenyList`) until no token it names can still be valid.

Why a stream read rather than PUBLISH/SUBSCRIBE beside a stream: a blocking XREAD wakes as
soon as an entry is added (the latency of pub/sub), and the same read from the last id seen
is the catch-up after a late start or a reconnection, with no window between "load" and
"subscribe" to lose or double entries in. The publisher makes one write, XADD, which is
atomic by itself: there is no "logged but not published" state. On Redis Cluster the stream
is one key, so one slot on one shard: writers and readers go to that shard's master and
nothing crosses the cluster bus (a classic PUBLISH is broadcast to every node of the
cluster; sharded pub/sub would also live on one shard, with a second key to keep in step).
After a failover the reader reconnects and resumes from its last id on the promoted replica.

Redis away: the listener retries every half second at most, requests verify as they always
did (autonomy first), the entries already read stay in force, and the first read after the
return brings everything written meanwhile.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from shared import redis_keys
from shared.errors import InvalidTokenError
from shared.metrics import Metrics
from shared.serve import WORKER_STARTS
from shared.store import RedisClient, connect_redis
from shared.verify import add_token_check

log = logging.getLogger(__name__)

# Seconds past a token lifetime that the stream keeps an entry: the largest JWT_CLOCK_SKEW a
# resource service may run with, so that every reader's window is covered.
STREAM_SLACK = 300
# Entries a resource worker keeps at most; beyond, the closest to expiry go first (counted).
# A million revocations an hour with 15.5-minute tokens is about 260,000 live entries.
MAX_ENTRIES = 1_000_000
READ_BATCH = 1000  # entries per XREAD
BLOCK_MS = 1000  # how long one XREAD waits for a new entry; the thread checks for a stop between
MAX_BACKOFF = 0.5  # seconds between reconnection attempts at most: the 1 s promise after a return
SESSION_ENDED = "the access token's session has ended (logout, revocation or password change)"


@dataclass(frozen=True)
class Revocation:
    """One stream entry: sessions that ended, and/or a user's cut-off.

    `sids`: sessions that ended; every token naming one is refused.
    `user_id`, `not_before`: every token of that user with `iat` before `not_before` (seconds)
    is refused, except those of the session `keep_sid` (a password change keeps its own).
    `token_ttl`: the longest an affected token may still live after `at` (ACCESS_TOKEN_TTL).
    `at`: when the revocation was written, by the store's clock (the entry id).
    """

    sids: tuple[str, ...] = ()
    user_id: str = ""
    not_before: int = 0
    keep_sid: str = ""
    token_ttl: int = 0
    at: float = 0.0


def revocation_fields(
    *, sids: Iterable[str] = (), user_id: str = "", not_before: int = 0, keep_sid: str = "", token_ttl: int
) -> dict[str, str]:
    """The stream entry's fields (what `parse_entry` reads back)."""
    fields = {"ttl": str(token_ttl)}
    sid_list = " ".join(sids)
    if sid_list:
        fields["sids"] = sid_list
    if user_id:
        fields.update(sub=user_id, nbf=str(not_before), keep=keep_sid)
    return fields


def publish_revocation(
    client: RedisClient,
    *,
    token_ttl: int,
    sids: Iterable[str] = (),
    user_id: str = "",
    not_before: int = 0,
    keep_sid: str = "",
) -> None:
    """Append one revocation to the stream, trimming what no reader can need any more.

    One XADD: either every resource worker will see the entry or none will. Call it right
    after the session store ended the sessions: a crash in between loses only the push (the
    tokens then live to their expiry, as without push); the sessions stay ended.
    """
    fields = revocation_fields(
        sids=sids, user_id=user_id, not_before=not_before, keep_sid=keep_sid, token_ttl=token_ttl
    )
    if "sids" not in fields and not user_id:
        return
    # Approximate trimming (~) drops whole macro-nodes: cheap, and keeps a little more.
    oldest_ms = int((time.time() - token_ttl - STREAM_SLACK) * 1000)
    client.xadd(redis_keys.revocations_key(), fields, minid=oldest_ms, approximate=True)  # type: ignore[arg-type]


class RevocationPublisher:
    """What the auth service tells resource services when sessions end (one XADD each).

    Called right after the store ended the sessions. If Redis fails in between (or the
    process dies), the sessions stay ended and only the push is lost: their access tokens
    then live to their expiry at push-mode resource services, as they would without push.
    That is logged and counted (`on_failure`); the request itself succeeded.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        token_ttl: int,
        now: Callable[[], float] = time.time,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = client
        self._token_ttl = token_ttl
        self._now = now
        self._on_failure = on_failure

    def sessions_ended(self, session_ids: Iterable[str]) -> None:
        """These sessions ended (logout, revoke, reuse detected, eviction)."""
        self._publish(sids=list(session_ids))

    def user_sessions_ended(self, user_id: str, *, keep_sid: str = "", session_ids: Iterable[str] = ()) -> None:
        """Every session of a user ended now but `keep_sid` (logout everywhere, a password change).

        The cut-off refuses the user's tokens issued in an earlier second than now: `iat` has
        whole seconds, and a login just after the cut-off, in the same second, must not be
        refused. The sessions listed (those live just before the ending) cover that second.
        """
        self._publish(sids=list(session_ids), user_id=user_id, not_before=int(self._now()), keep_sid=keep_sid)

    def _publish(self, **fields: Any) -> None:
        try:
            publish_revocation(self._redis, token_ttl=self._token_ttl, **fields)
        except redis.RedisError as exc:
            log.error("a revocation was not published (its tokens live to their expiry): %s", exc)
            self._on_failure()


def parse_entry(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> Revocation | None:
    """A stream entry as a Revocation; None when it is not one (logged)."""
    try:
        raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        text = {key.decode(): value.decode() for key, value in fields.items()}
        return Revocation(
            sids=tuple(text.get("sids", "").split()),
            user_id=text.get("sub", ""),
            not_before=int(text.get("nbf", "0")),
            keep_sid=text.get("keep", ""),
            token_ttl=int(text["ttl"]),
            at=int(raw_id.partition("-")[0]) / 1000,
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        log.warning("skipping a malformed revocation entry %r", entry_id)
        return None


@dataclass(frozen=True)
class _Cutoff:
    not_before: int
    keep_sid: str
    until: float


class DenyList:
    """Revoked sessions and user cut-offs, each kept until no token it affects can be valid.

    One thread writes (the listener), request threads read. Every update is a single dict
    assignment or deletion, atomic under the GIL, so readers take no lock. Entries are
    grouped by the whole second they expire in: per entry, one dict slot and one list slot
    beside its sid (about 200 bytes in all).
    """

    def __init__(self, *, leeway: int, now: Callable[[], float] = time.time, max_entries: int = MAX_ENTRIES) -> None:
        """`leeway`: the verifier's JWT_CLOCK_SKEW, which keeps a token valid that long past its exp."""
        self._leeway = leeway
        self._now = now
        self._max_entries = max_entries
        self._sids: dict[str, int] = {}  # sid -> the second it may be forgotten
        self._cutoffs: dict[str, tuple[_Cutoff, ...]] = {}  # user id -> its cut-offs
        # [second, sids, user ids] in arrival order, which is nearly expiry order.
        self._buckets: deque[tuple[int, list[str], list[str]]] = deque()
        self._size = 0
        self.evicted = 0  # entries dropped by the cap before their time

    def __len__(self) -> int:
        return self._size

    def add(self, revocation: Revocation) -> None:
        """Take in one revocation."""
        until = math.ceil(revocation.at + revocation.token_ttl + self._leeway)
        if until <= self._now():
            return
        if not self._buckets or self._buckets[-1][0] != until:
            self._buckets.append((until, [], []))
        _, sids, users = self._buckets[-1]
        for sid in revocation.sids:
            if self._sids.get(sid, 0) < until:
                self._sids[sid] = until
            sids.append(sid)
        if revocation.user_id:
            cutoff = _Cutoff(revocation.not_before, revocation.keep_sid, until)
            self._cutoffs[revocation.user_id] = (*self._cutoffs.get(revocation.user_id, ()), cutoff)
            users.append(revocation.user_id)
        self._size += len(revocation.sids) + bool(revocation.user_id)
        while self._size > self._max_entries:
            self.evicted += self._drop_bucket()

    def denies(self, claims: Mapping[str, Any]) -> bool:
        """Whether the token with these (verified) claims belongs to a session that ended."""
        now = self._now()
        sid = claims.get("sid")
        if isinstance(sid, str) and self._sids.get(sid, 0) > now:
            return True
        cutoffs = self._cutoffs.get(claims.get("sub", ""))
        if not cutoffs:
            return False
        iat = claims.get("iat", 0)
        return any(c.until > now and iat < c.not_before and sid != c.keep_sid for c in cutoffs)

    def prune(self) -> None:
        """Forget the entries whose tokens have all expired."""
        now = self._now()
        while self._buckets and self._buckets[0][0] <= now:
            self._drop_bucket()

    def _drop_bucket(self) -> int:
        """Forget the oldest bucket, due or not (the cap); how many entries it held."""
        until, sids, users = self._buckets.popleft()
        for sid in sids:
            if self._sids.get(sid, 0) <= until:  # not extended by a later revocation
                self._sids.pop(sid, None)
        for user_id in users:
            kept = tuple(c for c in self._cutoffs.get(user_id, ()) if c.until > until)
            if kept:
                self._cutoffs[user_id] = kept
            else:
                self._cutoffs.pop(user_id, None)
        self._size -= len(sids) + len(users)
        return len(sids) + len(users)


class RevocationListener:
    """The background reader of the revocation stream, one per worker process.

    Started in the process that serves (`ensure_started`: by gunicorn's post_worker_init hook,
    and before each request for other servers), since gunicorn forks its workers from a
    master that built the app, and threads do not survive a fork.
    """

    def __init__(
        self,
        connect: Callable[[], RedisClient],
        deny_list: DenyList,
        *,
        on_state: Callable[[bool, int], None] = lambda connected, entries: None,
        block_ms: int = BLOCK_MS,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        """`connect()` makes the listener's own client, whose socket timeout outlasts `block_ms`;
        `on_state(connected, entries in the deny list)` hears of every change of either."""
        self.deny_list = deny_list
        self._connect = connect
        self._on_state = on_state
        self._reported = (False, -1)
        self._block_ms = block_ms
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._pid = 0
        self._stop = threading.Event()
        self._first_read = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self.last_id = b"0-0"

    def ensure_started(self) -> None:
        """Start the thread in this process unless it runs already."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._first_read = threading.Event()
            self._thread = threading.Thread(target=self._run, name="revocation-listener", daemon=True)
            self._thread.start()

    def wait_caught_up(self, timeout: float) -> bool:
        """Wait until the first catch-up is done or has failed (Redis away); whether it is over."""
        return self._first_read.wait(timeout)

    def stop(self) -> None:
        """Stop the thread of this process and wait for it (tests, shutdown)."""
        self._stop.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=self._block_ms / 1000 + 5)
        self._pid = 0

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        state = (connected, len(self.deny_list))
        if state != self._reported:
            self._reported = state
            self._on_state(*state)

    def _run(self) -> None:
        failures = 0
        client: RedisClient | None = None
        caught_up = False
        while not self._stop.is_set():
            try:
                if client is None:
                    client = self._connect()
                # Non-blocking until the backlog is read, so the first catch-up ends as soon as it can.
                count = self._read(client, block=self._block_ms if caught_up else None)
                failures = 0
                if not caught_up and count < READ_BATCH:
                    caught_up = True
                    self._first_read.set()
                self.deny_list.prune()
                self._set_connected(True)
            except redis.RedisError as exc:
                if self.connected or failures == 0:
                    log.warning("revocation stream unreachable, verifying without it: %s", exc)
                self._set_connected(False)
                self._first_read.set()  # no request waits for a Redis that is away
                caught_up = False
                if client is not None:
                    _close(client)
                    client = None
                failures += 1
                # Full jitter under a low cap: workers spread out, and one is back within the cap.
                self._stop.wait(random.uniform(self._max_backoff / 2, self._max_backoff))  # noqa: S311
        if client is not None:
            _close(client)
        self._set_connected(False)

    def _read(self, client: RedisClient, *, block: int | None) -> int:
        """One XREAD from the last id seen; how many entries it brought."""
        key = redis_keys.revocations_key()
        reply = client.xread({key: self.last_id}, count=READ_BATCH, block=block)
        entries = _stream_entries(reply)
        for entry_id, fields in entries:
            revocation = parse_entry(entry_id, fields)
            if revocation is not None:
                self.deny_list.add(revocation)
            self.last_id = entry_id
        return len(entries)


def _stream_entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of an XREAD reply for one stream (RESP2: [[stream, entries]])."""
    return list(reply[0][1]) if reply else []


def _close(client: RedisClient) -> None:
    try:
        client.close()
        if isinstance(client, RedisCluster):
            # A RedisCluster made from a URL gives each node a pool that close() leaves open.
            for node in client.get_nodes():  # type: ignore[no-untyped-call]
                if node.redis_connection:
                    node.redis_connection.connection_pool.disconnect()
    except redis.RedisError:
        pass


# How long a request waits, once per worker, for the first catch-up: a worker started after a
# revocation must not accept that session's tokens in its first milliseconds.
FIRST_CATCH_UP_WAIT = 1.0


def init_revocation_push(app: Any, redis_url: str, *, leeway: int, metrics: Metrics) -> RevocationListener:
    """REVOCATION_PUSH=redis: refuse the tokens of ended sessions, as the stream tells them."""
    deny_list = DenyList(leeway=leeway)
    connected = metrics.gauge(
        "revocation_push_connected",
        "1 while the workers read the revocation stream; 0 when one cannot reach Redis (verifying without it)",
        "livemin",
    )
    entries = metrics.gauge("revocation_deny_list_entries", "Ended sessions and cut-offs a worker holds", "livemax")
    refused = metrics.counter("revocation_refused_total", "Access tokens refused because their session ended")

    def report(is_connected: bool, size: int) -> None:
        connected.set(int(is_connected))
        entries.set(size)

    listener = RevocationListener(
        lambda: connect_redis(redis_url, socket_timeout=BLOCK_MS / 1000 + 5), deny_list, on_state=report
    )

    def refuse_revoked(token: str, claims: dict[str, Any]) -> None:
        listener.wait_caught_up(FIRST_CATCH_UP_WAIT)
        if deny_list.denies(claims):
            refused.inc()
            raise InvalidTokenError(SESSION_ENDED)

    # At each gunicorn worker's start, so that a worker no request reached yet hears too (and
    # keeps what it heard through an outage); before each request, for any other server.
    app.extensions.setdefault(WORKER_STARTS, []).append(listener.ensure_started)
    app.before_request(listener.ensure_started)
    add_token_check(app, refuse_revoked)
    app.extensions["revocation_listener"] = listener
    return listener
