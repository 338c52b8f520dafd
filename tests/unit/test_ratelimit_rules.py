"""Who a client is limited as, and the rate-limit settings."""

from __future__ import annotations

import pytest

from auth_service.config import AuthConfig, RateLimitConfig
from auth_service.ratelimit import address_subject
from shared.config import ConfigError
from tests.conftest import refresh_key_env, write_private_key


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 seen through an IPv6 socket
        ("", "other"),
        (None, "other"),
        ("not an address", "other"),
    ],
)
def test_address_subject(address, subject):
    assert address_subject(address) == subject


def test_defaults():
    config = RateLimitConfig.from_env({})
    assert (config.login_failures_before_delay, config.login_delay, config.login_delay_max) == (5, 1, 900)
    assert config.login_failure_memory == 43_200
    assert (config.login_per_address, config.register_per_address, config.refresh_per_address) == (60, 30, 600)
    assert config.client_auth_per_address == 30
    # An address stays known to an account as long as a session of its login can live idle.
    assert config.known_address_ttl == 1_209_600
    assert RateLimitConfig.from_env({"REFRESH_TOKEN_TTL": "3600"}).known_address_ttl == 3600


def test_the_client_is_the_socket_peer_unless_proxies_are_trusted(tmp_path, rsa_private_key):
    keys = {"JWT_PRIVATE_KEY_FILE": str(write_private_key(rsa_private_key, tmp_path / "k.pem")),
            **refresh_key_env(tmp_path)}
    assert AuthConfig.from_env(keys).trusted_proxy_count == 0
    assert AuthConfig.from_env({**keys, "TRUSTED_PROXY_COUNT": "2"}).trusted_proxy_count == 2
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_COUNT"):
        AuthConfig.from_env({**keys, "TRUSTED_PROXY_COUNT": "-1"})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LOGIN_FAILURES_BEFORE_DELAY": "0"}, "LOGIN_FAILURES_BEFORE_DELAY"),
        ({"LOGIN_DELAY": "-1"}, "LOGIN_DELAY"),
        ({"LOGIN_DELAY": "60", "LOGIN_DELAY_MAX": "30"}, "LOGIN_DELAY_MAX"),
        ({"LOGIN_FAILURE_MEMORY": "0"}, "LOGIN_FAILURE_MEMORY"),
        ({"LOGIN_ADDRESS_LIMIT": "lots"}, "LOGIN_ADDRESS_LIMIT"),
        ({"REGISTER_ADDRESS_LIMIT": "-3"}, "REGISTER_ADDRESS_LIMIT"),
        ({"REFRESH_ADDRESS_LIMIT": "100000"}, "REFRESH_ADDRESS_LIMIT"),
        ({"CLIENT_AUTH_ADDRESS_LIMIT": "-1"}, "CLIENT_AUTH_ADDRESS_LIMIT"),
    ],
)
def test_a_bad_setting_names_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        RateLimitConfig.from_env(env)
