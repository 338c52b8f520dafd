"""REVOCATION_CHECK=introspect: every token is also asked about at the auth service (RFC 7662).

For a resource service that must never accept a token of an ended session, at the price of
autonomy: while the auth service is away, requests with a token answer 503. An answer is
cached per token for a few seconds (never past the token's expiry), so a client's burst of
calls costs one introspection.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from shared.errors import InvalidTokenError, TemporarilyUnavailableError
from shared.metrics import Metrics
from shared.verify import add_token_check

CACHE_ENTRIES = 100_000  # tokens remembered at most per worker; the least recently used go first
TIMEOUT = 2.0  # seconds for one introspection; the auth service answers in milliseconds
NOT_ACTIVE = "the access token is not active: its session ended, or the auth service does not know it"


class Introspector:
    """Asks the auth service's /introspect about tokens, over one kept-alive connection per thread."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        cache_ttl: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._path = parts.path or "/"
        # RFC 6749 §2.3.1: id and secret are form-encoded before base64.
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._cache_ttl = cache_ttl
        self._now = now
        self._cache: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._local = threading.local()

    def is_active(self, token: str, claims: dict[str, Any]) -> bool:
        """Whether the auth service calls `token` active; TemporarilyUnavailableError when it cannot say."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._now()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(key)
                return cached[1]
        active = self._ask(token)
        until = min(now + self._cache_ttl, float(claims.get("exp", now)))
        with self._cache_lock:
            self._cache[key] = (until, active)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return active

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, timeout=TIMEOUT)
            self._local.connection = connection
        return connection

    def _ask(self, token: str) -> bool:
        body = urlencode({"token": token, "token_type_hint": "access_token"})
        headers = {"Authorization": self._authorization, "Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
        # A kept-alive connection the server closed meanwhile fails once: try a fresh one then.
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("POST", self._path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise TemporarilyUnavailableError("the auth service cannot be asked about the token") from None
        if response.status != 200:
            raise TemporarilyUnavailableError(f"the auth service's introspection answered {response.status}")
        try:
            answer = json.loads(payload)
        except ValueError:
            raise TemporarilyUnavailableError("the auth service's introspection answered no JSON") from None
        return isinstance(answer, dict) and answer.get("active") is True


def init_introspection(app: Any, introspector: Introspector, *, metrics: Metrics) -> None:
    """REVOCATION_CHECK=introspect: refuse every token the auth service does not call active."""
    refused = metrics.counter("introspection_refused_total", "Access tokens the auth service called inactive")

    def refuse_inactive(token: str, claims: dict[str, Any]) -> None:
        if not introspector.is_active(token, claims):
            refused.inc()
            raise InvalidTokenError(NOT_ACTIVE)

    add_token_check(app, refuse_inactive)
