"""Trusted public keys for the verifier: PEM files read at start, or a JWKS URL (RFC 7517 §5).

Either way the keys come from configuration, never from a token: a token's `kid`
only selects among them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from shared.config import ConfigError
from shared.jwk import rsa_key_from_jwk, rsa_thumbprint
from shared.jwt import StaticKeys

log = logging.getLogger(__name__)

MIN_KEY_BITS = 2048
MAX_JWKS_BYTES = 64 * 1024  # a key set of dozens of RSA keys; more is not ours


def load_pem_public_keys(
    pems: Iterable[bytes], variable: str = "JWT_PUBLIC_KEY_FILE"
) -> StaticKeys:
    """PEM public keys as StaticKeys keyed by RFC 7638 thumbprint; ConfigError if one is bad."""
    keys: dict[str, RSAPublicKey] = {}
    for pem in pems:
        # The verifying side must never hold a signing key, even by mistake.
        if b"PRIVATE KEY" in pem:
            raise ConfigError(f"{variable}: holds a private key; give the public key only")
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            raise ConfigError(f"{variable}: not a PEM public key") from None
        if not isinstance(key, RSAPublicKey) or key.key_size < MIN_KEY_BITS:
            raise ConfigError(f"{variable}: need an RSA key of {MIN_KEY_BITS} bits or more")
        keys[rsa_thumbprint(key)] = key
    if not keys:
        raise ConfigError(f"{variable} is required but not set")
    return StaticKeys(keys)


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The RS256 signing keys of a JWKS document by kid; other keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        try:
            key = rsa_key_from_jwk(jwk)
        except (ValueError, TypeError):
            continue
        if key.key_size >= MIN_KEY_BITS:
            keys[jwk["kid"]] = key
    return keys


class JwksKeys:
    """Keys fetched from a JWKS URL, cached, refetched on an unknown kid or when old.

    Refetches are rate-limited (at most one per `refetch_interval` seconds) so that
    tokens with made-up kids cannot make us hammer the auth service. A failed fetch
    keeps the keys we had: the auth service being down must not stop verification.
    """

    def __init__(
        self,
        url: str,
        *,
        refetch_interval: float = 30.0,
        max_age: float = 300.0,
        timeout: float = 3.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError("a JWKS URL must be http:// or https://")
        self._url = url
        # What the log names: no userinfo or query, which could carry a credential.
        self._where = f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}{parsed.path}"
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._timeout = timeout
        self._now = now
        self._lock = threading.Lock()
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        with self._lock:
            self._refetch_if_due()

    def get_key(self, kid: str) -> RSAPublicKey | None:
        """The trusted key `kid`, refetching the set first if it is unknown or old."""
        key = self._keys.get(kid)
        if key is not None:
            if self._is_old() and self._lock.acquire(blocking=False):
                # One thread refreshes; the others go on with the keys they have.
                try:
                    self._refetch_if_due()
                finally:
                    self._lock.release()
                key = self._keys.get(kid)
            return key
        with self._lock:
            if kid not in self._keys:
                self._refetch_if_due()
            return self._keys.get(kid)

    def _is_old(self) -> bool:
        return self._fetched_at is None or self._now() - self._fetched_at >= self._max_age

    def _refetch_if_due(self) -> None:
        """Fetch the key set unless we tried within the interval. Call with the lock held."""
        now = self._now()
        if self._tried_at is not None and now - self._tried_at < self._refetch_interval:
            return
        self._tried_at = now
        try:
            keys = parse_jwks(json.loads(self._fetch()))
        except Exception as exc:  # an outage or a bad answer must not fail a request
            log.warning("cannot fetch the JWKS from %s (%s): keeping %d known keys",
                        self._where, type(exc).__name__, len(self._keys))
            return
        if not keys:
            log.warning("the JWKS at %s has no RS256 signing key: keeping %d known keys",
                        self._where, len(self._keys))
            return
        self._keys = keys  # replaced whole, so readers without the lock see one set or the other
        self._fetched_at = now
        log.info("fetched %d keys from %s", len(keys), self._where)

    def _fetch(self) -> bytes:
        return http_get_json(self._url, self._timeout)


def http_get_json(url: str, timeout: float) -> bytes:
    """The body of a GET of `url` (an http(s) URL the caller checked); OSError or ValueError on failure."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        body: bytes = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("the answer is too large")
    return body
