"""A Python client of the services: log in once, send the access token, refresh it when it expires.

A package of its own (`pip install ./clients/python`); it needs `requests`.

    client = Client("http://127.0.0.1:8001")
    client.login("ada@example.com", "correct horse battery")
    me = client.get("http://127.0.0.1:8002/me").json()

A call answered 401 because the access token expired (the contract's `WWW-Authenticate`
`error_description` says "expired") is refreshed and sent again, once. Threads share one
client: however many hit an expired token at once, one of them refreshes and the others go
on with its new pair. Tokens never reach a log, an exception or a repr.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import requests

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0

# An RFC 7235 §2.1 auth-param with a quoted-string value; our challenges quote every value.
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class ClientError(Exception):
    """The auth service refused a login, refresh or logout; `error` is the contract's code."""

    prefix = ""

    def __init__(self, status: int | None, error: str, description: str) -> None:
        code = error if status is None else f"{status} {error}"
        super().__init__(f"{self.prefix}{code}: {description}")
        self.status = status
        self.error = error
        self.description = description


class SessionEndedError(ClientError):
    """The session ended (revoked, reused elsewhere, expired, logged out) or never began: log in."""

    prefix = "the session ended, log in again: "


def is_expired_challenge(challenge: str) -> bool:
    """Whether a `WWW-Authenticate` value says the access token expired (RFC 6750 §3, the contract)."""
    scheme, _, params = challenge.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    values = {name.lower(): value for name, value in _AUTH_PARAM.findall(params)}
    return values.get("error") == "invalid_token" and "expired" in values.get("error_description", "")


@dataclass(frozen=True)
class _TokenPair:
    """One pair from /login or /refresh; `generation` tells which refresh made it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    generation: int


def _refusal(response: requests.Response, error_class: type[ClientError] = ClientError) -> ClientError:
    """The contract's JSON error of `response` as an exception."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    return error_class(
        response.status_code,
        str(body.get("error", "http_error")),
        str(body.get("error_description", response.reason)),
    )


class Client:
    """Calls the services with a user's access token, refreshing the session as it goes."""

    def __init__(
        self, auth_url: str, *, session: requests.Session | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._auth_url = auth_url.rstrip("/")
        self._http = session or requests.Session()
        self._owns_http = session is None
        self._timeout = timeout
        # Held while a pair is replaced: refreshes are single-flight.
        self._lock = threading.Lock()
        self._pair: _TokenPair | None = None
        self._generation = 0
        # Why there is no pair: what every later call raises until the next login.
        self._ended: tuple[int | None, str, str] = (None, "no_session", "not logged in")

    def login(self, email: str, password: str) -> None:
        """Start a session; ClientError (`invalid_credentials`, ...) when refused."""
        response = self._http.post(
            f"{self._auth_url}/login", json={"email": email, "password": password}, timeout=self._timeout
        )
        if response.status_code != 200:
            raise _refusal(response)
        with self._lock:
            self._store(response)

    def logout(self) -> None:
        """End the session on the server (POST /logout) and forget its tokens."""
        with self._lock:
            if self._pair is None:
                return
            response = self._http.post(
                f"{self._auth_url}/logout",
                json={"refresh_token": self._pair.refresh_token},
                timeout=self._timeout,
            )
            if response.status_code != 204:
                raise _refusal(response)
            self._pair = None
            self._ended = (None, "logged_out", "this client logged out")

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a request with the access token; after a 401 for an expired one, refresh and resend once.

        Takes the keyword arguments of `requests.request`; a body must be sendable twice
        (`json=` or bytes, not a stream). SessionEndedError when the session is over;
        ClientError when the refresh fails otherwise (the auth service is unavailable).
        """
        pair = self._current()
        response = self._send(method, url, pair, kwargs)
        if response.status_code == 401 and is_expired_challenge(response.headers.get("WWW-Authenticate", "")):
            response.close()
            pair = self._refresh(pair)
            response = self._send(method, url, pair, kwargs)
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET `url` with the access token."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        """POST to `url` with the access token."""
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> requests.Response:
        """PATCH `url` with the access token."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        """DELETE `url` with the access token."""
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Close the HTTP session this client made (not one it was given)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _current(self) -> _TokenPair:
        pair = self._pair  # one read: a pair is replaced whole, never changed
        if pair is None:
            raise SessionEndedError(*self._ended)
        return pair

    def _send(self, method: str, url: str, pair: _TokenPair, kwargs: dict[str, Any]) -> requests.Response:
        headers = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {pair.access_token}"}
        options = {"timeout": self._timeout, **kwargs, "headers": headers}
        return self._http.request(method, url, **options)

    def _refresh(self, failed: _TokenPair) -> _TokenPair:
        """A pair newer than `failed`: refreshed here, or by the thread that held the lock before us."""
        with self._lock:
            current = self._current()
            if current.generation != failed.generation:
                return current  # another thread refreshed while this one waited
            log.debug("the access token expired: refreshing the session")
            response = self._http.post(
                f"{self._auth_url}/refresh", json={"refresh_token": current.refresh_token}, timeout=self._timeout
            )
            if response.status_code == 400 and _refusal(response).error == "invalid_grant":
                # Revoked, reused elsewhere or expired: no later call can succeed without a login.
                ended = _refusal(response, SessionEndedError)
                self._pair = None
                self._ended = (ended.status, ended.error, ended.description)
                log.info("the session ended: the auth service refused its refresh token")
                raise ended
            if response.status_code != 200:
                raise _refusal(response)
            return self._store(response)

    def _store(self, response: requests.Response) -> _TokenPair:
        """Keep the pair of a /login or /refresh answer. Call with the lock held."""
        body = response.json()
        self._generation += 1
        self._pair = _TokenPair(body["access_token"], body["refresh_token"], self._generation)
        return self._pair
