"""ALLOWED_ORIGINS: exact origins as browsers send them, or the process does not start."""

from __future__ import annotations

import pytest

from auth_service.config import AuthConfig
from resource_service.config import ResourceConfig
from shared.config import ConfigError, env_origins, origin_of


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("https://app.example.com", ("https://app.example.com",)),
        (" https://a.example.com , https://b.example.com:8443,", ("https://a.example.com", "https://b.example.com:8443")),
        ("http://localhost:8000,http://127.0.0.1:8000,http://[::1]:8000",
         ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000")),
        ("https://app.example.com,https://app.example.com", ("https://app.example.com",)),
    ],
)
def test_good_values(value, origins):
    assert env_origins({"ALLOWED_ORIGINS": value}) == origins


@pytest.mark.parametrize(
    "value",
    ["*", "null", "app.example.com", "https://app.example.com/", "https://app.example.com/path",
     "https://App.Example.com", "https://app.example.com:443", "http://localhost:80", "ftp://app.example.com",
     "https://user@app.example.com", "https://app.example.com?x=1", "http://app.example.com",
     "https://", "https://app.example.com:99999", "https://*.example.com"],
)
def test_bad_values_name_the_variable(value):
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        env_origins({"ALLOWED_ORIGINS": value})


@pytest.mark.parametrize("config", [AuthConfig, ResourceConfig])
def test_both_services_refuse_a_bad_value_at_start(config, tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("not read")
    env = {"JWT_PRIVATE_KEY_FILE": str(key), "JWT_PUBLIC_KEY_FILE": str(key), "REFRESH_TOKEN_KEY_FILE": str(key),
           "ALLOWED_ORIGINS": "*"}
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        config.from_env(env)


@pytest.mark.parametrize(
    ("url", "origin"),
    [("http://127.0.0.1:8001", "http://127.0.0.1:8001"), ("https://auth.example.com/", "https://auth.example.com"),
     ("https://AUTH.example.com:443/x", "https://auth.example.com"), ("http://[::1]:8001", "http://[::1]:8001")],
)
def test_the_origin_of_an_issuer(url, origin):
    assert origin_of(url) == origin
