"""One error hierarchy and the Flask handlers that render it as the contract's JSON.

Shapes follow RFC 6749 §5.2 (`{"error", "error_description"}`) and RFC 6750 §3
(`WWW-Authenticate` challenges on 401/403).
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

REALM = "api"


class OAuthError(Exception):
    """An error answer: subclasses set the code, the status and a default description."""

    error = "server_error"
    status_code = 500
    description = "internal error"

    def __init__(self, description: str | None = None, **fields: str) -> None:
        super().__init__(description or self.description)
        self.description = description or self.description
        self.fields = fields  # more members of the JSON answer, e.g. a refusal's `reason`

    def headers(self) -> dict[str, str]:
        """Extra response headers for this error."""
        return {}


class InvalidRequestError(OAuthError):
    error = "invalid_request"
    status_code = 400
    description = "the request is malformed"


class InvalidGrantError(OAuthError):
    error = "invalid_grant"
    status_code = 400
    description = "the refresh token is unknown, expired, revoked or reused"


class InvalidClientError(OAuthError):
    """RFC 6749 §5.2 invalid_client: unknown client, wrong secret, or no client authentication.

    Always 401 with a Basic challenge, which §5.2 requires after HTTP Basic and allows otherwise.
    """

    error = "invalid_client"
    status_code = 401
    description = "client authentication failed"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f"Basic realm={_quote(REALM)}"}


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"
    status_code = 400
    description = "the grant type is not one this server supports"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"
    status_code = 400
    description = "the requested scope is unknown or exceeds what was granted"


class InvalidCredentialsError(OAuthError):
    error = "invalid_credentials"
    status_code = 401
    description = "wrong email or password"


class EmailTakenError(OAuthError):
    error = "email_taken"
    status_code = 409
    description = "this email is already registered"


class NotFoundError(OAuthError):
    error = "not_found"
    status_code = 404
    description = "not found"


class TemporarilyUnavailableError(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503
    description = "the store is unreachable, try again shortly"


class RateLimitedError(OAuthError):
    """Too many attempts; `Retry-After` says in how many seconds to try again (RFC 6585 §4)."""

    error = "rate_limited"
    status_code = 429
    description = "too many attempts, try again later"

    def __init__(self, retry_after: int, description: str | None = None) -> None:
        super().__init__(description)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def _quote(value: str) -> str:
    """Quote a value for an auth-param (RFC 7235 §2.1 quoted-string)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InvalidTokenError(OAuthError):
    """RFC 6750 §3.1 invalid_token: missing, malformed, badly signed or expired."""

    error = "invalid_token"
    status_code = 401
    description = "the access token is missing, malformed, badly signed or expired"

    def headers(self) -> dict[str, str]:
        # The contract's exact form: error first (a realm is optional in RFC 6750 §3).
        challenge = f"Bearer error={_quote(self.error)}, error_description={_quote(self.description)}"
        return {"WWW-Authenticate": challenge}


class InsufficientScopeError(OAuthError):
    """RFC 6750 §3.1 insufficient_scope, naming the scope that was needed."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, scope: str | None = None, *, description: str | None = None) -> None:
        super().__init__(description or f"this needs the scope {scope}")
        self.scope = scope

    def headers(self) -> dict[str, str]:
        challenge = f"Bearer error={_quote(self.error)}"
        if self.scope is not None:  # optional in RFC 6750 §3: no scope helps a token without a user
            challenge += f", scope={_quote(self.scope)}"
        return {"WWW-Authenticate": challenge}


# Codes for the HTTP errors Flask raises itself (routing, body size, content type).
_HTTP_ERROR_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def error_response(error: str, description: str, status: int, **fields: str) -> Response:
    """The contract's JSON error body, never cached."""
    response = jsonify(error=error, error_description=description, **fields)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def oauth_error_response(exc: OAuthError) -> Response:
    """The answer for one of our errors: its JSON body, status and headers."""
    response = error_response(exc.error, exc.description, exc.status_code, **exc.fields)
    response.headers.update(exc.headers())
    return response


def register_error_handlers(app: Flask) -> None:
    """Make every error of `app` a JSON answer: ours, Flask's, Redis outages and bugs."""
    app.register_error_handler(OAuthError, oauth_error_response)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_ERROR_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
        response = error_response(code, exc.description or exc.name, status)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    # A cluster mid-failover: CLUSTERDOWN, or no node that answers for a slot.
    @app.errorhandler(redis.exceptions.ClusterError)
    @app.errorhandler(redis.exceptions.RedisClusterException)
    def _store_down(exc: Exception) -> Response:
        log.warning("store unreachable: %s", type(exc).__name__)
        unavailable = TemporarilyUnavailableError()
        response = error_response(unavailable.error, unavailable.description, 503)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response("server_error", "internal error", 500)
