"""Settings: defaults, casting, and one clear message naming a bad variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from auth_service.config import AuthConfig, HashingConfig
from auth_service.keys import load_key_ring
from auth_service.tokens import load_refresh_keys
from shared.config import ConfigError
from shared.store import cluster_nodes
from tests.conftest import free_port, refresh_key_env, write_private_key, write_public_key


@pytest.fixture
def key_file(tmp_path, rsa_private_key):
    return write_private_key(rsa_private_key, tmp_path / "k.pem")


def test_defaults_are_the_contracts(key_file):
    config = AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent)})
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.access_token_ttl == 900
    assert config.refresh_token_ttl == 1_209_600
    assert config.session_max_age == 2_592_000
    assert config.refresh_reuse_grace == 10
    assert config.hashing == HashingConfig(memory_kib=19_456, iterations=2, lanes=1)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESS_TOKEN_TTL", "soon"),
        ("ACCESS_TOKEN_TTL", "0"),
        ("REFRESH_TOKEN_TTL", "-5"),
        ("SESSION_MAX_AGE", "1.5"),
        ("REFRESH_REUSE_GRACE", "-1"),
        ("REDIS_URL", "http://localhost"),
        ("REDIS_URL", "redis+cluster://10.0.0.1"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:7000,10.0.0.2"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:7000,,10.0.0.2:7000"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:99999"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:7000/2"),
        ("JWT_PRIVATE_KEY_FILE", "/nonexistent/key.pem"),
        ("ARGON2_MEMORY_KIB", "4"),
    ],
)
def test_bad_setting_names_the_variable(key_file, variable, value):
    env = {"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent), variable: value}
    with pytest.raises(ConfigError, match=variable):
        AuthConfig.from_env(env)


@pytest.mark.parametrize("url", ["http://app:s3cret@localhost:6379", "redis+cluster://app:s3cret@10.0.0.1"])
def test_a_bad_redis_url_is_named_without_its_password(key_file, url):
    env = {"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent), "REDIS_URL": url}
    with pytest.raises(ConfigError, match="REDIS_URL") as raised:
        AuthConfig.from_env(env)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "first_node", "nodes"),
    [
        ("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/", "redis://10.0.0.1:7000",
         [("10.0.0.1", 7000), ("10.0.0.2", 7001)]),
        ("redis+cluster://redis-a:6379", "redis://redis-a:6379", [("redis-a", 6379)]),
        ("rediss+cluster://app:s3cret@[fd00::1]:7000,[fd00::2]:7000/0?ssl_cert_reqs=required",
         "rediss://app:s3cret@[fd00::1]:7000?ssl_cert_reqs=required", [("fd00::1", 7000), ("fd00::2", 7000)]),
    ],
)
def test_a_cluster_url_names_its_startup_nodes(key_file, url, first_node, nodes):
    config = AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
        "REDIS_URL": url})
    assert config.redis_url == url
    # The first node's URL carries the credentials, TLS and options to every node.
    assert cluster_nodes(url) == (first_node, nodes)
    assert cluster_nodes("redis://10.0.0.1:6379/0") is None


def test_the_refresh_token_key_file_is_required_and_sessions_are_bounded_by_default(key_file):
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_KEY_FILE is required"):
        AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file)})
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_KEY_FILE: cannot read"):
        AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), "REFRESH_TOKEN_KEY_FILE": "/nonexistent/key"})
    config = AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent)})
    assert config.max_sessions_per_user == 100
    assert load_refresh_keys(config.refresh_token_keys).minting_kid
    with pytest.raises(ConfigError, match="MAX_SESSIONS_PER_USER"):
        AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
                             "MAX_SESSIONS_PER_USER": "0"})


def test_missing_key_file_setting_is_an_error():
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        AuthConfig.from_env({})


def test_a_file_that_is_no_key_is_refused(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    config = AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(bad), **refresh_key_env(bad.parent)})
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        load_key_ring(config.private_key_pems)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("ACCESS_TOKEN_TTL", "soon", "ACCESS_TOKEN_TTL must be a whole number, got 'soon'"),
     ("AUTH_PORT", "70000", "AUTH_PORT must be from 1 to 65535, got 70000")],
)
def test_serve_with_a_bad_setting_prints_one_line_and_exits(key_file, variable, value, message):
    env = {"PATH": "/usr/bin:/bin", "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
        variable: value}
    result = subprocess.run([sys.executable, "-m", "auth_service", "serve"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"config error: {message}"]


def test_serve_with_no_cluster_node_answering_says_so_in_one_line(tmp_path, rsa_private_key):
    env = {"PATH": "/usr/bin:/bin", "JWT_PUBLIC_KEY_FILE": str(write_public_key(rsa_private_key, tmp_path / "p.pem")),
           "REDIS_URL": f"redis+cluster://127.0.0.1:{free_port()}/"}
    result = subprocess.run([sys.executable, "-m", "resource_service", "serve"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: cannot reach Redis at REDIS_URL"]


def test_no_key_material_in_the_reprs_of_the_config_and_the_refresh_keys(key_file):
    # A repr reaches logs and tracebacks (a debugger, pytest's output); the SMTP password is kept out too.
    config = AuthConfig.from_env({"JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
                                  "EMAIL": "on", "SMTP_URL": "smtp://app:s3cret@mail.example.com",
                                  "MAIL_FROM": "auth@example.com", "PUBLIC_URL": "https://app.example.com"})
    refresh_keys = load_refresh_keys(config.refresh_token_keys)
    shown = repr(config) + repr(refresh_keys)
    assert "PRIVATE KEY" not in shown and "s3cret" not in shown
    for text in config.refresh_token_keys:
        assert text.strip().decode() not in shown
    for raw in refresh_keys.keys.values():
        assert repr(raw) not in shown
