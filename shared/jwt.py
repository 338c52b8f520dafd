"""Access-token verification (RFC 9068 profile of RFC 7519) and a Flask decorator that requires one.

A verifier trusts only keys it was configured with: `kid` selects among them, and
the token's own `jwk`, `jku`, `x5u` or `x5c` headers are never read. Only RS256
is accepted, whatever the header says.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import current_app, g, request

from shared.errors import InsufficientScopeError, InvalidTokenError

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
MAX_TOKEN_LENGTH = 8192  # ours are about 900 bytes; a bigger one is not ours
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


class TokenVerifier:
    """Checks an access token's signature and claims with trusted public keys alone."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, leeway: int = 30) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; InvalidTokenError for anything wrong with it.

        JWS compact serialization (RFC 7515 §7.1) checked by hand: PyJWT's decoder spends
        ~0.5 ms per token validating base64 in Python, six times the RSA verify itself,
        on the path every request of every service takes.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("the access token is too large")
        if not COMPACT_JWS.fullmatch(token):
            raise InvalidTokenError("the access token is malformed")
        encoded_header, encoded_claims, encoded_signature = token.split(".")
        header = _json_segment(encoded_header)
        if header.get("alg") != "RS256":
            raise InvalidTokenError("the access token is not signed with RS256")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidTokenError("the token is not an access token (typ at+jwt)")
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension
            raise InvalidTokenError("the access token uses an unsupported extension")
        kid = header.get("kid")
        key = self._keys.get_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError("the access token is signed by an unknown key")
        signing_input = f"{encoded_header}.{encoded_claims}".encode("ascii")
        try:
            key.verify(_b64decode(encoded_signature), signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise InvalidTokenError("the access token is invalid") from None
        claims = _json_segment(encoded_claims)
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """RFC 7519 §4.1 registered claims, with the configured clock skew."""
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                raise InvalidTokenError(f"the access token lacks the {name} claim")
        now = time.time()
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name, 0)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidTokenError(f"the access token's {name} is not a number")
        if claims["exp"] <= now - self._leeway:
            raise InvalidTokenError("the access token expired")
        if claims["iat"] > now + self._leeway or claims.get("nbf", 0) > now + self._leeway:
            raise InvalidTokenError("the access token is not valid yet")
        if claims["iss"] != self._issuer:
            raise InvalidTokenError("the access token is invalid")
        audience = claims["aud"]
        if not (audience == self._audience or (isinstance(audience, list) and self._audience in audience)):
            raise InvalidTokenError("the access token is invalid")
        if not isinstance(claims["sub"], str) or not isinstance(claims.get("scope", ""), str):
            raise InvalidTokenError("the access token is invalid")


def _b64decode(segment: str) -> bytes:
    # The caller matched the base64url alphabet; a length of 4n+1 is the one impossible length.
    if len(segment) % 4 == 1:
        raise InvalidTokenError("the access token is malformed")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, or nested past the stack
        raise InvalidTokenError("the access token is malformed") from None
    if not isinstance(value, dict):
        raise InvalidTokenError("the access token is malformed")
    return value


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1)."""
    if not authorization:
        raise InvalidTokenError("no access token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidTokenError("the Authorization header is not 'Bearer <token>'")
    return token


def init_verifier(app: Any, verifier: TokenVerifier) -> None:
    """Make `verifier` the one `require_token` uses in `app`."""
    app.extensions["token_verifier"] = verifier


TokenCheck = Callable[[str, dict[str, Any]], None]


def add_token_check(app: Any, check: TokenCheck) -> None:
    """Run `check(token, claims)` on every token that verified, before its scopes are looked at:
    it raises InvalidTokenError to refuse one (a revoked session's, shared/revocation.py)."""
    app.extensions.setdefault("token_checks", []).append(check)


F = TypeVar("F", bound=Callable[..., Any])


def require_token(*scopes: str) -> Callable[[F], F]:
    """Decorate a view to require a valid access token holding every scope in `scopes`.

    The verified claims are in `flask.g.token_claims` (see `token_claims()`).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verifier: TokenVerifier = current_app.extensions["token_verifier"]
            token = bearer_token(request.headers.get("Authorization"))
            claims = verifier.verify(token)
            for check in current_app.extensions.get("token_checks", ()):
                check(token, claims)
            granted = set(claims.get("scope", "").split())
            for scope in scopes:
                if scope not in granted:
                    raise InsufficientScopeError(scope)
            g.token_claims = claims
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def token_claims() -> dict[str, Any]:
    """The verified claims of the current request (inside a `require_token` view)."""
    return cast(dict[str, Any], g.token_claims)
