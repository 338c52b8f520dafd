"""The auth service's OpenAPI 3.1 document, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from shared.openapi import (
    BEARER,
    METRICS,
    RATE_LIMITED,
    RETRY_AFTER,
    THIS_DOCUMENT,
    USER_SCHEMA,
    body_errors,
    document,
    error_answer,
    json_body,
    json_content,
    ref,
)

NO_STORE = {
    "Cache-Control": {"required": True, "schema": {"const": "no-store"}},
}

SCHEMAS: dict[str, Any] = {
    "User": USER_SCHEMA,
    "Registration": {
        "type": "object",
        "required": ["email", "password"],
        "examples": [{"email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"}],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": {
                "type": "string",
                "minLength": 8,
                "maxLength": 1024,
                "description": "At least 8 characters and at most 1024 bytes of UTF-8; never truncated.",
            },
            "name": {
                "type": ["string", "null"],
                "maxLength": 200,
                "description": "Printable characters only (no control or format characters).",
            },
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["email", "password"],
        "examples": [{"email": "ada@example.com", "password": "correct horse battery"}],
        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    },
    "RefreshToken": {
        "type": "object",
        "required": ["refresh_token"],
        "properties": {"refresh_token": {"type": "string", "description": "Opaque to clients."}},
    },
    "TokenPair": {
        "type": "object",
        "description": "RFC 6749 §5.1 token answer.",
        "required": ["access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string", "description": "RS256 JWS, header typ at+jwt (RFC 9068)."},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer", "minimum": 0},
            "refresh_token": {"type": "string", "description": "Works once; a refresh spends it."},
            "refresh_expires_in": {"type": "integer", "minimum": 0},
            "scope": {"type": "string", "description": "Space-separated scopes of the access token."},
        },
    },
    "PasswordChange": {
        "type": "object",
        "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string"},
            "new_password": {"type": "string", "minLength": 8, "maxLength": 1024},
            "revoke_other_sessions": {"type": "boolean", "default": True},
        },
    },
    "TokenRequest": {
        "type": "object",
        "description": "RFC 6749 §4.3, §4.4 and §6 parameters; client credentials by HTTP Basic or here.",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"enum": ["password", "refresh_token", "client_credentials"]},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "refresh_token": {"type": "string"},
            "scope": {"type": "string"},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
        },
    },
    "ClientToken": {
        "type": "object",
        "description": "RFC 6749 §4.4.3: an access token, no refresh token.",
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer", "minimum": 0},
            "scope": {"type": "string"},
        },
    },
    "Sessions": {
        "type": "object",
        "required": ["sessions"],
        "properties": {
            "sessions": {
                "type": "array",
                "description": "The caller's live sessions, oldest first.",
                "items": {
                    "type": "object",
                    "required": ["id", "created_at", "last_used_at", "user_agent", "current"],
                    "properties": {
                        "id": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "last_used_at": {"type": "string", "format": "date-time"},
                        "user_agent": {"type": "string"},
                        "current": {"type": "boolean", "description": "The session of the token used."},
                    },
                },
            }
        },
    },
    "Jwks": {
        "type": "object",
        "description": "RFC 7517 key set: every key that may still verify a live access token.",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["kty", "kid", "alg", "use", "n", "e"],
                    "properties": {
                        "kty": {"const": "RSA"},
                        "kid": {"type": "string"},
                        "alg": {"const": "RS256"},
                        "use": {"const": "sig"},
                        "n": {"type": "string"},
                        "e": {"type": "string"},
                    },
                },
            }
        },
    },
}

TOKEN_PAIR = {
    "description": "A token pair.",
    "headers": NO_STORE,
    "content": json_content({"$ref": "#/components/schemas/TokenPair"}),
}

PATHS: dict[str, Any] = {
    "/register": {
        "post": {
            "summary": "Create an account with the role `user`.",
            "requestBody": json_body({"$ref": "#/components/schemas/Registration"}),
            "responses": {
                "201": {
                    "description": "The new account.",
                    "content": json_content({"$ref": "#/components/schemas/User"}),
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
            "requestBody": json_body({"$ref": "#/components/schemas/Credentials"}),
            "responses": {
                "200": TOKEN_PAIR,
                **body_errors(),
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
            "requestBody": json_body({"$ref": "#/components/schemas/RefreshToken"}),
            "responses": {
                "200": TOKEN_PAIR,
                **body_errors(),
                "400": error_answer(
                    "The body is malformed (invalid_request), or the refresh token is unknown, expired, "
                    "revoked or reused (invalid_grant).",
                    "invalid_request",
                    "invalid_grant",
                ),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/logout": {
        "post": {
            "summary": "Revoke the session of a refresh token (idempotent).",
            "requestBody": json_body({"$ref": "#/components/schemas/RefreshToken"}),
            "responses": {"204": {"description": "The session is revoked, or there was none."},
                          **body_errors(), "503": ref("Unavailable")},
        }
    },
    "/logout/all": {
        "post": {
            "summary": "Revoke every session of the caller.",
            "security": BEARER,
            "responses": {"204": {"description": "Every session is revoked."},
                          "401": ref("InvalidToken"), "503": ref("Unavailable")},
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
                    "content": json_content({"$ref": "#/components/schemas/Sessions"}),
                },
                "401": ref("InvalidToken"),
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
                "404": ref("NotFound"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            "summary": "The public keys that verify access tokens (RFC 7517).",
            "responses": {
                "200": {"description": "The key set.", "content": json_content({"$ref": "#/components/schemas/Jwks"})}
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness: the process runs.",
            "responses": {
                "200": {"description": "Running.", "content": json_content({"$ref": "#/components/schemas/Status"})}
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: Redis answers.",
            "responses": {
                "200": {"description": "Ready.", "content": json_content({"$ref": "#/components/schemas/Status"})},
                "503": ref("Unavailable"),
            },
        }
    },
    "/password": {
        "post": {
            "summary": "Change the caller's password; the other sessions end unless revoke_other_sessions is false.",
            "security": BEARER,
            "requestBody": json_body({"$ref": "#/components/schemas/PasswordChange"}),
            "responses": {
                "204": {"description": "Changed."},
                **body_errors(),
                "401": error_answer("No valid access token, or the current password is wrong.",
                                    "invalid_token", "invalid_credentials"),
                "429": RATE_LIMITED,
                "503": ref("Unavailable"),
            },
        }
    },
    "/token": {
        "post": {
            "summary": "The RFC 6749 token endpoint: password, refresh_token and client_credentials grants.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}
                },
            },
            "responses": {
                "200": {
                    "description": "A token pair, or an access token alone for client credentials.",
                    "headers": NO_STORE,
                    "content": json_content({"oneOf": [{"$ref": "#/components/schemas/TokenPair"},
                                                       {"$ref": "#/components/schemas/ClientToken"}]}),
                },
                "400": error_answer("RFC 6749 §5.2.", "invalid_request", "unsupported_grant_type",
                                    "invalid_scope", "invalid_grant"),
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
                "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {"token": {"type": "string"}, "token_type_hint": {"type": "string"}},
                }}},
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
                "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {"token": {"type": "string"}, "token_type_hint": {"type": "string"}},
                }}},
            },
            "responses": {
                "200": {
                    "description": "`active` true with the token's claims, or `{\"active\": false}` alone.",
                    "headers": NO_STORE,
                    "content": json_content({
                        "type": "object",
                        "required": ["active"],
                        "properties": {
                            "active": {"type": "boolean"},
                            "sub": {"type": "string"},
                            "scope": {"type": "string"},
                            "exp": {"type": "integer"},
                            "iat": {"type": "integer"},
                            "sid": {"type": "string"},
                            "token_type": {"enum": ["Bearer", "DPoP"]},
                        },
                    }),
                },
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
                    "content": json_content({
                        "type": "object",
                        "required": ["issuer", "token_endpoint", "jwks_uri", "grant_types_supported"],
                    }),
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
