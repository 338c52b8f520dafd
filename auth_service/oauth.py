"""The OAuth 2.0 endpoints: token (RFC 6749 §3.2), revocation (RFC 7009), introspection
(RFC 7662), and the server's metadata (RFC 8414).

POST /token takes form-encoded parameters: `password` and `refresh_token` are the
standard spellings of /login and /refresh and run the very same code;
`client_credentials` gives a service client an access token of its own.
"""

from __future__ import annotations

import base64
from typing import Any, get_args
from urllib.parse import unquote_plus

from flask import Blueprint, Response, current_app, jsonify, request

from auth_service.clients import INTROSPECT_SCOPE, KNOWN_SCOPES, Client
from auth_service.context import flows, no_store, proof_key, services, token_response
from auth_service.shapes import GrantType
from auth_service.tokens import parse_refresh_token
from shared.dpop import ALGORITHMS, bound_key
from shared.errors import (
    InsufficientScopeError,
    InvalidClientError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    UnsupportedGrantTypeError,
)
from shared.jwt import TokenVerifier
from shared.verify import EXTENSION

bp = Blueprint("oauth", __name__)

GRANT_TYPES: tuple[str, ...] = get_args(GrantType)
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
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a str with non-ASCII characters
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
    return token_response(
        flows().issue_for_client(*credentials, form_param("scope"), proof_key(), address=request.remote_addr)
    )


def password_grant() -> Response:
    """RFC 6749 §4.3: /login's logic; a wrong password is invalid_grant here (§5.2)."""
    username, password = required_param("username"), required_param("password")
    try:
        pair = flows().log_in(username, password, request.headers.get("User-Agent", ""), proof_key(),
                              address=request.remote_addr)
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
        flows().authenticate_client(*credentials, address=request.remote_addr)
    if grant_type == "password":
        services().limits.limit_address("login", request.remote_addr)
        return password_grant()
    services().limits.limit_address("refresh", request.remote_addr)
    return token_response(flows().refresh(required_param("refresh_token"), proof_key()))


def require_form() -> None:
    if request.mimetype != FORM_TYPE:
        raise InvalidRequestError(f"send the parameters form-encoded, Content-Type: {FORM_TYPE}")


def verified_access_token(token: str) -> dict[str, Any] | None:
    """The claims of an access token this service signed and that has not expired, else None."""
    verifier: TokenVerifier = current_app.extensions[EXTENSION]
    try:
        return verifier.verify(token)
    except InvalidTokenError:
        return None


def authenticated_client() -> Client | None:
    """The service client the request authenticates as (InvalidClientError for bad credentials), or None."""
    header = request.headers.get("Authorization", "")
    if header.partition(" ")[0].lower() == "bearer":
        return None
    credentials = presented_client()
    return flows().authenticate_client(*credentials, address=request.remote_addr) if credentials else None


@bp.post("/revoke")
def revoke() -> Response:
    """RFC 7009: end the session a refresh or access token belongs to. 200 for any token that is
    unknown, expired or already revoked (§2.2); the hint is only a hint (§2.1), both kinds are tried."""
    require_form()
    token = required_param("token")
    form_param("token_type_hint")  # given at most once; which kind the token is, its shape says
    client = authenticated_client()
    if parse_refresh_token(token) is not None:
        # Whoever holds a refresh token may end its session, as POST /logout allows (with its
        # key's proof, for a session bound to one).
        flows().log_out(token, proof_key())
        return revocation_answer()
    claims = verified_access_token(token)
    if claims is None or not isinstance(claims.get("sid"), str):
        return revocation_answer()  # unknown, expired, or a client's own token (no session to end)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    own_bearer = scheme.lower() == "bearer" and presented.strip() == token
    if client is None and not own_bearer:
        raise InvalidClientError("an access token is revoked by its bearer (Authorization: Bearer) or a service client")
    jkt = bound_key(claims)
    if client is None and jkt is not None and proof_key() != jkt:
        # As for refresh tokens: a stolen bound token alone cannot even end its session.
        raise InvalidClientError("a DPoP-bound access token is revoked with a DPoP proof of its key")
    flows().end_session(claims["sub"], claims["sid"])
    return revocation_answer()


def revocation_answer() -> Response:
    return no_store(Response(status=200))


@bp.post("/introspect")
def introspect() -> Response:
    """RFC 7662 §2: whether an access token is active, for service clients with the introspect scope.
    Active means well signed, unexpired, and its session live (or, for a client's token, its client
    still registered): a well-signed token of an ended session is not active."""
    require_form()
    credentials = presented_client() if request.headers.get("Authorization", "").lower().startswith("basic ") else None
    if credentials is None:
        raise InvalidClientError("authenticate the client with HTTP Basic")
    # Throttled per client id and per address like the secret checks of /token.
    client = flows().authenticate_client(*credentials, address=request.remote_addr)
    if INTROSPECT_SCOPE not in client.scope.split():
        raise InsufficientScopeError(INTROSPECT_SCOPE)
    token = required_param("token")
    form_param("token_type_hint")
    claims = verified_access_token(token)
    active = claims is not None and token_is_live(claims)
    services().events.introspection(active)
    if not active or claims is None:
        return no_store(jsonify(active=False))
    answer: dict[str, Any] = {
        "active": True,
        "sub": claims["sub"],
        "scope": claims.get("scope", ""),
        "exp": claims["exp"],
        "iat": claims["iat"],
        "token_type": "DPoP" if isinstance(claims.get("cnf"), dict) and "jkt" in claims["cnf"] else "Bearer",
        "iss": claims["iss"],
        "aud": claims["aud"],
        "jti": claims.get("jti"),
    }
    for name in ("sid", "client_id", "email", "cnf"):
        if name in claims:
            answer[name] = claims[name]
    return no_store(jsonify(answer))


def token_is_live(claims: dict[str, Any]) -> bool:
    """Whether the session (or client) a verified access token speaks for still exists."""
    sid = claims.get("sid")
    if isinstance(sid, str):
        return services().sessions.is_live(claims["sub"], sid)
    client_id = claims.get("client_id")
    return isinstance(client_id, str) and services().clients.exists(client_id)


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
        "revocation_endpoint": f"{base}/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": f"{base}/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        # No registered member says how access tokens are signed; this name is the one in use.
        "access_token_signing_alg_values_supported": ["RS256"],
        "dpop_signing_alg_values_supported": list(ALGORITHMS),  # RFC 9449 §5.1
    }


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    response = jsonify(server_metadata(services().access_tokens.issuer))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
