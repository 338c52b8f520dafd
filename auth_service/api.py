"""The auth service's HTTP endpoints. Handlers parse, call the stores, and shape JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from auth_service import cookies
from auth_service.accounts import AccountStore, scope_for
from auth_service.clients import ClientStore
from auth_service.keys import KeyRing
from auth_service.openapi import DOCUMENT
from auth_service.ratelimit import RateLimiter
from auth_service.sessions import IssuedRefresh, SessionStore
from auth_service.tokens import AccessTokenIssuer, is_session_id
from shared.errors import InvalidRequestError, NotFoundError
from shared.http import json_body
from shared.jwt import require_token, token_claims
from shared.store import RedisClient

bp = Blueprint("auth", __name__)


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


def services() -> AuthServices:
    """The app's service objects."""
    return current_app.extensions["auth"]  # type: ignore[no-any-return]


def required_string(body: dict[str, Any], field: str) -> str:
    """A field that must be present and a string."""
    value = body.get(field)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{field} is required and must be a string")
    return value


def no_store(response: Response) -> Response:
    """Token answers are never cached (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def token_pair(issued: IssuedRefresh, email: str, role_record: dict[str, str]) -> Response:
    """The RFC 6749 §5.1 token answer for a session's new refresh token."""
    svc = services()
    scope = scope_for(role_record)
    access_token = svc.access_tokens.issue(
        subject=issued.user_id, email=email, scope=scope, session_id=issued.session_id
    )
    return no_store(
        jsonify(
            access_token=access_token,
            token_type="Bearer",  # noqa: S106 (a token type, not a password)
            expires_in=svc.access_tokens.ttl,
            refresh_token=issued.refresh_token,
            refresh_expires_in=issued.expires_in,
            scope=scope,
        )
    )


@bp.post("/register")
def register() -> tuple[Response, int]:
    services().limits.limit_address("register", request.remote_addr)
    body = json_body()
    user = services().accounts.register(
        required_string(body, "email"), required_string(body, "password"), body.get("name")
    )
    return jsonify(user), 201


def login_with_password(email: str, password: str) -> Response:
    """Check a password and open a session: POST /login, and /token with grant_type=password."""
    svc = services()
    # Throttled before the password is checked: during a lock the right password gets 429 too.
    svc.limits.start_login(email)
    account = svc.accounts.authenticate(email, password)
    svc.limits.login_succeeded(email)
    issued = svc.sessions.create(account["id"], account["password_hash"], request.headers.get("User-Agent", ""))
    return token_pair(issued, account["email"], account)


def refresh_with_token(refresh_token: str) -> Response:
    """Spend a refresh token for the next pair: POST /refresh, and /token with grant_type=refresh_token."""
    issued = services().sessions.rotate(refresh_token)
    return token_pair(issued, issued.email, {"role": issued.role})


@bp.post("/login")
def login() -> Response:
    in_cookie_mode = cookies.cookie_mode()
    services().limits.limit_address("login", request.remote_addr)
    body = json_body()
    answer = login_with_password(required_string(body, "email"), required_string(body, "password"))
    return cookies.deliver_pair(answer) if in_cookie_mode else answer


@bp.post("/refresh")
def refresh() -> Response:
    in_cookie_mode = cookies.cookie_mode()
    services().limits.limit_address("refresh", request.remote_addr)
    if in_cookie_mode:  # the token comes from the cookie; a body, if any, is ignored
        return cookies.deliver_pair(refresh_with_token(cookies.required_refresh_token()))
    body = json_body()
    return refresh_with_token(required_string(body, "refresh_token"))


@bp.post("/logout")
def logout() -> tuple[str, int] | Response:
    if cookies.cookie_mode():
        token = cookies.presented_refresh_token()
        if token is not None:
            services().sessions.revoke(token)
        return cookies.clear_refresh_cookie(Response(status=204))
    body = json_body()
    services().sessions.revoke(required_string(body, "refresh_token"))
    return "", 204


@bp.post("/logout/all")
@require_token()
def logout_all() -> tuple[str, int]:
    services().sessions.revoke_all(token_claims()["sub"])
    return "", 204


@bp.get("/sessions")
@require_token()
def list_sessions() -> Response:
    claims = token_claims()
    sessions = services().sessions.list(claims["sub"])
    for session in sessions:
        session["current"] = session["id"] == claims.get("sid")  # type: ignore[assignment]
    return no_store(jsonify(sessions=sessions))


@bp.delete("/sessions/<session_id>")
@require_token()
def delete_session(session_id: str) -> tuple[str, int]:
    # Checked first: the id becomes part of a key name, and must name a session, nothing beside it.
    if not is_session_id(session_id) or not services().sessions.revoke_by_id(token_claims()["sub"], session_id):
        raise NotFoundError("no such session")
    return "", 204


@bp.post("/password")
@require_token()
def change_password() -> tuple[str, int]:
    """Change one's password; the other sessions end unless `revoke_other_sessions` is false."""
    body = json_body()
    claims = token_claims()
    end_others = body.get("revoke_other_sessions", True)
    if not isinstance(end_others, bool):
        raise InvalidRequestError("revoke_other_sessions must be true or false")
    svc = services()
    current_password = required_string(body, "current_password")
    # Guessing the current password with a stolen access token is throttled like a login.
    svc.limits.limit_address("login", request.remote_addr)
    svc.limits.start_login(claims.get("email"))
    checked_hash = svc.accounts.check_password(claims["sub"], current_password)
    svc.limits.login_succeeded(claims.get("email"))
    accounts = svc.accounts
    accounts.change_password(
        claims["sub"], required_string(body, "new_password"), checked_hash=checked_hash,
        keep_session=claims.get("sid", ""), end_sessions=end_others,
    )
    return "", 204


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(services().keys.jwks())
    # Short enough that a verifier sees a new key soon; verifiers refetch on an unknown kid anyway.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    services().redis.ping()
    return jsonify(status="ok")


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(DOCUMENT)
