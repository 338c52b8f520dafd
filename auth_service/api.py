"""The auth service's HTTP endpoints. Handlers parse, call a flow or a store, and render JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from auth_service import cookies
from auth_service.context import flows, no_store, proof_key, services, token_response
from auth_service.email_api import on_registered, openapi_document
from auth_service.openapi import DOCUMENT
from auth_service.shapes import Credentials, PasswordChange, RefreshToken, Registration
from auth_service.tokens import is_session_id
from shared.errors import InvalidTokenError, NotFoundError
from shared.shapes import parse_json
from shared.verify import TokenAuth

bp = Blueprint("auth", __name__)
# The account endpoints take a user's token only: a service client has no sessions or password.
auth = TokenAuth()


ENDED_SESSION = "the access token's session has ended (logout, revocation, password change or expiry)"


def refuse_ended_session(token: str, claims: dict[str, Any]) -> None:
    """A token check (shared.verify.add_token_check): a user's access token whose session is no
    longer live in the store is refused, so a stolen token cannot manage the account once its
    session ended. One Redis read; a session within its reuse grace is still live. A client's
    token (no sid) is not a session's."""
    sid = claims.get("sid")
    if isinstance(sid, str) and not services().sessions.is_live(claims["sub"], sid):
        raise InvalidTokenError(ENDED_SESSION)


@bp.post("/register")
def register() -> tuple[Response, int]:
    services().limits.limit_address("register", request.remote_addr)
    body = parse_json(Registration)
    user = services().accounts.register(body.email, body.password, body.name)
    on_registered(user["email"])
    return jsonify(user), 201


@bp.post("/login")
def login() -> Response:
    in_cookie_mode = cookies.cookie_mode()
    services().limits.limit_address("login", request.remote_addr)
    body = parse_json(Credentials)
    # The proof is checked before the password: a bad one costs no login attempt.
    jkt = proof_key()
    pair = flows().log_in(body.email, body.password, request.headers.get("User-Agent", ""), jkt,
                          address=request.remote_addr)
    return cookies.token_response(pair) if in_cookie_mode else token_response(pair)


@bp.post("/refresh")
def refresh() -> Response:
    in_cookie_mode = cookies.cookie_mode()
    services().limits.limit_address("refresh", request.remote_addr)
    if in_cookie_mode:  # the token comes from the cookie; a body, if any, is ignored
        return cookies.token_response(flows().refresh(cookies.required_refresh_token(), proof_key()))
    return token_response(flows().refresh(parse_json(RefreshToken).refresh_token, proof_key()))


@bp.post("/logout")
def logout() -> tuple[str, int] | Response:
    if cookies.cookie_mode():
        token = cookies.presented_refresh_token()
        if token is not None:
            flows().log_out(token, proof_key())
        return cookies.clear_refresh_cookie(Response(status=204))
    flows().log_out(parse_json(RefreshToken).refresh_token, proof_key())
    return "", 204


@bp.post("/logout/all")
@auth.require_user()
def logout_all() -> tuple[str, int]:
    flows().log_out_everywhere(auth.claims()["sub"])
    return "", 204


@bp.get("/sessions")
@auth.require_user()
def list_sessions() -> Response:
    claims = auth.claims()
    sessions = services().sessions.list(claims["sub"])
    for session in sessions:
        session["current"] = session["id"] == claims.get("sid")  # type: ignore[assignment]
    return no_store(jsonify(sessions=sessions))


@bp.delete("/sessions/<session_id>")
@auth.require_user()
def delete_session(session_id: str) -> tuple[str, int]:
    # Checked first: the id becomes part of a key name, and must name a session, nothing beside it.
    if not is_session_id(session_id) or not flows().end_session(auth.claims()["sub"], session_id):
        raise NotFoundError("no such session")
    return "", 204


@bp.post("/password")
@auth.require_user()
def change_password() -> tuple[str, int]:
    """Change one's password; the other sessions end unless `revoke_other_sessions` is false."""
    body = parse_json(PasswordChange)
    claims = auth.claims()
    services().limits.limit_address("login", request.remote_addr)
    flows().change_password(
        claims["sub"], claims.get("email"), claims.get("sid", ""), body.current_password, body.new_password,
        end_other_sessions=body.revoke_other_sessions, address=request.remote_addr,
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
    return jsonify(openapi_document(DOCUMENT))
