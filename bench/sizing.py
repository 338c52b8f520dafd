"""What the README's sizing table is made of, measured on one redis-server of its own. Run by hand:

    .venv/bin/python bench/sizing.py

Bytes: INFO used_memory before and after BENCH_USERS (10,000) users, as many sessions, and as
many tombstones (the sessions ended), divided by the count, so that every per-key overhead of
Redis (keyspace and expiry entries, encodings past 128 members) is in it; MEMORY USAGE of one
key of each kind beside it. Redis CPU: the redis-server process's CPU (from /proc, less its idle
rate) and the commands' own time (INFO commandstats) over BENCH_REQUESTS (1,000) refreshes and
pages and 100 logins, made through the services' apps (Flask's test client) as a client would.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import auth_service  # noqa: E402
import resource_service  # noqa: E402
from auth_service.config import AuthConfig  # noqa: E402
from resource_service.config import ResourceConfig  # noqa: E402
from shared import redis_keys  # noqa: E402
from shared.directory import AccountDirectory, email_key, new_user_id  # noqa: E402
from tests.conftest import NO_LIMITS, RedisServer, write_private_key  # noqa: E402

try:  # the HMAC refresh tokens' key (the sessions branch); none before them
    from tests.conftest import refresh_key_env  # type: ignore[attr-defined]
except ImportError:
    def refresh_key_env(directory: Path) -> dict[str, str]:
        return {}

USERS = int(os.environ.get("BENCH_USERS", "10000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))
LOGINS = 100
TICKS = os.sysconf("SC_CLK_TCK")
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"
PASSWORD = "correct horse battery staple"


def used_memory(client) -> int:  # type: ignore[no-untyped-def]
    return int(client.info("memory")["used_memory"])


class RedisCpu:
    """The server's CPU and its commands' time over a stretch of requests, less its idle rate."""

    def __init__(self, server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
        self.server, self.client = server, client
        start, cpu = time.monotonic(), self.cpu()
        time.sleep(2)
        self.idle_per_second = (self.cpu() - cpu) / (time.monotonic() - start)

    def cpu(self) -> float:
        assert self.server.process is not None
        fields = Path(f"/proc/{self.server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def usec(self) -> float:
        return sum(v["usec"] for k, v in self.client.info("commandstats").items() if "config" not in k)

    def measure(self, name: str, count: int, request) -> None:  # type: ignore[no-untyped-def]
        started, cpu, usec = time.monotonic(), self.cpu(), self.usec()
        for i in range(count):
            request(i)
        elapsed = time.monotonic() - started
        busy = self.cpu() - cpu - self.idle_per_second * elapsed
        print(f"{name:<8} Redis CPU {1e6 * busy / count:7.0f} us/request, commands {(self.usec() - usec) / count:6.0f}"
              f" us/request ({count} requests, {1e3 * elapsed / count:.1f} ms each end to end in-process)")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        server = RedisServer(directory / "redis")
        server.start()
        try:
            run(server, directory)
        finally:
            server.stop()


def run(server: RedisServer, directory: Path) -> None:
    import redis

    client = redis.Redis.from_url(server.url, decode_responses=True)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = write_private_key(private, directory / "signing.pem")
    public_file = directory / "public.pem"
    public_file.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {"REDIS_URL": server.url, "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(directory)}
    auth = auth_service.create_app(AuthConfig.from_env({**env, **NO_LIMITS})).test_client()
    resource = resource_service.create_app(ResourceConfig.from_env(
        {"REDIS_URL": server.url, "JWT_PUBLIC_KEY_FILE": str(public_file)})).test_client()

    # One account made as /register makes it (Argon2id at the default cost), the shape copied.
    answer = auth.post("/register", json={"email": "first@example.com", "password": PASSWORD, "name": "First User"})
    assert answer.status_code == 201, answer.get_json()
    first_id = answer.get_json()["id"]
    record = client.hgetall(redis_keys.user_key(first_id))
    print(f"one account: record {client.memory_usage(redis_keys.user_key(first_id), samples=0)} B, email key "
          f"{client.memory_usage(email_key('first@example.com'), samples=0)} B (MEMORY USAGE)")

    before = used_memory(client)
    users = AccountDirectory(client)
    ids = []
    for i in range(USERS):
        user_id = new_user_id()
        email = f"user{i:07d}@example.com"
        client.hset(redis_keys.user_key(user_id), mapping={**record, "id": user_id, "email": email})
        users.claim(email, 1_800_000_000_000 + i, {"id": user_id, "email": email, "name": f"User {i:07d}",
                                                   "created_at": "2026-12-01T10:00:00Z"})
        ids.append(user_id)
    print(f"bytes per user: {(used_memory(client) - before) / USERS:.0f} (used_memory over {USERS:,} users)")

    store = auth.application.extensions["auth"].sessions
    before = no_sessions = used_memory(client)
    tokens = [store.create(user_id, record["password_hash"], USER_AGENT).refresh_token for user_id in ids]
    print(f"bytes per live session: {(used_memory(client) - before) / USERS:.0f} (used_memory over {USERS:,})")
    one = redis_keys.user_sessions_key(ids[0])
    print(f"  one session: {sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(one[:-8] + '*'))}"
          " B (MEMORY USAGE of the user's session keys)")
    for token in tokens:
        store.revoke(token)
    print(f"bytes per tombstone: {(used_memory(client) - no_sessions) / USERS:.0f} (used_memory, the sessions ended)")

    limited = auth_service.create_app(AuthConfig.from_env(env)).test_client()
    keys_before = set(client.scan_iter("*"))
    limited.post("/login", json={"email": "first@example.com", "password": "wrong password!"})
    for key in sorted(set(client.scan_iter("*")) - keys_before):
        print(f"rate-limit key {key}: {client.memory_usage(key, samples=0)} B")

    cpu = RedisCpu(server, client)
    logins = []
    cpu.measure("login", LOGINS, lambda i: logins.append(  # each a user's first live session
        auth.post("/login", json={"email": f"user{i:07d}@example.com", "password": PASSWORD}).get_json()))
    token = logins[-1]["refresh_token"]

    def refresh(_: int) -> None:
        nonlocal token
        answer = auth.post("/refresh", json={"refresh_token": token})
        assert answer.status_code == 200, answer.get_json()
        token = answer.get_json()["refresh_token"]

    cpu.measure("refresh", REQUESTS, refresh)
    bearer = {"Authorization": "Bearer " + logins[-1]["access_token"]}
    cpu.measure("page", REQUESTS, lambda i: resource.get("/users?limit=50", headers=bearer))


if __name__ == "__main__":
    main()
