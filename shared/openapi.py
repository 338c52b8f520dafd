"""What both services' OpenAPI 3.1 documents share: the error shape, error answers, the bearer scheme.

Each service's document is built in its own `openapi.py` and served at `GET /openapi.json`: the
operations are written there, the schemas come from the shapes (shared/shapes.py) the handlers
validate with. tests/integration/test_openapi.py holds it to the app's routes and fuzzes the app
against it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.shapes import Error, Status, component_schemas

OPENAPI_VERSION = "3.1.0"

JSON = "application/json"

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


def schema_ref(shape: type[BaseModel]) -> dict[str, str]:
    """A reference to a shape's schema among the document's components."""
    return {"$ref": f"#/components/schemas/{shape.__name__}"}


def error_answer(description: str, *codes: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response object: the error shape with `error` one of `codes`."""
    schema = {
        "allOf": [
            schema_ref(Error),
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


def json_content(schema: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """A `content` map of one JSON schema, or of a shape's."""
    return {JSON: {"schema": schema_ref(schema) if isinstance(schema, type) else schema}}


def json_body(shape: type[BaseModel]) -> dict[str, Any]:
    """A required JSON request body of a shape."""
    return {"required": True, "content": json_content(shape)}


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
            "schemas": {**component_schemas(Error, Status), **schemas},
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
