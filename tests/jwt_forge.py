"""Minting and forging access tokens in tests, with PyJWT or by hand."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.jwk import rsa_thumbprint

ISSUER = "http://auth.test"
AUDIENCE = "resource-service"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def kid_of(key: rsa.RSAPrivateKey) -> str:
    return rsa_thumbprint(key.public_key())


def make_claims(sub: str = "0123456789abcdef0123456789abcdef", *, drop: tuple[str, ...] = (),
                **overrides: Any) -> dict[str, Any]:
    """The contract's claims, valid now; `drop` removes some, keyword arguments override."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": sub, "aud": AUDIENCE, "exp": now + 300, "iat": now,
        "jti": "test-jti", "scope": "users:read", "sid": "f" * 32, "email": "user@example.com",
    }
    claims.update(overrides)
    for name in drop:
        del claims[name]
    return claims


def sign(key: rsa.RSAPrivateKey, claims: dict[str, Any] | None = None, *,
         headers: dict[str, Any] | None = None, algorithm: str = "RS256") -> str:
    """A token signed by `key` with PyJWT; headers default to typ at+jwt and the key's kid."""
    all_headers = {"typ": "at+jwt", "kid": kid_of(key), **(headers or {})}
    if all_headers["kid"] is None:
        del all_headers["kid"]
    # PyJWT drops a `typ` given as None, and adds "JWT" when none is given.
    return jwt.encode(claims or make_claims(), key, algorithm=algorithm, headers=all_headers)


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand, whatever PyJWT would refuse to make."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"
