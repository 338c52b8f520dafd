"""Token minting: RS256 access tokens (RFC 9068) and opaque refresh tokens.

A refresh token reads `<user id>.<session id>.<key id>.<generation>.<branch>.<secret>`.
The ids route it to its session's keys (one Redis Cluster slot). The secret is
`HMAC-SHA256(refresh-token key, user id, session id, generation, branch)` under a
server-held key (REFRESH_TOKEN_KEY_FILE, never in Redis) named by the key id: 256 bits
no one can compute without the key. A session keeps only its current generation and
branch, so any token it ever issued is recognised by recomputing its secret, a forged
one fails the HMAC before Redis is asked, and a copy of Redis lets no one refresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import jwt

from auth_service.keys import KeyRing, write_secret_file
from shared.config import ConfigError
from shared.directory import USER_ID

_NUMBER = r"(0|[1-9][0-9]{0,14})"  # one spelling per number: the secret covers its digits
SESSION_ID = "[0-9a-f]{32}"  # what new_session_id makes
REFRESH_TOKEN_PATTERN = re.compile(
    rf"({USER_ID})\.({SESSION_ID})\.([A-Za-z0-9_-]{{8}})\.{_NUMBER}\.{_NUMBER}\.([A-Za-z0-9_-]{{43}})"
)
# Tokens made before refresh tokens were HMACs: `<user id>.<session id>.<256 random bits>`.
LEGACY_REFRESH_TOKEN_PATTERN = re.compile(rf"({USER_ID})\.({SESSION_ID})\.([A-Za-z0-9_-]{{43}})")
SESSION_ID_PATTERN = re.compile(SESSION_ID)
MIN_REFRESH_KEY_BYTES = 32
_MAC_DOMAIN = b"refresh-token/v1"


class RefreshTokenId(NamedTuple):
    user_id: str
    session_id: str


class RefreshTokenParts(NamedTuple):
    """A refresh token whose secret the server's keys confirmed; `generation` and `branch`
    are None for a legacy token (made before HMAC tokens), which only names its session."""

    user_id: str
    session_id: str
    generation: int | None
    branch: int | None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_session_id() -> str:
    """A random session id (128 bits)."""
    return secrets.token_hex(16)


def is_session_id(text: str) -> bool:
    """Whether `text` has the form of a session id (what new_session_id makes)."""
    return SESSION_ID_PATTERN.fullmatch(text) is not None


def refresh_key_id(key: bytes) -> str:
    """The public name of a refresh-token key: 48 bits of a hash of it, in every token it made."""
    return _b64url(hashlib.sha256(b"refresh-token-key-id/" + key).digest())[:8]


@dataclass(frozen=True)
class RefreshTokenKeys:
    """The refresh-token keys: the first makes new tokens, all recognise the ones they made."""

    keys: dict[str, bytes] = field(repr=False)  # key id -> key, the minting key first; never in a repr

    @classmethod
    def from_secrets(cls, secrets_: tuple[bytes, ...]) -> RefreshTokenKeys:
        """From the raw keys, the minting key first; ConfigError when one is too short."""
        if not secrets_ or any(len(key) < MIN_REFRESH_KEY_BYTES for key in secrets_):
            raise ConfigError(f"REFRESH_TOKEN_KEY_FILE: need keys of {MIN_REFRESH_KEY_BYTES} bytes or more")
        return cls({refresh_key_id(key): key for key in secrets_})

    @property
    def minting_kid(self) -> str:
        return next(iter(self.keys))

    def _secret(self, kid: str, user_id: str, session_id: str, generation: int, branch: int) -> bytes:
        message = b"/".join((_MAC_DOMAIN, user_id.encode(), session_id.encode(), b"%d" % generation, b"%d" % branch))
        return hmac.new(self.keys[kid], message, hashlib.sha256).digest()

    def mint(self, user_id: str, session_id: str, generation: int, branch: int) -> str:
        """The refresh token of a session's generation and branch, under the minting key."""
        kid = self.minting_kid
        secret = _b64url(self._secret(kid, user_id, session_id, generation, branch))
        return f"{user_id}.{session_id}.{kid}.{generation}.{branch}.{secret}"

    def verify(self, token: object) -> RefreshTokenParts | None:
        """What a refresh token names when one of our keys made it (or it is a well-formed legacy
        token, checked against the store's hash instead); None for anything else."""
        if not isinstance(token, str):
            return None
        legacy = LEGACY_REFRESH_TOKEN_PATTERN.fullmatch(token)
        if legacy:
            return RefreshTokenParts(legacy[1], legacy[2], None, None)
        match = REFRESH_TOKEN_PATTERN.fullmatch(token)
        if match is None or match[3] not in self.keys:
            return None
        user_id, session_id, kid = match[1], match[2], match[3]
        generation, branch = int(match[4]), int(match[5])
        expected = _b64url(self._secret(kid, user_id, session_id, generation, branch))
        if not hmac.compare_digest(expected, match[6]):
            return None
        return RefreshTokenParts(user_id, session_id, generation, branch)


