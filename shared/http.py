"""Request parsing both services share."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from shared.errors import InvalidRequestError

MAX_BODY_BYTES = 64 * 1024  # Flask answers 413 past this


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 400 for anything but an object."""
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body
