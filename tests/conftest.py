"""Fixtures shared by every test: a real redis-server and Redis Cluster, RSA keys, a low Argon2 cost."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import prometheus_client  # noqa: F401  (its first import picks memory or files: memory, for this process)
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.cluster import RedisCluster

if TYPE_CHECKING:
    from tests.redis_cluster import LocalCluster


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server process of the tests' own, on a free port, in a temp dir."""

    def __init__(self, directory: Path, *extra_args: str) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed: run `make test`, which installs it")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                 "--save", "", "--appendonly", "no", *self.extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start, see {self.directory / 'redis.log'}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole run."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the shared server, its database flushed before the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One Redis Cluster for the whole run: three masters with a replica each (tests/redis_cluster.py)."""
    from tests.redis_cluster import LocalCluster, cluster_unsupported

    reason = cluster_unsupported()
    if reason:
        pytest.skip(reason)
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_client(redis_cluster: LocalCluster) -> Iterator[RedisCluster]:
    """A client of the cluster as the services make it (shared.store), every master flushed before the test."""
    from shared.store import connect_redis

    client = connect_redis(redis_cluster.url)
    assert isinstance(client, RedisCluster)
    client.flushall()
    yield client
    client.close()
    # A RedisCluster made from a URL gives each node a pool that close() leaves open (redis-py 8.1).
    for node in client.get_nodes():
        if node.redis_connection:
            node.redis_connection.connection_pool.disconnect()


def dump_redis(client: redis.Redis | RedisCluster) -> bytes:
    """Every key and every value in the database, as one blob to search for secrets."""
    parts: list[bytes] = []
    for key in client.scan_iter():
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"set":
            parts += list(client.smembers(key))
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"stream":
            for _, fields in client.xrange(key):
                for field, value in fields.items():
                    parts += [field, value]
        else:
            raise AssertionError(f"dump_redis does not know the type {kind!r} of {key!r}")
    return b"\n".join(parts)


class Clock:
    """A clock the test moves by hand (`clock.now += 5`), for the stores' and caches' `now`."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_private_key(key: rsa.RSAPrivateKey, path: Path) -> Path:
    """Write `key` as an unencrypted PKCS#8 PEM file."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def write_public_key(key: rsa.RSAPrivateKey, path: Path) -> Path:
    """Write the public half of `key` as a PEM file."""
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


TEST_REFRESH_KEY = b"refresh-token key of the tests, 32 bytes or more"


def write_refresh_key(path: Path, key: bytes = TEST_REFRESH_KEY) -> Path:
    """Write a refresh-token key file (base64url, as `generate-refresh-key` writes it)."""
    path.write_text(base64.urlsafe_b64encode(key).rstrip(b"=").decode() + "\n")
    return path


def refresh_key_env(directory: Path) -> dict[str, str]:
    """REFRESH_TOKEN_KEY_FILE naming a refresh-token key of the tests', written into `directory`."""
    return {"REFRESH_TOKEN_KEY_FILE": str(write_refresh_key(Path(directory) / "refresh-token.key"))}


# Argon2id at the lowest cost the library takes: tests hash hundreds of passwords.
CHEAP_ARGON2_ENV = {"ARGON2_MEMORY_KIB": "8", "ARGON2_ITERATIONS": "1", "ARGON2_LANES": "1"}

# Every request of the tests comes from 127.0.0.1: load and fuzz runs switch the rate limits off.
NO_LIMITS = {"LOGIN_DELAY": "0", "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0",
             "REFRESH_ADDRESS_LIMIT": "0", "CLIENT_AUTH_ADDRESS_LIMIT": "0"}
