"""Access-token verification (RFC 9068 profile of RFC 7519) with PyJWT.

A verifier trusts only keys it was configured with: `kid` selects among them, and
the token's own `jwk`, `jku`, `x5u` or `x5c` headers are never read. Only RS256
is accepted, whatever the header says. PyJWT checks the JWS (canonical base64url
segments, the signature) and the registered claims; the RFC 9068 `typ`, `crit`,
the size cap and the types of the time claims are checked here.

A token that verified is remembered by its SHA-256 until it expires (`VerifiedTokens`): a
client sends one access token with many requests, and its signature and claims, a pure
function of its bytes and the key, need checking once. Every use still checks the clock
against its time claims and that its key is still trusted; the callers' checks (revocation,
DPoP, scopes) run on every request as before. Only tokens that passed are kept, each under
its own hash: nothing verified for one token ever answers for another.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
import jwt.utils
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from shared.errors import InvalidTokenError

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_TOKEN_LENGTH = 8192  # ours are about 900 bytes; a bigger one is not ours
ALGORITHMS = ["RS256"]  # pinned: never taken from the token
# RFC 7515 §7.1 with unpadded segments (§2): PyJWT also takes `=` padding, a second spelling.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
EXPIRED = "the access token expired"
NOT_YET_VALID = "the access token is not valid yet"


class KeySource(Protocol):
    """Where a verifier finds a trusted public key by `kid`."""

    def get_key(self, kid: str) -> RSAPublicKey | None: ...


class StaticKeys:
    """A fixed set of trusted keys, keyed by kid."""

    def __init__(self, keys: Mapping[str, RSAPublicKey]) -> None:
        self._keys = dict(keys)

    def get_key(self, kid: str) -> RSAPublicKey | None:
        return self._keys.get(kid)


def _peek_header(token: str) -> dict[str, Any]:
    """The JOSE header, only to choose the key: PyJWT decodes the whole token again, strictly.

    Not `jwt.get_unverified_header`, which decodes all three segments (PyJWT 2.15 checks the
    base64url alphabet a character at a time) and so would double the cost of every token.
    """
    try:
        header = json.loads(jwt.utils.base64url_decode(token.partition(".")[0]))
    except (ValueError, RecursionError):  # bad base64, bad JSON, bad UTF-8, nested past the stack
        raise InvalidTokenError("the access token is malformed") from None
    if not isinstance(header, dict):
        raise InvalidTokenError("the access token is malformed")
    return header


def _is_time(value: object) -> bool:
    """A NumericDate (RFC 7519 §2): a finite JSON number. PyJWT would take "123" and True."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


@dataclass(frozen=True)
class _Verified:
    kid: str
    key: RSAPublicKey  # the key it verified with: it counts while the key source still trusts it
    claims: str  # as JSON: each use gets claims of its own, which no caller can change for the next
    not_before: float  # while not_before <= now < not_after, PyJWT's iat, nbf and exp checks pass
    not_after: float


class VerifiedTokens:
    """Tokens that verified, by SHA-256, at most `size` (the oldest go first)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("VerifiedTokens needs room for one token at least")
        self._size = size
        self._entries: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> _Verified | None:
        return self._entries.get(digest)

    def add(self, digest: bytes, entry: _Verified) -> None:
        with self._lock:
            while digest not in self._entries and len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
            self._entries[digest] = entry

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Checks an access token's signature and claims with trusted public keys alone."""

    def __init__(
        self, keys: KeySource, *, issuer: str, audience: str, leeway: int = 30, remember: int = 4096,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`remember`: how many verified tokens to keep (each about 1 KB); `now`: the clock the time
        claims are checked against on every use (PyJWT's own check reads the system clock)."""
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._jwt = jwt.PyJWT()
        self._verified = VerifiedTokens(remember)
        self._now = now

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; InvalidTokenError for anything wrong with it."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("the access token is too large")
        if not COMPACT_JWS.fullmatch(token):
            raise InvalidTokenError("the access token is malformed")
        digest = hashlib.sha256(token.encode("ascii")).digest()
        known = self._verified.get(digest)
        if known is None or self._keys.get_key(known.kid) is not known.key:
            header = _peek_header(token)
            key = self._key_for(header)
            claims = self._decode(token, key)
            not_before = max(int(claims["iat"]), int(claims.get("nbf", claims["iat"]))) - self._leeway
            known = _Verified(header["kid"], key, json.dumps(claims), not_before, int(claims["exp"]) + self._leeway)
            self._verified.add(digest, known)
        # PyJWT checked the time claims against the system clock; every use checks them against ours.
        now = self._now()
        if now >= known.not_after:
            raise InvalidTokenError(EXPIRED)
        if now < known.not_before:
            raise InvalidTokenError(NOT_YET_VALID)
        remembered: dict[str, Any] = json.loads(known.claims)
        return remembered

    def _decode(self, token: str, key: RSAPublicKey) -> dict[str, Any]:
        """PyJWT's checks of the signature and registered claims, and ours of the claims' types."""
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError(EXPIRED) from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError(NOT_YET_VALID) from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError(f"the access token lacks the {exc.claim} claim") from None
        except jwt.InvalidIssuedAtError:
            raise InvalidTokenError("the access token's iat is not a number") from None
        except jwt.DecodeError:
            raise InvalidTokenError("the access token is malformed") from None
        except jwt.PyJWTError:  # bad signature, issuer, audience, sub, jti
            raise InvalidTokenError("the access token is invalid") from None
        for name in TIME_CLAIMS:
            if name in claims and not _is_time(claims[name]):
                raise InvalidTokenError(f"the access token's {name} is not a number")
        if not isinstance(claims.get("scope", ""), str):
            raise InvalidTokenError("the access token is invalid")
        return claims

    def _key_for(self, header: dict[str, Any]) -> RSAPublicKey:
        """The trusted key the header names, after the checks PyJWT does not make."""
        if header.get("alg") != "RS256":
            raise InvalidTokenError("the access token is not signed with RS256")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidTokenError("the token is not an access token (typ at+jwt)")
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension (PyJWT knows b64)
            raise InvalidTokenError("the access token uses an unsupported extension")
        kid = header.get("kid")
        key = self._keys.get_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError("the access token is signed by an unknown key")
        return key
