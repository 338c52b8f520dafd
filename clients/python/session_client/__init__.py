"""A Python client of the services: log in once, send the access token, refresh it when it expires.

A package of its own (`pip install ./clients/python`); it needs `requests`, and PyJWT and
`cryptography` for DPoP.

    client = Client("http://127.0.0.1:8001")
    client.login("ada@example.com", "correct horse battery")
    me = client.get("http://127.0.0.1:8002/me").json()

A call answered 401 because the access token expired (the contract's `WWW-Authenticate`
`error_description` says "expired") is refreshed and sent again, once. Threads share one
client: however many hit an expired token at once, one of them refreshes and the others go
on with its new pair. Tokens never reach a log, an exception or a repr.

`Client(url, dpop=True)` binds the session and its access tokens to an EC P-256 key that
never leaves this process (RFC 9449): every request carries a proof signed with it. With
`dpop_key_file=path` the key is kept in that file (PKCS#8 PEM, mode 0600) and survives a
restart. A server nonce asked for (`use_dpop_nonce`) is taken and the request sent again, once.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

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


def _challenge_params(challenge: str, scheme: str) -> dict[str, str] | None:
    """The auth-params of a `WWW-Authenticate` value of `scheme`, None for another scheme."""
    given, _, params = challenge.strip().partition(" ")
    if given.lower() != scheme:
        return None
    return {name.lower(): value for name, value in _AUTH_PARAM.findall(params)}


def is_expired_challenge(challenge: str) -> bool:
    """Whether a `WWW-Authenticate` value says the access token expired (RFC 6750 §3, RFC 9449 §7.1)."""
    values = _challenge_params(challenge, "bearer") or _challenge_params(challenge, "dpop") or {}
    return values.get("error") == "invalid_token" and "expired" in values.get("error_description", "")


def asks_for_nonce(response: requests.Response) -> bool:
    """Whether the server wants a proof with its nonce (RFC 9449 §8: 400 at the auth service,
    §9: 401 with a DPoP challenge at a resource), and said which in `DPoP-Nonce`."""
    if "DPoP-Nonce" not in response.headers:
        return False
    if response.status_code == 401:
        values = _challenge_params(response.headers.get("WWW-Authenticate", ""), "dpop") or {}
        return values.get("error") == "use_dpop_nonce"
    if response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"
    return False


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _htu(url: str) -> str:
    """The URL a proof names: without query and fragment (RFC 9449 §4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


class DPoPKey:
    """An EC P-256 key pair that signs DPoP proofs (RFC 9449 §4.2); the private key never leaves it."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self._key = private_key or ec.generate_private_key(ec.SECP256R1())
        if not isinstance(self._key.curve, ec.SECP256R1):
            raise ValueError("a DPoP key here is EC P-256")
        self._jwk = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DPoPKey:
        """The key kept in `path`, made and written there (mode 0600, never over a file) when absent.
        ValueError when the file is readable by others than its owner, or holds no P-256 key."""
        file = Path(path)
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ValueError(f"{file} is open to others than its owner: chmod 600 it") from None
            loaded = serialization.load_pem_private_key(file.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{file} holds no EC private key") from None
            return cls(loaded)
        key = cls()
        with os.fdopen(fd, "wb") as f:
            f.write(key._key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ))
        return key

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the public key: what bound tokens carry as `cnf.jkt`."""
        members = "{" + ",".join(f'"{k}":"{self._jwk[k]}"' for k in ("crv", "kty", "x", "y")) + "}"
        return _b64url(hashlib.sha256(members.encode()).digest())

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A fresh proof for one request; with `access_token`, its hash as `ath` (RFC 9449 §4.2)."""
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method.upper(), "htu": _htu(url),
                                  "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = _b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self._jwk})

    def __repr__(self) -> str:
        return f"DPoPKey(thumbprint={self.thumbprint!r})"


@dataclass(frozen=True)
class _TokenPair:
    """One pair from /login or /refresh; `generation` tells which refresh made it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    generation: int
    token_type: str = "Bearer"  # noqa: S105 (a token type, not a password)


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
        self,
        auth_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        dpop: bool = False,
        dpop_key_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """`dpop=True`: a new P-256 key for this client's life; `dpop_key_file`: the key in that file."""
        if dpop_key_file is not None:
            self.dpop_key: DPoPKey | None = DPoPKey.from_file(dpop_key_file)
        else:
            self.dpop_key = DPoPKey() if dpop else None
        # The last nonce each server (scheme://host:port) gave, for the next proof to it.
        self._nonces: dict[str, str] = {}
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
        response = self._auth_post("/login", {"email": email, "password": password})
        if response.status_code != 200:
            raise _refusal(response)
        with self._lock:
            self._store(response)

    def logout(self) -> None:
        """End the session on the server (POST /logout) and forget its tokens."""
        with self._lock:
            if self._pair is None:
                return
            response = self._auth_post("/logout", {"refresh_token": self._pair.refresh_token})
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
        bound = pair.token_type.lower() == "dpop"
        scheme = "DPoP" if bound else "Bearer"
        headers = {**(kwargs.get("headers") or {}), "Authorization": f"{scheme} {pair.access_token}"}
        options = {"timeout": self._timeout, **kwargs, "headers": headers}
        access_token = pair.access_token if bound else None
        return self._with_proof(method, url, options, access_token, send=bound)

    def _auth_post(self, path: str, body: dict[str, str]) -> requests.Response:
        """POST to the auth service, with a proof when this client does DPoP."""
        options = {"json": body, "timeout": self._timeout}
        return self._with_proof("POST", f"{self._auth_url}{path}", options, None, send=self.dpop_key is not None)

    def _with_proof(
        self, method: str, url: str, options: dict[str, Any], access_token: str | None, *, send: bool
    ) -> requests.Response:
        """Send with a fresh DPoP proof when `send`; when the server asks for its nonce, once more with it."""
        if not send or self.dpop_key is None:
            return self._http.request(method, url, **options)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        response: requests.Response | None = None
        for _ in range(2):
            proof = self.dpop_key.proof(method, url, access_token=access_token, nonce=self._nonces.get(origin))
            headers = {**(options.get("headers") or {}), "DPoP": proof}
            response = self._http.request(method, url, **{**options, "headers": headers})
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self._nonces[origin] = nonce  # RFC 9449 §8.2: a fresh one may come with any answer
            if not asks_for_nonce(response):
                break
            response.close()
        assert response is not None
        return response

    def _refresh(self, failed: _TokenPair) -> _TokenPair:
        """A pair newer than `failed`: refreshed here, or by the thread that held the lock before us."""
        with self._lock:
            current = self._current()
            if current.generation != failed.generation:
                return current  # another thread refreshed while this one waited
            log.debug("the access token expired: refreshing the session")
            response = self._auth_post("/refresh", {"refresh_token": current.refresh_token})
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
        self._pair = _TokenPair(
            body["access_token"], body["refresh_token"], self._generation, body.get("token_type", "Bearer")
        )
        return self._pair
