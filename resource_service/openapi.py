"""The resource service's OpenAPI 3.1 document, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from shared.directory import CURSOR
from shared.openapi import (
    BEARER,
    METRICS,
    THIS_DOCUMENT,
    USER_ID_PATTERN,
    USER_SCHEMA,
    body_errors,
    document,
    json_body,
    json_content,
    ref,
)

USER = {"description": "One account.", "content": json_content({"$ref": "#/components/schemas/User"})}
USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "examples": ["4f1c2a7e9b8d4c3fa2e1d0c9b8a7f6e5"]},
    "description": f"An account id ({USER_ID_PATTERN}); anything else is 404.",
}

SCHEMAS: dict[str, Any] = {
    "User": USER_SCHEMA,
    "Readiness": {
        "type": "object",
        "required": ["status", "revocation_push"],
        "properties": {
            "status": {"const": "ok"},
            "revocation_push": {"enum": ["off", "connected", "disconnected"]},
        },
    },
    "UserPage": {
        "type": "object",
        "required": ["users", "next_cursor"],
        "properties": {
            "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    },
    "Rename": {
        "type": "object",
        "required": ["name"],
        "examples": [{"name": "Ada Lovelace"}],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 200,
                "description": "Printable characters only (no control or format characters).",
            }
        },
    },
    "Me": {
        "type": "object",
        "required": ["id", "email", "scope"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "scope": {"type": "string"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/users": {
        "get": {
            "summary": "A page of accounts in registration order. Needs the scope `users:read`.",
            "security": BEARER,
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                            "default": 50}},
                {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": f"^{CURSOR}$"},
                 "description": "The `next_cursor` of the page before."},
            ],
            "responses": {
                "200": {"description": "The page.", "content": json_content({"$ref": "#/components/schemas/UserPage"})},
                "400": ref("InvalidRequest"),
                "414": ref("UriTooLong"),
                "401": ref("InvalidToken"),
                "403": ref("InsufficientScope"),
                "503": ref("Unavailable"),
            },
        }
    },
    "/users/{user_id}": {
        "get": {
            "summary": "One account. Needs the scope `users:read`.",
            "security": BEARER,
            "parameters": [USER_ID],
            "responses": {
                "200": USER,
                "401": ref("InvalidToken"),
                "403": ref("InsufficientScope"),
                "404": ref("NotFound"),
                "503": ref("Unavailable"),
            },
        },
        "patch": {
            "summary": "Rename an account: one's own, or anyone's with the scope `users:write`.",
            "security": BEARER,
            "parameters": [USER_ID],
            "requestBody": json_body({"$ref": "#/components/schemas/Rename"}),
            "responses": {
                "200": USER,
                **body_errors(),
                "401": ref("InvalidToken"),
                "403": ref("InsufficientScope"),
                "404": ref("NotFound"),
                "503": ref("Unavailable"),
            },
        },
    },
    "/me": {
        "get": {
            "summary": "The caller, from the access token alone (no store is read).",
            "security": BEARER,
            "responses": {
                "200": {"description": "The caller.", "content": json_content({"$ref": "#/components/schemas/Me"})},
                "401": ref("InvalidToken"),
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
            "summary": "Readiness: always, since tokens verify without Redis; says whether revocations are heard.",
            "responses": {
                "200": {"description": "Ready.", "content": json_content({"$ref": "#/components/schemas/Readiness"})}
            },
        }
    },
    "/metrics": METRICS,
    "/openapi.json": THIS_DOCUMENT,
}

DOCUMENT = document(
    "Resource service",
    "The user directory behind access tokens checked with the auth service's public keys alone. Every "
    'error answer is JSON `{"error", "error_description"}`.',
    PATHS,
    SCHEMAS,
)
