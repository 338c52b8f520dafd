"""The Redis connection both services use, a single server or a Redis Cluster, and loading their Lua scripts."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

# What the stores take: every key a script or command touches lies in one hash slot, so
# the same code runs on one server and on a cluster.
RedisClient = redis.Redis | RedisCluster

# redis+cluster://[user:password@]host:port[,host:port...][/]: a Redis Cluster reached
# through any of the listed nodes (rediss+cluster:// for TLS).
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

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
    first, nodes = cluster
    try:
        # Each retry follows a connection error or CLUSTERDOWN with a fresh CLUSTER SLOTS:
        # the first retry finds a replica promoted after a failover, the second rides out a
        # CLUSTERDOWN during the switch. More would only hold a request while a node is away.
        # (redis-py's cluster client takes only the count from Retry, not the backoff.)
        return RedisCluster.from_url(
            first,
            startup_nodes=[ClusterNode(host, port) for host, port in nodes[1:]],  # type: ignore[no-untyped-call]
            retry=Retry(NoBackoff(), 2),
            require_full_coverage=True,
            **timeouts,
        )
    except redis.exceptions.RedisClusterException as exc:
        raise redis.exceptions.ConnectionError(f"no Redis Cluster node answers: {exc}") from exc


def load_script(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>`."""
    return resources.files(package).joinpath("lua", name).read_text(encoding="utf-8")
