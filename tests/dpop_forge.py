"""Making DPoP proofs in tests (RFC 9449 §4.2), valid ones with PyJWT and broken ones by hand."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from shared.dpop import access_token_hash, jwk_thumbprint
from tests.jwt_forge import b64url

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def new_key(alg: str = "ES256") -> PrivateKey:
    """A fresh key for `alg` (RSA: 2048 bits)."""
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    """The public JWK of `key`, as a proof's `jwk` header carries it."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)


def private_jwk(key: PrivateKey) -> dict[str, Any]:
    """The JWK of `key` with its private members: what a proof must never carry."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return OKPAlgorithm.to_jwk(key, as_dict=True)
    return RSAAlgorithm.to_jwk(key, as_dict=True)


def thumbprint(key: PrivateKey) -> str:
    return jwk_thumbprint(public_jwk(key))


def make_proof(
    key: PrivateKey,
    method: str,
    url: str,
    *,
    alg: str | None = None,
    access_token: str | None = None,
    nonce: str | None = None,
    iat: float | None = None,
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A proof signed by `key` for `method` and `url`; `claims` and `headers` override, `drop` removes."""
    if alg is None:
        alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else (
            "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "RS256")
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time() if iat is None else iat),
    }
    if access_token is not None:
        body["ath"] = access_token_hash(access_token)
    if nonce is not None:
        body["nonce"] = nonce
    body.update(claims or {})
    for name in drop:
        body.pop(name, None)
    all_headers = {"typ": "dpop+jwt", "jwk": public_jwk(key), **(headers or {})}
    return jwt.encode(body, key, algorithm=alg, headers=all_headers)


def forge_proof(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"\x00" * 64) -> str:
    """A proof assembled by hand, whatever PyJWT would refuse to make; the signature is not one."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"
