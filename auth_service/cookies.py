"""Cookie mode for browser pages: the refresh token in an HttpOnly cookie, never in the JSON.

A request asks for it with `Session-Mode: cookie`. That custom header cannot be sent
cross-origin without a CORS preflight, which only ALLOWED_ORIGINS pass: so a form, an
image or a plain fetch from another site never reaches the cookie (the CSRF defence of
the IETF draft "OAuth 2.0 for Browser-Based Applications", with SameSite=Strict and the
Origin check below as further walls). A request without the header neither reads, sets
nor clears the cookie.

The handlers call `cookie_mode()` first, then render a TokenPair with `token_response`,
and read the token with `required_refresh_token` (refresh) or `presented_refresh_token` (logout).
"""

from __future__ import annotations

from flask import Flask, Response, after_this_request, current_app, jsonify, request

from auth_service.context import no_store
from auth_service.flows import TokenPair
from shared.config import origin_of
from shared.errors import InvalidGrantError, InvalidRequestError, OAuthError

COOKIE_NAME = "__Host-refresh_token"
MODE_HEADER = "Session-Mode"
COOKIE_MODE = "cookie"


class InvalidOriginError(OAuthError):
    error = "invalid_origin"
    status_code = 403
    description = "cookie mode is refused to pages of this origin: it is not in ALLOWED_ORIGINS"


def init_cookie_mode(app: Flask, issuer: str, allowed_origins: tuple[str, ...]) -> None:
    """Let pages of the auth service's own origin (that of JWT_ISSUER) and of ALLOWED_ORIGINS use cookie mode."""
    app.extensions["cookie_origins"] = frozenset({origin_of(issuer), *allowed_origins})


def cookie_mode() -> bool:
    """Whether this request is in cookie mode; InvalidOriginError (403, nothing changed) when it
    is and its `Origin` is neither ours nor allowed (`Origin: null` included)."""
    mode = request.headers.get(MODE_HEADER)
    if mode is None:
        return False
    if mode.strip().lower() != COOKIE_MODE:
        raise InvalidRequestError(f"{MODE_HEADER} must be {COOKIE_MODE!r} or absent")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in current_app.extensions["cookie_origins"]:
        raise InvalidOriginError()
    return True


def presented_refresh_token() -> str | None:
    """The refresh token of the request's cookie; None without one. Two cookies of that name
    are refused (400) before anything is spent: no browser sends that for a __Host- cookie."""
    values = request.cookies.getlist(COOKIE_NAME)
    if len(values) > 1:
        raise InvalidRequestError(f"more than one {COOKIE_NAME} cookie")
    return values[0] if values else None


def required_refresh_token() -> str:
    """The cookie's refresh token for POST /refresh: 400 invalid_request without one.

    A refusal of that token (400 invalid_grant) clears the cookie, so the page knows
    to log in and no dead token is sent again.
    """
    token = presented_refresh_token()
    if token is None:
        raise InvalidRequestError(f"no {COOKIE_NAME} cookie: log in first")

    @after_this_request
    def clear_on_refusal(response: Response) -> Response:
        if response.status_code == InvalidGrantError.status_code and _error_code(response) == InvalidGrantError.error:
            clear_refresh_cookie(response)
        return response

    return token


def token_response(pair: TokenPair) -> Response:
    """The token answer of cookie mode: the refresh token goes into the cookie, never the JSON,
    which keeps `refresh_expires_in`, the cookie's Max-Age."""
    body = pair.answer()
    refresh_token = body.pop("refresh_token")
    response = no_store(jsonify(body))
    set_refresh_cookie(response, refresh_token, int(body["refresh_expires_in"]))
    return response


def set_refresh_cookie(response: Response, refresh_token: str, max_age: int) -> None:
    """`__Host-` (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain, so no other host sets or reads it."""
    response.set_cookie(
        COOKIE_NAME, refresh_token, max_age=max_age, path="/", secure=True, httponly=True, samesite="Strict"
    )


def clear_refresh_cookie(response: Response) -> Response:
    """Tell the browser to drop the cookie (Max-Age=0)."""
    set_refresh_cookie(response, "", 0)
    return response


def _error_code(response: Response) -> str | None:
    if response.mimetype != "application/json":
        return None
    body = response.get_json(silent=True)
    return body.get("error") if isinstance(body, dict) else None
