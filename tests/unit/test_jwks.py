"""The JWKS key source against a small real HTTP server; PEM public keys from files."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.config import ConfigError
from shared.jwk import public_jwk, rsa_thumbprint
from shared.jwks import MAX_JWKS_BYTES, JwksKeys, load_pem_public_keys
from tests.conftest import free_port


class JwksServer:
    """An HTTP server on 127.0.0.1 answering GET /jwks.json with `document`, counting requests."""

    def __init__(self, port: int | None = None) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.body: bytes | None = None  # raw body instead of the document
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                server.requests += 1
                body = server.body if server.body is not None else json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    s = JwksServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def third_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    return public_jwk(key.public_key())


def kid(key: rsa.RSAPrivateKey) -> str:
    return rsa_thumbprint(key.public_key())


def test_keys_are_fetched_once_at_start(server, clock, rsa_private_key):
    server.document = {"keys": [jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, now=clock)
    assert server.requests == 1
    for _ in range(5):
        found = keys.get_key(kid(rsa_private_key))
        assert found is not None
        assert found.public_numbers() == rsa_private_key.public_key().public_numbers()
    assert server.requests == 1


def test_unknown_kid_refetches_once_the_interval_passed(server, clock, rsa_private_key,
                                                        other_rsa_private_key):
    server.document = {"keys": [jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, refetch_interval=30, now=clock)
    server.document = {"keys": [jwk(other_rsa_private_key), jwk(rsa_private_key)]}
    clock.now += 31
    assert keys.get_key(kid(other_rsa_private_key)) is not None
    assert keys.get_key(kid(rsa_private_key)) is not None
    assert server.requests == 2


def test_refetches_are_rate_limited(server, clock, rsa_private_key, other_rsa_private_key):
    server.document = {"keys": [jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, refetch_interval=30, now=clock)
    clock.now += 31
    for n in range(50):
        assert keys.get_key(f"made-up-{n}") is None
    assert server.requests == 2  # the start, and the first unknown kid
    server.document = {"keys": [jwk(other_rsa_private_key)]}
    clock.now += 29
    assert keys.get_key(kid(other_rsa_private_key)) is None
    assert server.requests == 2
    clock.now += 1
    assert keys.get_key(kid(other_rsa_private_key)) is not None
    assert server.requests == 3


def test_parallel_unknown_kids_make_one_fetch(server, clock, rsa_private_key):
    keys = JwksKeys(server.url, now=clock)
    server.document = {"keys": [jwk(rsa_private_key)]}
    clock.now += 31
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(keys.get_key(kid(rsa_private_key))))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.requests == 2
    assert all(r is not None for r in results) and len(results) == 20


def test_old_keys_are_refetched_so_a_removed_key_stops_verifying(server, clock, rsa_private_key,
                                                                  other_rsa_private_key):
    server.document = {"keys": [jwk(other_rsa_private_key), jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, refetch_interval=30, max_age=300, now=clock)
    server.document = {"keys": [jwk(other_rsa_private_key)]}
    clock.now += 299
    assert keys.get_key(kid(rsa_private_key)) is not None
    assert server.requests == 1
    clock.now += 1
    assert keys.get_key(kid(rsa_private_key)) is None
    assert keys.get_key(kid(other_rsa_private_key)) is not None
    assert server.requests == 2


def test_server_down_at_start_then_up(clock, rsa_private_key, caplog):
    port = free_port()
    caplog.set_level(logging.WARNING, logger="shared.jwks")
    keys = JwksKeys(f"http://127.0.0.1:{port}/jwks.json", timeout=1, now=clock)
    assert "cannot fetch the JWKS" in caplog.text
    assert keys.get_key(kid(rsa_private_key)) is None
    server = JwksServer(port)
    try:
        server.document = {"keys": [jwk(rsa_private_key)]}
        assert keys.get_key(kid(rsa_private_key)) is None  # rate-limited after the failed start
        assert server.requests == 0
        clock.now += 30
        assert keys.get_key(kid(rsa_private_key)) is not None
        assert server.requests == 1
    finally:
        server.close()


def test_server_down_later_keeps_the_known_keys(clock, rsa_private_key):
    server = JwksServer()
    server.document = {"keys": [jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, max_age=300, now=clock)
    server.close()
    clock.now += 1000
    assert keys.get_key("unknown") is None
    clock.now += 1000
    assert keys.get_key(kid(rsa_private_key)) is not None


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"status": 404},
        {"body": b"<html>not json</html>"},
        {"body": b"[]"},
        {"body": b'{"keys": "no"}'},
        {"body": b'{"keys": []}'},
        {"body": b'{"keys": [' + b" " * MAX_JWKS_BYTES + b"]}"},
    ],
)
def test_a_bad_answer_keeps_the_known_keys(server, clock, rsa_private_key, other_rsa_private_key,
                                           answer):
    server.document = {"keys": [jwk(rsa_private_key)]}
    keys = JwksKeys(server.url, now=clock)
    server.status = answer.get("status", 200)
    server.body = answer.get("body")
    clock.now += 31
    assert keys.get_key(kid(other_rsa_private_key)) is None
    assert server.requests == 2
    assert keys.get_key(kid(rsa_private_key)) is not None


def test_only_rs256_signing_keys_are_kept(server, clock, rsa_private_key, other_rsa_private_key,
                                          third_key):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_numbers = ec_key.public_key().public_numbers()
    server.document = {"keys": [
        {**jwk(other_rsa_private_key), "use": "enc"},
        {**jwk(third_key), "alg": "RS512"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": str(ec_numbers.x), "y": str(ec_numbers.y)},
        {**jwk(small)},
        {"kty": "RSA", "kid": "broken", "n": "!!!", "e": "AQAB"},
        {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
        {**jwk(rsa_private_key), "kid": 5},
        "not a key",
        {k: v for k, v in jwk(third_key).items() if k != "kid"},
        jwk(rsa_private_key),
    ]}
    keys = JwksKeys(server.url, now=clock)
    assert keys.get_key(kid(rsa_private_key)) is not None
    for other in ("ec", "broken", "no-n", kid(other_rsa_private_key), kid(third_key), kid(small)):
        assert keys.get_key(other) is None


def test_only_http_urls_are_taken():
    with pytest.raises(ValueError):
        JwksKeys("file:///etc/passwd")


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_pem_public_keys_are_keyed_by_thumbprint(rsa_private_key, other_rsa_private_key):
    keys = load_pem_public_keys([pem(rsa_private_key), pem(other_rsa_private_key)])
    assert keys.get_key(kid(rsa_private_key)) is not None
    assert keys.get_key(kid(other_rsa_private_key)) is not None
    assert keys.get_key("other") is None


def test_a_private_key_pem_is_refused(rsa_private_key):
    private_pem = rsa_private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY_FILE.*private key"):
        load_pem_public_keys([private_pem])
    traditional = rsa_private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(ConfigError, match="private key"):
        load_pem_public_keys([pem(rsa_private_key), traditional])


@pytest.mark.parametrize("case", ["garbage", "ec", "small", "none"])
def test_unusable_public_keys_are_config_errors(case):
    pems = {
        "garbage": [b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"],
        "ec": [pem(ec.generate_private_key(ec.SECP256R1()))],
        "small": [pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))],
        "none": [],
    }[case]
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY_FILE"):
        load_pem_public_keys(pems)
