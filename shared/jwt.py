"""Access-token verification (RFC 9068 profile of RFC 7519) with PyJWT.

A verifier trusts only keys it was configured with: `kid` selects among them, and
the token's own `jwk`, `jku`, `x5u` or `x5c` headers are never read. Only RS256
is accepted, whatever the header says. PyJWT checks the JWS (canonical base64url
segments, the signature) and the registered claims; the RFC 9068 `typ`, `crit`,
the size cap and the types of the time claims are checked here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
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


class TokenVerifier:
    """Checks an access token's signature and claims with trusted public keys alone."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, leeway: int = 30) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._jwt = jwt.PyJWT()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; InvalidTokenError for anything wrong with it."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("the access token is too large")
        if not COMPACT_JWS.fullmatch(token):
            raise InvalidTokenError("the access token is malformed")
        key = self._key_for(_peek_header(token))
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
            raise InvalidTokenError("the access token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("the access token is not valid yet") from None
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
