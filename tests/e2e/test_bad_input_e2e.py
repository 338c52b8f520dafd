"""Malformed requests that gunicorn itself reads, sent as raw bytes: a 4xx, never a 500 or a hang,
and the service goes on answering.

Gunicorn refuses what it cannot parse before Flask sees it: a header line over 8190 bytes or
more than 100 headers (431), a request line over 4094 bytes (414), bytes that are no HTTP (400).
Those answers are gunicorn's small HTML pages, not the contract's JSON (see the README).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import requests

from tests.conftest import NO_LIMITS
from tests.e2e.conftest import Service, base_env


@pytest.fixture(scope="module")
def auth_server(redis_server, signing_key_file, tmp_path_factory) -> Iterator[Service]:
    """One auth service for the module: none of these requests changes anything."""
    env = {**base_env(redis_server.url, signing_key_file), **NO_LIMITS}
    service = Service("auth_service", env, tmp_path_factory.mktemp("bad-input") / "auth.log")
    try:
        yield service.start()
    finally:
        service.stop()


class Answer(NamedTuple):
    status: int
    headers: str
    body: bytes


def send_raw(port: int, data: bytes) -> Answer:
    """Send `data` as it is on a new connection; the answer the server gives before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, _, headers = head.decode("latin-1").partition("\r\n")
    return Answer(int(status_line.split(" ")[1]), headers.lower(), body)


def request(method: str, path: bytes, headers: bytes = b"", body: bytes = b"") -> bytes:
    return (method.encode() + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def chunked_login(body: bytes) -> bytes:
    return (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")


JSON = b"Content-Type: application/json\r\n"
LOGIN = b'{"email": "nobody@example.com", "password": "wrong password"}'

# (raw request, status, the contract's error code, or None where gunicorn answers by itself)
CASES = {
    "a header line over 8190 bytes": (request("GET", b"/healthz", b"X-Big: " + b"a" * 9000 + b"\r\n"), 431, None),
    "a bearer token over 8190 bytes": (
        request("GET", b"/sessions", b"Authorization: Bearer " + b"a" * 9000 + b"\r\n"), 431, None),
    "101 headers": (request("GET", b"/healthz", b"".join(b"X-H%d: v\r\n" % i for i in range(101))), 431, None),
    "a request line over 4094 bytes": (request("GET", b"/" + b"a" * 5000), 414, None),
    "raw non-UTF-8 bytes in the path": (request("GET", b"/sessions/\xff\xfe"), 400, None),
    "a NUL in a header": (request("GET", b"/healthz", b"X-A: a\x00b\r\n"), 400, None),
    "percent-encoded non-UTF-8 in the path": (request("DELETE", b"/sessions/%ff%fe"), 401, "invalid_token"),
    "non-UTF-8 bytes in the bearer token": (
        request("GET", b"/sessions", b"Authorization: Bearer \xff\xfe\x80\r\n"), 401, "invalid_token"),
    "a non-UTF-8 body": (request("POST", b"/login", JSON, b'{"email": "\xff@example.com"}'), 400, "invalid_request"),
    "arrays nested 20,000 deep": (request("POST", b"/login", JSON, b"[" * 20_000 + b"]" * 20_000), 400,
                                  "invalid_request"),
    "a Content-Length of a terabyte": (
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + JSON
        + b"Content-Length: 1000000000000\r\n\r\n{}", 413, "request_too_large"),
    "a chunked body": (chunked_login(LOGIN), 401, "invalid_credentials"),
    # Flask's stream stops at 64 KiB without a Content-Length to refuse: the rest must not be cut off unseen.
    "a chunked body over 64 KiB": (chunked_login(LOGIN[:-1] + b" " * 70_000 + b"}garbage"), 413,
                                   "request_too_large"),
}


@pytest.mark.parametrize(("data", "status", "code"), CASES.values(), ids=CASES.keys())
def test_malformed_requests_get_a_4xx_and_the_service_goes_on(auth_server, data, status, code):
    answer = send_raw(auth_server.port, data)
    assert answer.status == status, answer
    if code is not None:
        assert "content-type: application/json" in answer.headers
        assert json.loads(answer.body)["error"] == code
    assert requests.get(f"{auth_server.url}/healthz", timeout=5).status_code == 200
