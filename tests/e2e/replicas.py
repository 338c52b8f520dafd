"""Auth replicas whose clocks differ (libfaketime), and a TCP proxy in front of them that loses
and delays refresh answers, for the clock-skew and chaos tests."""

from __future__ import annotations

import glob
import itertools
import random
import shutil
import socket
import sys
import threading
import time
from collections import Counter

import pytest

from tests.conftest import free_port


def libfaketime() -> str:
    """The path of libfaketime (Debian package libfaketime, which `faketime` pulls in)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if shutil.which("faketime") is None or not found:
        pytest.fail("faketime is not installed: run `make test`, which installs it (Debian package faketime)")
    return found[0]


def skewed_command(offset_seconds: float) -> list[str]:
    """`python -m auth_service serve` with its clock `offset_seconds` off, by libfaketime preloaded.

    `env` execs the service in its own place, so the process the tests stop is gunicorn itself
    (the `faketime` wrapper would fork, and a SIGTERM to it would orphan the service). The
    monotonic clock moves by the same constant, so durations and timeouts stay true
    (FAKETIME_DONT_FAKE_MONOTONIC would break Python's sleep: EINVAL from clock_nanosleep)."""
    return ["env", f"LD_PRELOAD={libfaketime()}", f"FAKETIME={offset_seconds:+g}s",
            sys.executable, "-m", "auth_service", "serve"]


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP/1.1 request (headers and a Content-Length body) from a client, with its Connection
    header replaced by `close`: the proxy serves one request per connection, and reads an answer
    until the upstream closes (gthread workers keep a connection open otherwise)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    lines = [line for line in head.split(b"\r\n") if line.partition(b":")[0].strip().lower() != b"connection"]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_all(conn: socket.socket) -> bytes:
    """Everything the upstream sends until it closes (the request asked it to: see _read_request)."""
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


class ChaosProxy:
    """Forwards each connection to the next upstream in turn. Of the answers to `POST /refresh`,
    it drops a share (the request is forwarded and answered, then the client's connection is
    closed without the answer) and delays another past the clients' timeout."""

    def __init__(self, upstreams: list[int], *, drop: float, delay: float, delay_seconds: float,
                 seed: int = 11) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstreams = itertools.cycle(upstreams)
        self._drop, self._delay, self._delay_seconds = drop, delay, delay_seconds
        self._rng = random.Random(seed)  # noqa: S311 (chaos, not a secret)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()  # refresh answers passed, dropped, delayed
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _fate(self, request: bytes) -> tuple[int, str]:
        with self._lock:
            upstream = next(self._upstreams)
            if not request.startswith(b"POST /refresh "):
                return upstream, "other"
            roll = self._rng.random()
            fate = "dropped" if roll < self._drop else "delayed" if roll < self._drop + self._delay else "passed"
            self.counts[fate] += 1
            return upstream, fate

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if not request:
                return
            upstream, fate = self._fate(request)
            with socket.create_connection(("127.0.0.1", upstream), timeout=30) as up:
                up.sendall(request)
                answer = _read_all(up)
            if fate == "dropped":
                return  # the server acted; the client never hears of it
            if fate == "delayed":
                time.sleep(self._delay_seconds)
            try:
                conn.sendall(answer)
            except OSError:
                pass  # the client gave up waiting, as it should have

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry number `attempt` (0-based): exponential from 50 ms, capped, jittered."""
    return min(1.5, 0.05 * 3**attempt) * rng.uniform(0.8, 1.2)
