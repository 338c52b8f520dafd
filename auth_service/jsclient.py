"""GET /js/session-client.js: the browser client (clients/js), so that a plain page can import it.

The file in the package is a link to clients/js/session-client.js, the one copy of it.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response

bp = Blueprint("jsclient", __name__)

CLIENT_FILE = "session-client.js"


@bp.get(f"/js/{CLIENT_FILE}")
def session_client() -> Response:
    source = files("auth_service").joinpath("static", CLIENT_FILE).read_bytes()
    response = Response(source, mimetype="text/javascript")
    # Short, like the JWKS: a new release reaches pages within minutes.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
