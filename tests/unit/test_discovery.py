"""Finding the JWKS through the issuer's RFC 8414 metadata, against a small real HTTP server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from resource_service.config import ResourceConfig
from shared.config import ConfigError
from shared.discovery import discover_jwks_uri, metadata_url
from tests.conftest import free_port
from tests.unit.test_jwks import JwksServer


@pytest.mark.parametrize(
    ("issuer", "url"),
    [
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001/.well-known/oauth-authorization-server"),
        ("https://auth.example.com/", "https://auth.example.com/.well-known/oauth-authorization-server"),
        # RFC 8414 §3.1: the suffix goes before the issuer's path, not after it.
        ("https://example.com/tenant/1", "https://example.com/.well-known/oauth-authorization-server/tenant/1"),
        ("https://example.com/tenant/", "https://example.com/.well-known/oauth-authorization-server/tenant"),
    ],
)
def test_metadata_url(issuer, url):
    assert metadata_url(issuer) == url


@pytest.mark.parametrize("issuer", ["auth-service", "ftp://example.com", "https://example.com/?tenant=1",
                                    "https://example.com/#x", "file:///etc/passwd"])
def test_an_issuer_that_is_no_http_url_is_refused(issuer):
    with pytest.raises(ConfigError, match="JWT_ISSUER"):
        metadata_url(issuer)


@pytest.fixture
def server():
    s = JwksServer()
    yield s
    s.close()


def issuer_of(server: JwksServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_the_jwks_uri_comes_from_the_issuers_metadata(server):
    issuer = issuer_of(server)
    server.document = {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}
    assert discover_jwks_uri(issuer, wait=1) == f"{issuer}/.well-known/jwks.json"
    assert server.requests == 1


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"issuer": "http://evil.example", "jwks_uri": "http://evil.example/jwks"}, "for the issuer"),
        ({"jwks_uri": "http://127.0.0.1/jwks"}, "for the issuer None"),
        ({"issuer": "ISSUER"}, "no http(s) jwks_uri"),
        ({"issuer": "ISSUER", "jwks_uri": "file:///etc/passwd"}, "no http(s) jwks_uri"),
        (["not", "an", "object"], "not a JSON object"),
    ],
)
def test_metadata_of_another_issuer_or_without_keys_stops_at_once(server, document, says):
    issuer = issuer_of(server)
    server.document = {k: issuer if v == "ISSUER" else v for k, v in document.items()} \
        if isinstance(document, dict) else document
    started = time.monotonic()
    with pytest.raises(ConfigError, match="JWT_ISSUER") as caught:
        discover_jwks_uri(issuer, wait=30)
    assert says in str(caught.value)
    assert time.monotonic() - started < 5  # not retried: a wrong answer is not an outage


def test_an_auth_service_that_comes_up_late_is_waited_for(caplog):
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    servers: list[JwksServer] = []

    def start_late() -> None:
        time.sleep(0.5)
        server = JwksServer(port)
        server.document = {"issuer": issuer, "jwks_uri": f"{issuer}/jwks.json"}
        servers.append(server)

    thread = threading.Thread(target=start_late)
    thread.start()
    try:
        assert discover_jwks_uri(issuer, wait=20) == f"{issuer}/jwks.json"
    finally:
        thread.join()
        for server in servers:
            server.close()
    assert "waiting up to 20 s" in caplog.text


def test_an_auth_service_that_never_answers_is_a_config_error_after_the_wait():
    issuer = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"JWT_ISSUER: no metadata at .* within 1 s \(.*refused"):
        discover_jwks_uri(issuer, wait=1)
    assert 1 <= time.monotonic() - started < 10


def test_an_error_status_is_retried_then_named(server):
    server.status = 503
    with pytest.raises(ConfigError, match=r"within 1 s \(HTTP 503\)"):
        discover_jwks_uri(issuer_of(server), wait=1)
    assert server.requests >= 2


def test_resource_config_key_sources():
    base = {"REDIS_URL": "redis://127.0.0.1:1/0"}
    with pytest.raises(ConfigError, match="at most one of JWT_PUBLIC_KEY_FILE and JWKS_URL"):
        ResourceConfig.from_env({**base, "JWT_PUBLIC_KEY_FILE": "/k.pem", "JWKS_URL": "http://a/jwks"})
    with pytest.raises(ConfigError, match="^JWT_ISSUER is required"):
        ResourceConfig.from_env(base)
    config = ResourceConfig.from_env({**base, "JWT_ISSUER": "https://auth.example.com"})
    assert config.public_key_pems == () and config.jwks_url is None


def test_serve_stops_with_one_line_on_metadata_of_another_issuer(server):
    server.document = {"issuer": "http://elsewhere.example", "jwks_uri": "http://elsewhere.example/jwks"}
    env = {"PATH": "/usr/bin:/bin", "JWT_ISSUER": issuer_of(server), "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run([sys.executable, "-m", "resource_service", "serve"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"config error: JWT_ISSUER: {issuer_of(server)}/.well-known/oauth-authorization-server: "
        "the metadata is for the issuer 'http://elsewhere.example', not this one"
    ]
