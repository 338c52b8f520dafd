"""`TokenAuth`: a Flask extension that protects views with the issuer's access tokens.

Any Flask service can use it on its own (README, "Protect your own Flask service"):

    auth = TokenAuth(app, issuer="https://auth.example.com", audience="my-api")

    @app.get("/orders")
    @auth.require("orders:read")
    def orders(): return {"user": auth.claims()["sub"]}

Without `keys`, the trusted keys are the issuer's JWKS, found through its RFC 8414
metadata (shared.discovery) and refetched on an unknown kid or when old, at most once
per interval (shared.jwks.JwksKeys). Both services protect their own endpoints with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request

from shared.discovery import discover_jwks_uri
from shared.dpop import authorization_token, bound_key, dpop_extension, token_refusal
from shared.errors import DPoPChallengeError, InsufficientScopeError, InvalidTokenError, oauth_error_response
from shared.jwks import JwksKeys
from shared.jwt import KeySource, TokenVerifier

EXTENSION = "token_auth"

F = TypeVar("F", bound=Callable[..., Any])


def verify_request_token(verifier: TokenVerifier) -> dict[str, Any]:
    """The claims of the request's access token, sent as Bearer or, bound to a key, as DPoP with a
    proof (RFC 9449 §7): the app's shared.dpop.DPoP extension checks that the way fits the token.
    An app without one takes no DPoP, and refuses bound tokens rather than take them as Bearer.
    Every check of add_token_check runs too, after the proof; a refusal is answered in the scheme
    the token came in."""
    scheme, token = authorization_token(request.headers.get("Authorization"))
    try:
        claims = verifier.verify(token)
    except InvalidTokenError as exc:
        raise in_scheme(scheme, exc) from None
    g.token_claims = claims  # the access log names the caller, refused or not
    extension = dpop_extension()
    if extension is not None:
        extension.check_token_use(scheme, token, claims)
    elif scheme == "dpop" or bound_key(claims) is not None:
        raise token_refusal("this service does not take DPoP-bound tokens")
    # After the proof: a bound token's thief learns nothing of its session, and costs no lookup.
    try:
        for check in current_app.extensions.get(CHECKS, ()):
            check(token, claims)
    except InvalidTokenError as exc:
        raise in_scheme(scheme, exc) from None
    return claims


def in_scheme(scheme: str, refusal: InvalidTokenError) -> InvalidTokenError | DPoPChallengeError:
    """A refusal answered in the scheme the token came with (RFC 9449 §7.1)."""
    return token_refusal(refusal.description) if scheme == "dpop" else refusal


TokenCheck = Callable[[str, dict[str, Any]], None]
CHECKS = "token_checks"


def add_token_check(app: Flask, check: TokenCheck) -> None:
    """Run `check(token, claims)` on every token that verified and came the way its binding wants
    (the DPoP proof checked), before its scopes are looked at;
    it raises InvalidTokenError to refuse one (a revoked session's: shared/revocation.py,
    shared/introspection.py)."""
    app.extensions.setdefault(CHECKS, []).append(check)


def is_user_token(claims: dict[str, Any]) -> bool:
    """Whether a user stands behind the token: a session of a login, not a service client's grant."""
    return "sid" in claims and "client_id" not in claims


class TokenAuth:
    """Requires a valid access token on the views it decorates.

    `TokenAuth(app, issuer=..., audience=...)`, or `TokenAuth()` at import time and
    `init_app(app, issuer=..., audience=...)` in the app factory. `keys` replaces the
    JWKS with keys of one's own (shared.jwks.load_pem_public_keys, StaticKeys);
    `leeway` is the clock skew forgiven, in seconds.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        keys: KeySource | None = None,
        leeway: int = 30,
    ) -> None:
        if app is not None:
            if issuer is None or audience is None:
                raise TypeError("TokenAuth(app, ...) needs issuer= and audience=")
            self.init_app(app, issuer=issuer, audience=audience, keys=keys, leeway=leeway)

    def init_app(
        self, app: Flask, *, issuer: str, audience: str, keys: KeySource | None = None, leeway: int = 30
    ) -> None:
        """Verify `app`'s tokens for `issuer` and `audience`; errors render as RFC 6750 JSON."""
        if keys is None:
            keys = JwksKeys(discover_jwks_uri(issuer))
        app.extensions[EXTENSION] = TokenVerifier(keys, issuer=issuer, audience=audience, leeway=leeway)
        for error in (InvalidTokenError, InsufficientScopeError, DPoPChallengeError):
            app.register_error_handler(error, oauth_error_response)

    def require(self, *scopes: str) -> Callable[[F], F]:
        """Decorate a view to require a valid access token holding every scope in `scopes`."""
        return self._guard(scopes, user=False)

    def require_user(self, *scopes: str) -> Callable[[F], F]:
        """As `require`, and the token must be a user's: a service client's is 403 insufficient_scope."""
        return self._guard(scopes, user=True)

    def _guard(self, scopes: tuple[str, ...], *, user: bool) -> Callable[[F], F]:
        def decorate(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                verifier: TokenVerifier = current_app.extensions[EXTENSION]
                claims = verify_request_token(verifier)
                if user and not is_user_token(claims):
                    raise InsufficientScopeError(description="this needs a user's access token, not a client's")
                granted = set(claims.get("scope", "").split())
                for scope in scopes:
                    if scope not in granted:
                        raise InsufficientScopeError(scope)
                return view(*args, **kwargs)

            return cast(F, wrapper)

        return decorate

    @staticmethod
    def claims() -> dict[str, Any]:
        """The verified claims of the current request (inside a view it protects)."""
        return cast(dict[str, Any], g.token_claims)
