"""Access-token verification (RFC 9068 profile of RFC 7519) and a Flask decorator that requires one.

A verifier trusts only keys it was configured with: `kid` selects among them, and
the token's own `jwk`, `jku`, `x5u` or `x5c` headers are never read. Only RS256
is accepted, whatever the header says.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import current_app, g, request

from shared.errors import InsufficientScopeError, InvalidTokenError

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
MAX_TOKEN_LENGTH = 8192  # ours are about 900 bytes; a bigger one is not ours


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
        """The token's claims; InvalidTokenError for anything wrong with it."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("the access token is too large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidTokenError("the access token is malformed") from None
        if header.get("alg") != "RS256":
            raise InvalidTokenError("the access token is not signed with RS256")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidTokenError("the token is not an access token (typ at+jwt)")
        kid = header.get("kid")
        key = self._keys.get_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError("the access token is signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the access token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("the access token is not valid yet") from None
        except jwt.InvalidTokenError as exc:
            log.info("access token refused: %s", type(exc).__name__)
            raise InvalidTokenError("the access token is invalid") from None
        if not isinstance(claims["sub"], str) or not isinstance(claims.get("scope", ""), str):
            raise InvalidTokenError("the access token is invalid")
        return claims


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


F = TypeVar("F", bound=Callable[..., Any])


def require_token(*scopes: str) -> Callable[[F], F]:
    """Decorate a view to require a valid access token holding every scope in `scopes`.

    The verified claims are in `flask.g.token_claims` (see `token_claims()`).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verifier: TokenVerifier = current_app.extensions["token_verifier"]
            claims = verifier.verify(bearer_token(request.headers.get("Authorization")))
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
