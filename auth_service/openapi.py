"""The auth service's OpenAPI 3.1 document, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from auth_service.shapes import (
    ClientToken,
    Credentials,
    Introspection,
    Jwks,
    PasswordChange,
    RefreshToken,
    Registration,
    ServerMetadata,
    Sessions,
    TokenOfInterest,
    TokenPairAnswer,
    TokenRequest,
)
from shared.openapi import (
    BEARER,
    DPOP_CODES,
    DPOP_PROOF,
    METRICS,
    RATE_LIMITED,
    RETRY_AFTER,
    THIS_DOCUMENT,
    body_errors,
    document,
    error_answer,
    json_body,
    json_content,
    ref,
    schema_ref,
)
from shared.shapes import Status, User, component_schemas

NO_STORE = {
    "Cache-Control": {"required": True, "schema": {"const": "no-store"}},
}

SCHEMAS = component_schemas(
    User, Registration, Credentials, RefreshToken, TokenPairAnswer, PasswordChange, TokenRequest, ClientToken,
    Sessions, Jwks, ServerMetadata, TokenOfInterest, Introspection,
)

TOKEN_PAIR = {
    "description": "A token pair.",
    "headers": NO_STORE,
    "content": json_content(TokenPairAnswer),
}

PATHS: dict[str, Any] = {
    "/register": {
        "post": {
            "summary": "Create an account with the role `user`.",
            "requestBody": json_body(Registration),
            "responses": {
                "201": {
                    "description": "The new account.",
                    "content": json_content(User),
                },
                **body_errors(),
                "409": error_answer("This email is registered already.", "email_taken"),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/login": {
        "post": {
            "summary": "Log in: a new session and its first token pair.",
            "description": "With a DPoP proof, the session and its tokens are bound to the proof's key.",
            "parameters": [DPOP_PROOF],
            "requestBody": json_body(Credentials),
            "responses": {
                "200": TOKEN_PAIR,
                **body_errors(),
                "400": error_answer("The body is malformed, or the DPoP proof is.", "invalid_request", *DPOP_CODES),
                "401": error_answer(
                    "Wrong email or password; the same answer for an unknown email.", "invalid_credentials"
                ),
                "429": error_answer(
                    "Too many login attempts.", "rate_limited", headers={"Retry-After": RETRY_AFTER}
                ),
                "503": ref("Unavailable"),
            },
        }
    },
    "/refresh": {
        "post": {
            "summary": "Spend a refresh token for a new pair (RFC 6749 §6).",
            "description": "Within REFRESH_REUSE_GRACE seconds of its first use the same token answers with the "
            "same new refresh token; later, its whole session is revoked.",
            "parameters": [DPOP_PROOF],
            "requestBody": json_body(RefreshToken),
            "responses": {
                "200": TOKEN_PAIR,
                **body_errors(),
                "400": error_answer(
                    "The body is malformed (invalid_request), or the refresh token is unknown, expired, "
                    "revoked or reused, or its session is bound to a DPoP key this request has no proof of "
                    "(invalid_grant), or the DPoP proof is malformed.",
                    "invalid_request",
                    "invalid_grant",
                    *DPOP_CODES,
                ),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/logout": {
        "post": {
            "summary": "Revoke the session of a refresh token (idempotent).",
            "description": "A session bound to a DPoP key ends only with a proof by that key.",
            "parameters": [DPOP_PROOF],
            "requestBody": json_body(RefreshToken),
            "responses": {"204": {"description": "The session is revoked, or there was none."},
                          **body_errors(),
                          "400": error_answer("The body is malformed, the session is bound to a DPoP key this "
                                              "request has no proof of, or the proof is malformed.",
                                              "invalid_request", "invalid_grant", *DPOP_CODES),
                          "503": ref("Unavailable")},
        }
    },
    "/logout/all": {
        "post": {
            "summary": "Revoke every session of the caller.",
            "security": BEARER,
            "responses": {"204": {"description": "Every session is revoked."},
                          "401": ref("InvalidToken"), "403": ref("InsufficientScope"), "503": ref("Unavailable")},
        }
    },
    "/sessions": {
        "get": {
            "summary": "The caller's live sessions.",
            "security": BEARER,
            "responses": {
                "200": {
                    "description": "The sessions.",
                    "headers": NO_STORE,
                    "content": json_content(Sessions),
                },
                "401": ref("InvalidToken"),
                "403": ref("InsufficientScope"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/sessions/{session_id}": {
        "delete": {
            "summary": "Revoke one of the caller's own sessions.",
            "security": BEARER,
            "parameters": [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "204": {"description": "The session is revoked."},
                "401": ref("InvalidToken"),
                "403": ref("InsufficientScope"),
                "404": ref("NotFound"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            "summary": "The public keys that verify access tokens (RFC 7517).",
            "responses": {
                "200": {"description": "The key set.", "content": json_content(Jwks)}
            },
        }
    },
    "/js/session-client.js": {
        "get": {
            "summary": "The browser client (an ES module) of cookie mode, for pages to import.",
            "responses": {
                "200": {"description": "The module.", "content": {"text/javascript": {"schema": {"type": "string"}}}}
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: the process runs.",
            "responses": {
                "200": {"description": "Running.", "content": json_content(Status)}
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: Redis answers.",
            "responses": {
                "200": {"description": "Ready.", "content": json_content(Status)},
                "503": ref("Unavailable"),
            },
        }
    },
    "/password": {
        "post": {
            "summary": "Change the caller's password; the other sessions end unless revoke_other_sessions is false.",
            "security": BEARER,
            "requestBody": json_body(PasswordChange),
            "responses": {
                "204": {"description": "Changed."},
                **body_errors(),
                "401": error_answer("No valid access token, or the current password is wrong.",
                                    "invalid_token", "invalid_credentials"),
                "403": ref("InsufficientScope"),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/token": {
        "post": {
            "summary": "The RFC 6749 token endpoint: password, refresh_token and client_credentials grants.",
            "description": "With a DPoP proof, every grant issues tokens bound to the proof's key (RFC 9449 §5).",
            "parameters": [DPOP_PROOF],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": schema_ref(TokenRequest)}
                },
            },
            "responses": {
                "200": {
                    "description": "A token pair, or an access token alone for client credentials.",
                    "headers": NO_STORE,
                    "content": json_content({"oneOf": [schema_ref(TokenPairAnswer),
                                                       schema_ref(ClientToken)]}),
                },
                "400": error_answer("RFC 6749 §5.2; RFC 9449 §5 for the DPoP proof.", "invalid_request",
                                    "unsupported_grant_type", "invalid_scope", "invalid_grant", *DPOP_CODES),
                "401": error_answer("Unknown or revoked client, or a wrong secret.", "invalid_client",
                                    headers={"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}),
                "413": ref("TooLarge"),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/revoke": {
        "post": {
            "summary": "RFC 7009 revocation: end the session of a refresh token, or of an access token (by its "
                       "own bearer or a service client). 200 for any token unknown, expired or already revoked.",
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": schema_ref(TokenOfInterest)}},
            },
            "responses": {
                "200": {"description": "Revoked, or nothing to revoke.", "headers": NO_STORE},
                "400": error_answer("No token, or a parameter given twice.", "invalid_request"),
                "401": error_answer("A wrong client secret, or an access token without its bearer or a client.",
                                    "invalid_client",
                                    headers={"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}),
                "413": ref("TooLarge"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/introspect": {
        "post": {
            "summary": "RFC 7662 introspection, for service clients with the scope `introspect` (HTTP Basic).",
            "requestBody": {
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": schema_ref(TokenOfInterest)}},
            },
            "responses": {
                "200": {"description": "Whether the token is active.", "headers": NO_STORE,
                        "content": json_content(Introspection)},
                "400": error_answer("No token, or a parameter given twice.", "invalid_request"),
                "401": error_answer("No client, an unknown one, or a wrong secret.", "invalid_client",
                                    headers={"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}),
                "403": ref("InsufficientScope"),
                "413": ref("TooLarge"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/.well-known/oauth-authorization-server": {
        "get": {
            "summary": "RFC 8414 authorization server metadata.",
            "responses": {
                "200": {
                    "description": "The metadata.",
                    "content": json_content(ServerMetadata),
                }
            },
        }
    },
    "/metrics": METRICS,
    "/openapi.json": THIS_DOCUMENT,
}

DOCUMENT = document(
    "Auth service",
    "Accounts, logins, rotating refresh sessions and RS256 access tokens. Every error answer is JSON "
    '`{"error", "error_description"}`.',
    PATHS,
    SCHEMAS,
)
