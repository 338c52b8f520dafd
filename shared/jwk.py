"""RSA public keys as JWKs (RFC 7517/7518) and their RFC 7638 thumbprints, used as `kid`."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _uint_from_b64url(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def rsa_thumbprint(public_key: RSAPublicKey) -> str:
    """RFC 7638 §3: SHA-256 over the required members in lexical order, no whitespace."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwk(public_key: RSAPublicKey) -> dict[str, str]:
    """The JWK of a signing key, with `kid`, `alg` and `use`."""
    numbers = public_key.public_numbers()
    return {
        "kty": "RSA",
        "kid": rsa_thumbprint(public_key),
        "alg": "RS256",
        "use": "sig",
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
    }


def rsa_key_from_jwk(jwk: dict[str, Any]) -> RSAPublicKey:
    """The RSA public key of a JWK; ValueError when it is not an RS256 signing key."""
    if jwk.get("kty") != "RSA" or jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
        raise ValueError("not an RS256 signing key")
    n, e = jwk.get("n"), jwk.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        raise ValueError("JWK lacks n or e")
    return RSAPublicNumbers(_uint_from_b64url(e), _uint_from_b64url(n)).public_key()
