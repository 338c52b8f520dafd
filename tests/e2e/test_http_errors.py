"""Requests gunicorn refuses before Flask sees them get the contract's JSON error too, not an HTML page.

Schemathesis, run against the services under gunicorn, found a 414 answered as HTML.
"""

from __future__ import annotations

import json
import socket

import requests


def assert_json_error(status: int, content_type: str, body: bytes, expected_status: int) -> None:
    assert status == expected_status
    assert content_type == "application/json"
    error = json.loads(body)
    assert error["error"] == "invalid_request" and error["error_description"]


def raw_request(port: int, data: bytes) -> tuple[int, str, bytes]:
    """Send bytes that are not a valid HTTP request; the answer's status, content type and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers["Content-Type"], body


def test_requests_gunicorn_cannot_read_get_json(start_service, e2e_env):
    # One worker: a test this short can stop the service while gunicorn still boots a second
    # worker, and a SIGTERM racing that boot costs the whole 10 s graceful timeout.
    auth = start_service("auth_service", {**e2e_env, "WEB_CONCURRENCY": "1"})
    too_big = [
        ("/healthz?q=" + "a" * 5000, {}, 414),  # a request line over gunicorn's 4094 bytes
        ("/healthz", {"X-Big": "a" * 9000}, 431),  # a header over 8190 bytes
        ("/healthz", {f"X-{i}": "a" for i in range(120)}, 431),  # over 100 headers
    ]
    for path, headers, status in too_big:
        response = requests.get(auth.url + path, headers=headers, timeout=5)
        assert_json_error(response.status_code, response.headers["Content-Type"], response.content, status)
    assert_json_error(*raw_request(auth.port, b"NOT HTTP AT ALL\r\n\r\n"), 400)
