"""Request parsing both services share."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from shared.errors import InvalidRequestError

MAX_BODY_BYTES = 64 * 1024  # Flask answers 413 past this


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 400 for anything but an object."""
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    # A chunked body has no Content-Length for Flask to refuse up front; its stream just stops
    # at the limit, and the cut-off rest would go unseen. A body that reached the limit is too long.
    if request.content_length is None and len(request.get_data(cache=True)) >= MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # silent=True swallows ValueError only; nesting deeper than Python's recursion limit
        # (a 64 KiB body holds 32,000 levels of `[`) makes the decoder raise RecursionError.
        raise InvalidRequestError("the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body
