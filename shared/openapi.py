"""What both services' OpenAPI 3.1 documents share: the error shape, error answers, the bearer scheme.

Each service's document is a plain dict in its own `openapi.py`, served at `GET /openapi.json`;
tests/integration/test_openapi.py holds it to the app's routes and fuzzes the app against it.
"""

from __future__ import annotations

from typing import Any

from shared import directory

OPENAPI_VERSION = "3.1.0"

JSON = "application/json"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 6749 §5.2 error shape, used by every error answer (404, 405, 413, 415 and 500 too).",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string", "description": "A code from the contract's error table."},
        "error_description": {"type": "string", "minLength": 1, "description": "Human-readable text."},
    },
}

USER_ID_PATTERN = f"^{directory.USER_ID}$"

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The public fields of an account.",
    "required": ["id", "email", "name", "created_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": USER_ID_PATTERN},
        "email": {"type": "string", "description": "Trimmed, NFKC-normalised and lower-cased."},
        "name": {"type": "string", "maxLength": 200},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "ok"}},
}

# Header objects (OpenAPI 3.1 §4.8.21) for the challenges and hints error answers carry.
WWW_AUTHENTICATE = {
    "required": True,
    "description": 'RFC 6750 §3 challenge, e.g. `Bearer error="invalid_token", error_description="..."`.',
    "schema": {"type": "string", "pattern": "^Bearer "},
}
RETRY_AFTER = {
    "required": True,
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def error_answer(description: str, *codes: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response object: the error shape with `error` one of `codes`."""
    schema = {
        "allOf": [
            {"$ref": "#/components/schemas/Error"},
            {"properties": {"error": {"enum": list(codes)}}},
        ]
    }
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


# Answers that several operations share, referenced as #/components/responses/<name>.
COMMON_RESPONSES: dict[str, Any] = {
    "InvalidRequest": error_answer(
        "The body is not a JSON object, or a field is missing, of the wrong type or breaks a rule.",
        "invalid_request",
    ),
    "InvalidToken": error_answer(
        "No, malformed, badly signed or expired access token.",
        "invalid_token",
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    ),
    "InsufficientScope": error_answer(
        "A valid access token without the scope this needs.",
        "insufficient_scope",
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    ),
    "NotFound": error_answer("No such resource.", "not_found"),
    "TooLarge": error_answer("The body is over 64 KiB.", "request_too_large"),
    "UriTooLong": error_answer("The request line is over 4094 bytes (gunicorn's limit).", "invalid_request"),
    "NotJson": error_answer("The body is not sent as `Content-Type: application/json`.", "unsupported_media_type"),
    "Unavailable": error_answer(
        "The store (Redis) is unreachable; try again shortly.",
        "temporarily_unavailable",
        headers={"Retry-After": RETRY_AFTER},
    ),
}

UNREADABLE = (
    " A request the server cannot read (a request line over 4094 bytes, a header over 8190 bytes,"
    " over 100 headers, malformed HTTP) gets 400, 414 or 431 with the same JSON error shape."
)

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def ref(name: str) -> dict[str, str]:
    """A reference to a shared response."""
    return {"$ref": f"#/components/responses/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    """A `content` map of one JSON schema."""
    return {JSON: {"schema": schema}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body."""
    return {"required": True, "content": json_content(schema)}


def body_errors() -> dict[str, Any]:
    """The answers every operation that reads a JSON body may give besides its own."""
    return {"400": ref("InvalidRequest"), "413": ref("TooLarge"), "415": ref("NotJson")}


THIS_DOCUMENT: dict[str, Any] = {
    "get": {
        "summary": "This document.",
        "responses": {
            "200": {"description": "OpenAPI 3.1.", "content": json_content({"type": "object", "required": ["openapi"]})}
        },
    }
}


METRICS: dict[str, Any] = {
    "get": {
        "summary": "Prometheus metrics of every worker of the service.",
        "responses": {
            "200": {
                "description": "Prometheus text format (OpenMetrics when the scraper asks for it).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    }
}

RATE_LIMITED = error_answer("Too many requests; wait Retry-After seconds.", "rate_limited",
                            headers={"Retry-After": RETRY_AFTER})


def document(title: str, description: str, paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A whole OpenAPI 3.1 document of `paths`, with the shared components added."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1", "description": description + UNREADABLE},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, "Status": STATUS_SCHEMA, **schemas},
            "responses": COMMON_RESPONSES,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An RS256 access token (RFC 9068) from the auth service, as "
                    "`Authorization: Bearer <token>` (RFC 6750 §2.1).",
                }
            },
        },
    }
