"""The auth service's command line, as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from shared import redis_keys
from tests.conftest import CHEAP_ARGON2_ENV

PASSWORD = "a long admin passphrase"


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auth_service", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def test_create_user_needs_only_redis_and_never_echoes_the_password(redis_client, redis_server):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url, **CHEAP_ARGON2_ENV}
    made = cli("create-user", "Root@Example.com", "--admin", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)
    assert user["email"] == "root@example.com" and user["role"] == "admin"
    assert PASSWORD not in made.stdout + made.stderr
    assert redis_client.hget(f"user:{{{user['id']}}}", "role") == b"admin"

    again = cli("create-user", "root@example.com", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert again.returncode == 1 and again.stderr.strip() == "error: this email is already registered"

    demoted = cli("set-role", "root@example.com", "user", env=env)
    assert demoted.returncode == 0
    assert redis_client.hget(f"user:{{{user['id']}}}", "role") == b"user"


def test_create_user_with_a_short_password_is_refused(redis_client, redis_server):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url, **CHEAP_ARGON2_ENV}
    result = cli("create-user", "a@example.com", "--password-stdin", env=env, stdin="short\n")
    assert result.returncode == 1 and "at least 8" in result.stderr


def test_generate_key_writes_a_private_key_once(tmp_path):
    path = tmp_path / "key.pem"
    first = cli("generate-key", str(path), env={"PATH": "/usr/bin:/bin"})
    assert first.returncode == 0 and path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert path.stat().st_mode & 0o777 == 0o600
    second = cli("generate-key", str(path), env={"PATH": "/usr/bin:/bin"})
    assert second.returncode != 0 and "exists" in second.stderr


def test_generate_refresh_key_writes_a_key_once(tmp_path):
    path = tmp_path / "refresh.key"
    first = cli("generate-refresh-key", str(path), env={"PATH": "/usr/bin:/bin"})
    assert first.returncode == 0 and "refresh-token key id" in first.stdout
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text().strip()) == 43
    second = cli("generate-refresh-key", str(path), env={"PATH": "/usr/bin:/bin"})
    assert second.returncode != 0 and "exists" in second.stderr


def test_reset_password_sets_it_and_ends_every_session(redis_client, redis_server):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url, **CHEAP_ARGON2_ENV}
    made = json.loads(cli("create-user", "a@example.com", "--password-stdin", env=env, stdin=PASSWORD + "\n").stdout)
    sessions = redis_keys.user_sessions_key(made["id"])
    redis_client.zadd(sessions, {"s1": 1e13})
    redis_client.hset(redis_keys.session_key(made["id"], "s1"),
                      mapping={"gen": 0, "idle_deadline": 10**13, "abs_deadline": 10**13})
    reset = cli("reset-password", "a@example.com", "--password-stdin", env=env, stdin="a brand new passphrase\n")
    assert reset.returncode == 0 and "1 sessions ended" in reset.stdout
    assert redis_client.hget(redis_keys.session_key(made["id"], "s1"), "ended") == b"password_changed"
    stored = redis_client.hget(redis_keys.user_key(made["id"]), "password_hash")
    assert stored.startswith(b"$argon2id$") and b"brand new" not in stored


def test_create_client_prints_the_secret_once_and_revoke_client_ends_it(redis_client, redis_server):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url}
    made = cli("create-client", "billing", "--scope", "users:read", env=env)
    assert made.returncode == 0, made.stderr
    printed = json.loads(made.stdout)
    assert set(printed) == {"client_id", "client_secret"}
    assert printed["client_secret"] not in made.stderr
    record = redis_client.hgetall(f"client:{{{printed['client_id']}}}")
    assert record[b"name"] == b"billing" and record[b"scope"] == b"users:read"
    assert printed["client_secret"].encode() not in b"".join(record.values())

    revoked = cli("revoke-client", printed["client_id"], env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert redis_client.exists(f"client:{{{printed['client_id']}}}") == 0
    again = cli("revoke-client", printed["client_id"], env=env)
    assert again.returncode == 1 and again.stderr.strip() == f"error: no client {printed['client_id']}"


def test_create_client_refuses_unknown_scopes(redis_client, redis_server):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": redis_server.url}
    result = cli("create-client", "billing", "--scope", "users:read admin", env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: unknown scope 'admin'")
    assert list(redis_client.scan_iter("client:*")) == []
