"""The auth service's use cases: log in, refresh, log out, change a password, issue for a client.

Handlers parse and render; flows decide; stores keep. Each flow that hands out tokens
returns a complete `TokenPair`, which every endpoint (/login, /refresh, /token) only renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auth_service.accounts import AccountStore, scope_for
from auth_service.clients import Client, ClientStore, narrow_scope
from auth_service.ratelimit import RateLimiter
from auth_service.recovery import EmailVerification
from auth_service.sessions import IssuedRefresh, SessionStore
from auth_service.tokens import AccessTokenIssuer, parse_refresh_token
from shared.revocation import RevocationPublisher

BEARER = "Bearer"
DPOP = "DPoP"  # RFC 9449 §5.1: the token type of an access token bound to a key


def token_type(jkt: str | None) -> str:
    """The token type of an access token bound to the key of thumbprint `jkt`, or to none."""
    return DPOP if jkt is not None else BEARER


@dataclass(frozen=True)
class TokenPair:
    """What a token request hands out (RFC 6749 §5.1), and who it was for."""

    access_token: str = field(repr=False)  # the tokens: never in a log line or a traceback
    token_type: str
    expires_in: int
    refresh_token: str | None = field(repr=False)  # None for client credentials (RFC 6749 §4.4.3)
    refresh_expires_in: int | None
    scope: str
    user_id: str | None  # None for a service client
    session_id: str | None

    def answer(self) -> dict[str, Any]:
        """The token answer's JSON members, in the contract's order; no refresh members without one."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
            body["refresh_expires_in"] = self.refresh_expires_in
        body["scope"] = self.scope
        return body


@dataclass(frozen=True)
class AuthFlows:
    """The use cases over the stores, built once per app by create_app."""

    accounts: AccountStore
    sessions: SessionStore
    clients: ClientStore
    access_tokens: AccessTokenIssuer
    limits: RateLimiter
    revocations: RevocationPublisher
    email: EmailVerification | None = None  # None: EMAIL off, no `email_verified` claim

    def log_in(
        self, email: str, password: str, user_agent: str = "", jkt: str | None = None, *, address: str | None
    ) -> TokenPair:
        """Check a password and open a session: POST /login, and /token with grant_type=password.
        `address` is the client's: one that logged in to the email before has a throttle of its own.
        With `jkt` (a DPoP proof's key), the session and its access tokens are bound to that key."""
        # Throttled before the password is checked, so parallel guesses cannot pass together.
        self.limits.start_login(email, address)
        account = self.accounts.authenticate(email, password)
        self.limits.login_succeeded(email, address)
        if self.email is not None:
            self.email.check_login_allowed(account)
        issued = self.sessions.create(account["id"], account["password_hash"], user_agent, jkt=jkt)
        if issued.evicted:  # the user's oldest session made room for this one
            self.revocations.sessions_ended([issued.evicted])
        return self._user_pair(issued, account["email"], account.get("role", ""), jkt)

    def refresh(self, refresh_token: str, jkt: str | None = None) -> TokenPair:
        """Spend a refresh token for the next pair: POST /refresh, and /token with grant_type=refresh_token.
        A session bound to a DPoP key needs `jkt` to be that key's (invalid_grant dpop_key_mismatch)."""
        issued = self.sessions.rotate(refresh_token, jkt)
        return self._user_pair(issued, issued.email, issued.role, jkt)

    def log_out(self, refresh_token: str, jkt: str | None = None) -> bool:
        """End the session a refresh token belongs to; nothing happens for an unknown one. A session
        bound to a DPoP key ends only with `jkt` that key's: a stolen token alone cannot end it.
        Whether a live session ended."""
        ids = parse_refresh_token(refresh_token)
        if ids is None or not self.sessions.revoke(refresh_token, jkt):
            return False
        self.revocations.sessions_ended([ids.session_id])
        return True

    def end_session(self, user_id: str, session_id: str) -> bool:
        """End one session of a user (its owner deleting it, or its access token revoked); whether it was live."""
        if not self.sessions.revoke_by_id(user_id, session_id):
            return False
        self.revocations.sessions_ended([session_id])
        return True

    def log_out_everywhere(self, user_id: str) -> None:
        """End every session of a user."""
        live = self._live_session_ids(user_id)
        self.sessions.revoke_all(user_id)
        self.revocations.user_sessions_ended(user_id, session_ids=live)

    def _live_session_ids(self, user_id: str, keep: str = "") -> list[str]:
        """The user's live sessions but `keep`, read just before ending them: the push names them
        beside the user's cut-off, which has whole seconds only (RevocationPublisher)."""
        return [s["id"] for s in self.sessions.list(user_id) if s["id"] != keep]

    def change_password(
        self, user_id: str, email: str | None, session_id: str, current_password: str, new_password: str,
        *, end_other_sessions: bool = True, address: str | None,
    ) -> None:
        """Change a password proven by the current one, keeping the session `session_id`; the
        other sessions end unless `end_other_sessions` is false. The caller limits by address first."""
        # Guessing the current password with a stolen access token is throttled like a login.
        self.limits.start_login(email, address)
        checked_hash = self.accounts.check_password(user_id, current_password)
        self.limits.login_succeeded(email, address)
        live = self._live_session_ids(user_id, keep=session_id) if end_other_sessions else []
        self.accounts.change_password(
            user_id, new_password, checked_hash=checked_hash, keep_session=session_id,
            end_sessions=end_other_sessions,
        )
        if end_other_sessions:
            self.revocations.user_sessions_ended(user_id, keep_sid=session_id, session_ids=live)

    def reset_password(self, user_id: str, new_password: str) -> int:
        """Set the password whatever it was and end every session (a reset link); how many ended."""
        live = self._live_session_ids(user_id)
        ended = self.accounts.change_password(user_id, new_password)
        self.revocations.user_sessions_ended(user_id, session_ids=live)
        return ended

    def authenticate_client(self, client_id: str, secret: str, *, address: str | None) -> Client:
        """Check a service client's secret (InvalidClientError when wrong), throttled per client id and
        per client address as logins are."""
        self.limits.start_client_auth(client_id, address)
        client = self.clients.authenticate(client_id, secret)
        self.limits.client_auth_succeeded(client_id, address)
        return client

    def issue_for_client(
        self, client_id: str, secret: str, requested_scope: str | None, jkt: str | None = None, *,
        address: str | None,
    ) -> TokenPair:
        """RFC 6749 §4.4: an access token for the client itself, no refresh token; bound with `jkt`."""
        client = self.authenticate_client(client_id, secret, address=address)
        scope = narrow_scope(client.scope, requested_scope)
        return TokenPair(
            access_token=self.access_tokens.issue_for_client(client_id=client.client_id, scope=scope, jkt=jkt),
            token_type=token_type(jkt),
            expires_in=self.access_tokens.ttl,
            refresh_token=None,
            refresh_expires_in=None,
            scope=scope,
            user_id=None,
            session_id=None,
        )

    def _user_pair(self, issued: IssuedRefresh, email: str, role: str, jkt: str | None) -> TokenPair:
        scope = scope_for(role)
        return TokenPair(
            access_token=self.access_tokens.issue(
                subject=issued.user_id, email=email, scope=scope, session_id=issued.session_id,
                email_verified=self.email.is_verified(issued.user_id) if self.email is not None else None, jkt=jkt,
            ),
            token_type=token_type(jkt),
            expires_in=self.access_tokens.ttl,
            refresh_token=issued.refresh_token,
            refresh_expires_in=issued.expires_in,
            scope=scope,
            user_id=issued.user_id,
            session_id=issued.session_id,
        )
