"""The Redis connection both services use, a single server or a Redis Cluster, and loading their Lua scripts."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, LoadBalancingStrategy, RedisCluster
from redis.commands.core import Script
from redis.retry import Retry

logger = logging.getLogger(__name__)

# What the stores take: every key a script or command touches lies in one hash slot, so
# the same code runs on one server and on a cluster.
RedisClient = redis.Redis | RedisCluster

# redis+cluster://[user:password@]host:port[,host:port...][/]: a Redis Cluster reached
# through any of the listed nodes (rediss+cluster:// for TLS).
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

# How often ReplicaScript reads the cluster's layout again, so that a replica added to the
# cluster takes reads: redis-py reads it only after an error or a redirect.
LAYOUT_MAX_AGE = 30.0

# Timeouts of every connection: a request that cannot reach Redis answers 503 within seconds.
_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 2}


def cluster_nodes(url: str) -> tuple[str, list[tuple[str, int]]] | None:
    """For a redis+cluster:// URL, its first node's URL (credentials, TLS, options) and every
    (host, port) listed; None for any other URL; ValueError when it is malformed."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        return None
    credentials, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:7000
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"names no host:port in {item.strip()!r}")
        nodes.append((host, int(port)))
    if parts.path not in ("", "/", "/0"):
        raise ValueError("can only name database 0 of a cluster")
    first_host = f"[{nodes[0][0]}]" if ":" in nodes[0][0] else nodes[0][0]
    netloc = (credentials + "@" if credentials else "") + f"{first_host}:{nodes[0][1]}"
    return urlunsplit((CLUSTER_SCHEMES[parts.scheme], netloc, "", parts.query, "")), nodes


def connect_redis(url: str, *, socket_timeout: float = _TIMEOUTS["socket_timeout"]) -> RedisClient:
    """A client whose calls fail fast (503) when Redis is away, and reconnect when it is back.

    `socket_timeout` is longer only for a client that blocks on purpose (XREAD BLOCK).

    A cluster client learns the cluster's layout here, so it raises ConnectionError when no
    listed node answers; afterwards it follows failovers and slot moves by itself.
    """
    timeouts = {**_TIMEOUTS, "socket_timeout": socket_timeout}
    cluster = cluster_nodes(url)
    if cluster is None:
        # One immediate retry covers a pooled connection that died with a Redis restart; the
        # default (10 retries with backoff) would hold a request for seconds during an outage.
        # A timeout is not retried: a hung Redis holds a request for one socket_timeout, not two.
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        return redis.Redis.from_url(url, retry=retry, **timeouts)
    # Each retry follows a connection error or CLUSTERDOWN with a fresh CLUSTER SLOTS:
    # the first retry finds a replica promoted after a failover, the second rides out a
    # CLUSTERDOWN during the switch. More would only hold a request while a node is away.
    # (redis-py's cluster client takes only the count from Retry, not the backoff.)
    return _connect_cluster(*cluster, retries=2, socket_timeout=socket_timeout)


def connect_replica_reads(url: str) -> RedisCluster | None:
    """For a redis+cluster:// URL, a client for ReplicaScript: its connections may read from
    replicas (READONLY), and it does not retry, since a failed read goes to the primary at
    once. None for a single server, which has no replicas to read from."""
    cluster = cluster_nodes(url)
    if cluster is None:
        return None
    return _connect_cluster(*cluster, retries=0, load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)


def _connect_cluster(first: str, nodes: list[tuple[str, int]], retries: int, **options: Any) -> RedisCluster:
    try:
        return RedisCluster.from_url(
            first,
            startup_nodes=[ClusterNode(host, port) for host, port in nodes[1:]],  # type: ignore[no-untyped-call]
            retry=Retry(NoBackoff(), retries),
            require_full_coverage=True,
            **{**_TIMEOUTS, **options},
        )
    except redis.exceptions.RedisClusterException as exc:
        raise redis.exceptions.ConnectionError(f"no Redis Cluster node answers: {exc}") from exc


class ReplicaScript:
    """A Lua script that only reads (`#!lua flags=no-writes`), run on a replica of its keys'
    slot, the replicas taken in turn; on the primary when the slot has no replica, when there
    is no replica client (a single server), or when the replica fails to answer.

    redis-py sends a registered script as EVALSHA, which its cluster client routes to the
    primary. Its EVALSHA_RO may go to a replica, but the client first asks a primary for the
    command's keys (COMMAND GETKEYS, a round trip per call in redis-py 8.1), so the replica is
    picked here from the client's slot table. SCRIPT LOAD reaches only primaries, so a
    replica's first call runs EVAL_RO, which caches the script there.
    """

    def __init__(self, primary: RedisClient, replicas: RedisCluster | None, text: str) -> None:
        self._on_primary: Script = primary.register_script(text)
        self._replicas = replicas
        self._text = text
        self._sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        # Monotonic time of the next read of the cluster's layout (the client has just read it).
        self.layout_due = time.monotonic() + LAYOUT_MAX_AGE

    def __call__(self, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        if self._replicas is None:
            return self._on_primary(keys=keys, args=args)
        replicas = self._replicas
        if time.monotonic() >= self.layout_due:
            self.layout_due = time.monotonic() + LAYOUT_MAX_AGE
            try:
                # Not the pools of the listed nodes: other threads may be using them.
                replicas.nodes_manager.initialize(disconnect_startup_nodes_pools=False)
            except redis.exceptions.RedisError as exc:
                logger.warning("could not read the cluster's layout again (%s); using the last one", exc)
        slot = replicas.keyslot(keys[0])  # type: ignore[no-untyped-call]
        node = replicas.nodes_manager.get_node_from_slot(
            slot, load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
        try:
            try:
                return replicas.execute_command(  # type: ignore[no-untyped-call]
                    "EVALSHA_RO", self._sha, len(keys), *keys, *args, target_nodes=node)
            except redis.exceptions.NoScriptError:
                return replicas.execute_command(  # type: ignore[no-untyped-call]
                    "EVAL_RO", self._text, len(keys), *keys, *args, target_nodes=node)
        except redis.exceptions.RedisError as exc:
            # Away, not yet aware of a failover (MOVED), or refusing (MASTERDOWN): the primary
            # answers, and the replica client has read the cluster's layout again meanwhile.
            logger.warning("a read on replica %s failed (%s); reading from the primary", node.name, exc)
            return self._on_primary(keys=keys, args=args)


def load_script(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>`."""
    return resources.files(package).joinpath("lua", name).read_text(encoding="utf-8")
