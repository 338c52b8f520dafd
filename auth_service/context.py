"""What every blueprint of the auth service shares: the app's service objects and the token answer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Response, current_app, jsonify

from auth_service.accounts import AccountStore
from auth_service.clients import ClientStore
from auth_service.events import AuthEvents
from auth_service.flows import AuthFlows, TokenPair
from auth_service.keys import KeyRing
from auth_service.ratelimit import RateLimiter
from auth_service.recovery import EmailVerification
from auth_service.sessions import SessionStore
from auth_service.tokens import AccessTokenIssuer
from shared.dpop import dpop_extension
from shared.revocation import RevocationPublisher
from shared.store import RedisClient


@dataclass(frozen=True)
class AuthServices:
    """What the handlers need, built once per app by create_app."""

    redis: RedisClient
    accounts: AccountStore
    sessions: SessionStore
    clients: ClientStore
    access_tokens: AccessTokenIssuer
    keys: KeyRing
    limits: RateLimiter
    revocations: RevocationPublisher
    events: AuthEvents
    email: EmailVerification | None = None  # None: EMAIL off

    @cached_property
    def flows(self) -> AuthFlows:
        """The use cases over these stores (derived, so a copy with another store gets its own)."""
        return AuthFlows(
            self.accounts, self.sessions, self.clients, self.access_tokens, self.limits, self.revocations, self.email
        )


def services() -> AuthServices:
    """The app's service objects."""
    return current_app.extensions["auth"]  # type: ignore[no-any-return]


def flows() -> AuthFlows:
    """The app's use cases."""
    return services().flows


def proof_key() -> str | None:
    """The thumbprint of the request's DPoP proof at a token endpoint (RFC 9449 §5), None when it
    has none; InvalidDPoPProofError or UseDPoPNonceError when it does not pass."""
    extension = dpop_extension()
    return extension.token_request_key() if extension is not None else None


def no_store(response: Response) -> Response:
    """Token answers are never cached (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def token_response(pair: TokenPair) -> Response:
    """The RFC 6749 §5.1 token answer."""
    return no_store(jsonify(pair.answer()))
