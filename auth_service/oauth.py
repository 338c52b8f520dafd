"""The OAuth 2.0 token endpoint (RFC 6749 §3.2) and the server's metadata (RFC 8414).

POST /token takes form-encoded parameters: `password` and `refresh_token` are the
standard spellings of /login and /refresh and run the very same code;
`client_credentials` gives a service client an access token of its own.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request

from auth_service.clients import KNOWN_SCOPES
from auth_service.context import flows, services, token_response
from shared.errors import (
    InvalidClientError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidRequestError,
    UnsupportedGrantTypeError,
)

bp = Blueprint("oauth", __name__)

GRANT_TYPES = ("password", "refresh_token", "client_credentials")
# `none`: the password and refresh_token grants need no client authentication, as /login does not.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
FORM_TYPE = "application/x-www-form-urlencoded"


def form_param(name: str) -> str | None:
    """A form parameter; a repeated one is refused, an empty one counts as absent (RFC 6749 §3.2)."""
    values = request.form.getlist(name)
    if len(values) > 1:
        raise InvalidRequestError(f"{name} is given more than once")
    return values[0] if values and values[0] else None


def required_param(name: str) -> str:
    """A form parameter that must be there."""
    value = form_param(name)
    if value is None:
        raise InvalidRequestError(f"{name} is required")
    return value


def basic_credentials(header: str) -> tuple[str, str] | None:
    """The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1), or None for
    another scheme. Both are form-encoded before base64, so they are decoded after it."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError("the Basic credentials are not base64 of id:secret") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClientError("the Basic credentials are not base64 of id:secret")
    return unquote_plus(client_id), unquote_plus(secret)


def presented_client() -> tuple[str, str] | None:
    """The client id and secret the request authenticates with, by Basic or by form; None when it
    carries no secret (a public client, which may still name itself)."""
    header = request.headers.get("Authorization")
    basic = basic_credentials(header) if header else None
    form_id, form_secret = form_param("client_id"), form_param("client_secret")
    if basic is not None:
        if form_secret is not None or form_id not in (None, basic[0]):
            raise InvalidRequestError("authenticate the client one way only: HTTP Basic or the form (RFC 6749 §2.3)")
        client_id, secret = basic
    else:
        client_id, secret = form_id or "", form_secret or ""
    if not secret:
        return None
    if not client_id:
        raise InvalidClientError("a client secret without a client id")
    return client_id, secret


def client_credentials_grant() -> Response:
    """RFC 6749 §4.4: an access token for the client itself, no refresh token."""
    credentials = presented_client()
    if credentials is None:
        raise InvalidClientError("authenticate the client: HTTP Basic, or client_id and client_secret")
    return token_response(flows().issue_for_client(*credentials, form_param("scope")))


def password_grant() -> Response:
    """RFC 6749 §4.3: /login's logic; a wrong password is invalid_grant here (§5.2)."""
    username, password = required_param("username"), required_param("password")
    try:
        pair = flows().log_in(username, password, request.headers.get("User-Agent", ""))
    except InvalidCredentialsError as exc:
        raise InvalidGrantError(exc.description) from None
    return token_response(pair)


@bp.post("/token")
def token() -> Response:
    """Issue tokens for the grant types in GRANT_TYPES. A `scope` narrows client credentials only;
    the other grants answer with the scope of the user's role, which the answer's `scope` names."""
    if request.mimetype != FORM_TYPE:
        raise InvalidRequestError(f"send the parameters form-encoded, Content-Type: {FORM_TYPE}")
    grant_type = required_param("grant_type")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantTypeError(f"grant_type must be one of: {', '.join(GRANT_TYPES)}")
    if grant_type == "client_credentials":
        return client_credentials_grant()
    # A client that does send a secret with a user's grant must have the right one.
    credentials = presented_client()
    if credentials is not None:
        flows().authenticate_client(*credentials)
    if grant_type == "password":
        services().limits.limit_address("login", request.remote_addr)
        return password_grant()
    services().limits.limit_address("refresh", request.remote_addr)
    return token_response(flows().refresh(required_param("refresh_token")))


def server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 §2 metadata; every URL derives from the issuer, the service's public URL."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "scopes_supported": list(KNOWN_SCOPES),
        # Response types are values of the authorization endpoint, which this server does not
        # have; `["token"]` would advertise the implicit grant. The member is required: empty.
        "response_types_supported": [],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        # No registered member says how access tokens are signed; this name is the one in use.
        "access_token_signing_alg_values_supported": ["RS256"],
    }


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    response = jsonify(server_metadata(services().access_tokens.issuer))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