def parse_refresh_token(token: object) -> RefreshTokenId | None:
    """The ids a well-formed refresh token names (its secret unchecked), or None."""
    if not isinstance(token, str):
        return None
    match = REFRESH_TOKEN_PATTERN.fullmatch(token) or LEGACY_REFRESH_TOKEN_PATTERN.fullmatch(token)
    return RefreshTokenId(match[1], match[2]) if match else None


def hash_refresh_token(token: str) -> str:
    """What the store kept of a legacy refresh token: its SHA-256."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def load_refresh_keys(texts: tuple[bytes, ...]) -> RefreshTokenKeys:
    """Parse key files (base64url of the key, as generate_refresh_key writes them)."""
    try:
        raw = tuple(base64.urlsafe_b64decode(text.strip() + b"=" * (-len(text.strip()) % 4)) for text in texts)
    except ValueError:
        raise ConfigError("REFRESH_TOKEN_KEY_FILE: not a base64url key (see generate-refresh-key)") from None
    return RefreshTokenKeys.from_secrets(raw)


def generate_refresh_key(path: Path) -> str:
    """Write a new 256-bit refresh-token key to `path` (mode 0600, never over a file); its key id."""
    key = secrets.token_bytes(32)
    write_secret_file(path, _b64url(key).encode("ascii") + b"\n")
    return refresh_key_id(key)


class AccessTokenIssuer:
    """Signs access tokens with the key ring's signing key."""

    def __init__(
        self, keys: KeyRing, *, issuer: str, audience: str, ttl: int, now: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self._audience = audience
        self.ttl = ttl
        self._now = now

    def issue(
        self, *, subject: str, email: str, scope: str, session_id: str, email_verified: bool | None = None
    ) -> str:
        """A signed access token with the contract's claims (RFC 9068 §2.2); `email_verified` when
        email is on (None: the claim is left out)."""
        extra: dict[str, object] = {"sid": session_id, "email": email}
        if email_verified is not None:
            extra["email_verified"] = email_verified
        return self._sign(subject, scope, extra)

    def issue_for_client(self, *, client_id: str, scope: str) -> str:
        """An access token for a service client itself (client credentials): no user, no session."""
        # RFC 9068 §2.2: with no resource owner, `sub` names the client; `client_id` says so too.
        return self._sign(client_id, scope, {"client_id": client_id})

    def _sign(self, subject: str, scope: str, extra: dict[str, object]) -> str:
        now = int(self._now())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self._audience,
            "exp": now + self.ttl,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "scope": scope,
            **extra,
        }
        headers = {"typ": "at+jwt", "kid": self._keys.signing_kid}
        return jwt.encode(claims, self._keys.signing_key, algorithm="RS256", headers=headers)
