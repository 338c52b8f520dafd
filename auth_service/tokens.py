"""Token minting: RS256 access tokens (RFC 9068) and opaque refresh tokens.

A refresh token reads `<user id>.<session id>.<secret>`: the ids route it to its
session's keys (one Redis Cluster slot), the secret carries 256 random bits.
The store keeps only SHA-256 of the whole token.

A successor token is derived, not drawn: `HMAC-SHA256(key=old token, msg=nonce)`,
the nonce kept in the session. A second, parallel refresh with the same old token
within the grace window thus gets the very same successor, although the store
never held it; a copy of the store alone (nonces and hashes) derives nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple

import jwt

from auth_service.keys import KeyRing
from shared.directory import USER_ID

REFRESH_TOKEN_PATTERN = re.compile(rf"({USER_ID})\.([0-9a-f]{{32}})\.([A-Za-z0-9_-]{{43}})")
SESSION_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class RefreshTokenId(NamedTuple):
    user_id: str
    session_id: str


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_session_id() -> str:
    """A random session id (128 bits)."""
    return secrets.token_hex(16)


def is_session_id(text: str) -> bool:
    """Whether `text` has the form of a session id (what new_session_id makes)."""
    return SESSION_ID_PATTERN.fullmatch(text) is not None


def new_refresh_token(user_id: str, session_id: str) -> str:
    """The first refresh token of a session: 256 random bits."""
    return f"{user_id}.{session_id}.{_b64url(secrets.token_bytes(32))}"


def successor_token(token: str, nonce: str) -> str:
    """The token that replaces `token` when it is spent with `nonce`."""
    user_id, session_id, _ = token.split(".")
    digest = hmac.new(token.encode("ascii"), nonce.encode("ascii"), hashlib.sha256).digest()
    return f"{user_id}.{session_id}.{_b64url(digest)}"


def new_nonce() -> str:
    """A fresh rotation nonce (256 bits)."""
    return secrets.token_hex(32)


def parse_refresh_token(token: object) -> RefreshTokenId | None:
    """The ids a well-formed refresh token names, or None."""
    if not isinstance(token, str):
        return None
    match = REFRESH_TOKEN_PATTERN.fullmatch(token)
    return RefreshTokenId(match[1], match[2]) if match else None


def hash_refresh_token(token: str) -> str:
    """What the store keeps of a refresh token. 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


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
