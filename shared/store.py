"""The Redis connection both services use, and loading their Lua scripts."""

from __future__ import annotations

from importlib import resources

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect_redis(url: str) -> redis.Redis:
    """A client whose calls fail fast (503) when Redis is away, and reconnect when it is back."""
    # One immediate retry covers a pooled connection that died with a Redis restart; the
    # default (10 retries with backoff) would hold a request for seconds during an outage.
    # A timeout is not retried: a hung Redis holds a request for one socket_timeout, not two.
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2, retry=retry)


def load_script(package: str, name: str) -> str:
    """The text of `<package>/lua/<name>`."""
    return resources.files(package).joinpath("lua", name).read_text(encoding="utf-8")
