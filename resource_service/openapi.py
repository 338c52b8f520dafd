"""The resource service's OpenAPI 3.1 document, served at `GET /openapi.json`."""

from __future__ import annotations

from typing import Any

from resource_service.shapes import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Me, Readiness, Rename, UserPage
from shared import directory
from shared.openapi import (
    BEARER,
    METRICS,
    THIS_DOCUMENT,
    body_errors,
    document,
    json_body,
    json_content,
    ref,
)
from shared.shapes import Status, User, component_schemas

USER = {"description": "One account.", "content": json_content(User)}
# What an operation on one account may answer besides its own errors.
ACCOUNT_ANSWERS = {
    "401": ref("InvalidToken"),
    "403": ref("InsufficientScope"),
    "404": ref("NotFound"),
    "503": ref("Unavailable"),
}
USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "examples": ["4f1c2a7e9b8d4c3fa2e1d0c9b8a7f6e5"]},
    "description": f"An account id (^{directory.USER_ID}$); anything else is 404.",
}

SCHEMAS = component_schemas(User, UserPage, Rename, Me, Readiness)

PATHS: dict[str, Any] = {
    "/users": {
        "get": {
            "summary": "A page of accounts in registration order. Needs the scope `users:read`.",
            "security": BEARER,
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                                            "default": DEFAULT_PAGE_SIZE}},
                {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": f"^{directory.CURSOR}$"},
                 "description": "The `next_cursor` of the page before."},
            ],
            "responses": {
                "200": {"description": "The page.", "content": json_content(UserPage)},
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
            "responses": {"200": USER, **ACCOUNT_ANSWERS},
        },
        "patch": {
            "summary": "Rename an account: one's own, or anyone's with the scope `users:write`.",
            "security": BEARER,
            "parameters": [USER_ID],
            "requestBody": json_body(Rename),
            "responses": {"200": USER, **body_errors(), **ACCOUNT_ANSWERS},
        },
    },
    "/me": {
        "get": {
            "summary": "The caller, from the access token alone (no store is read).",
            "security": BEARER,
            "responses": {
                "200": {"description": "The caller.", "content": json_content(Me)},
                "401": ref("InvalidToken"),
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
            "summary": "Readiness: always, since tokens verify without Redis; says whether revocations are heard.",
            "responses": {
                "200": {"description": "Ready.", "content": json_content(Readiness)}
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
