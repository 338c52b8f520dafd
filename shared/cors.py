"""CORS (the Fetch standard's CORS protocol) for the origins in ALLOWED_ORIGINS, exact matches only.

Hand-written rather than flask-cors: the contract wants the methods each route takes in a
preflight (flask-cors sends one fixed list), and `Vary: Origin` on every answer that an
`Origin` header could change, unlisted origins included (flask-cors adds it only when it
allows the origin, so a shared cache could hand a listed origin an answer without CORS).
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

# What a browser page may send and read beyond the CORS-safelisted names.
ALLOWED_HEADERS = "Authorization, Content-Type, DPoP, Session-Mode, X-Request-ID"
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After, DPoP-Nonce, X-Request-ID"
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight


def init_cors(app: Flask, allowed_origins: tuple[str, ...], *, credentials: bool) -> None:
    """Answer preflights and mark answers for `allowed_origins`; with `credentials`, pages there
    may send cookies (the auth service only: no other service reads one)."""
    origins = frozenset(allowed_origins)

    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        if request.headers.get("Origin") in origins:
            methods = route_methods(app, request.path)
            if methods:
                response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
                response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    def mark(response: Response) -> Response:
        # On every answer, so the plain header calls: `response.vary` parses and rebuilds a set.
        if "Vary" in response.headers:
            response.vary.add("Origin")
        else:
            response.headers["Vary"] = "Origin"
        origin = request.environ.get("HTTP_ORIGIN")
        if origin not in origins:
            return response
        is_preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if is_preflight and "Access-Control-Allow-Methods" not in response.headers:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        if credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if not is_preflight:
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response

    # Call after init_observability, whose hook must stay first; a preflight then answers
    # before any view, so before rate limits and body parsing.
    app.before_request(preflight)
    app.after_request(mark)


def route_methods(app: Flask, path: str) -> list[str]:
    """The methods the routes at `path` take, OPTIONS left out; none for an unknown path."""
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path, method="__none__")
    except MethodNotAllowed as exc:
        return sorted(set(exc.valid_methods or ()) - {"OPTIONS"})
    except NotFound:
        return []
    return []
