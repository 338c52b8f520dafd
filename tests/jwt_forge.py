"""Minting and forging access tokens in tests, with PyJWT or by hand."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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


def sign_raw(key: rsa.RSAPrivateKey, header: dict[str, Any], payload: str) -> str:
    """A token correctly signed by `key` over a payload given as JSON text, such as `{"exp": NaN}`,
    which no JSON encoder writes."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload.encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respell_signature(token: str) -> str:
    """The same token with the spare low bits of its signature's last character set: another string
    that decodes to the same signature bytes (342 characters carry 256 bytes and 4 spare bits)."""
    head, body, signature = token.split(".")
    spare_bits = {2: 0b1111, 3: 0b11}[len(signature) % 4]
    last = BASE64URL.index(signature[-1])
    return f"{head}.{body}.{signature[:-1]}{BASE64URL[last | spare_bits]}"


def bad_time_claims(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Signed tokens whose exp, nbf or iat is no finite JSON number, by name."""
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid_of(key)}
    cases: dict[str, str] = {}
    for name in ("exp", "nbf", "iat"):
        for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", '"9999999999"', '"0"',
                        '"1.5e9"', "true", "false", "null", "[]", "{}"):
            claims = make_claims(**{name: "@TIME@"})
            cases[f"{name} {literal}"] = sign_raw(key, header, json.dumps(claims).replace('"@TIME@"', literal))
    return cases
