"""What operators see of each request: a request id, one JSON log line, and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

from flask import Flask, Response, current_app, g, has_request_context, request

from shared.metrics import Metrics

log = logging.getLogger(__name__)
access_log = logging.getLogger("access")

REQUEST_ID_HEADER = "X-Request-ID"
# An id from a proxy or client is kept when it is short and plain; anything else is replaced.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def init_observability(app: Flask) -> Metrics:
    """Give `app` request ids, a JSON log line per request and GET /metrics; its Metrics."""
    metrics = Metrics()
    if not metrics.multiprocess and os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        log.warning("PROMETHEUS_MULTIPROC_DIR is unset: /metrics counts this worker alone; "
                    "start gunicorn with -c <service>/gunicorn_conf.py")
    app.extensions["metrics"] = metrics
    # First of all hooks, so that one answering early (a rate limit) still has a start time and an id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])
    return metrics


def request_id() -> str:
    """The current request's id: the client's X-Request-ID when sane, else a new one."""
    if "request_id" not in g:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return str(g.request_id)


def note_user(user_id: str) -> None:
    """Name the user of this request in its log line (a login or refresh, before any access token)."""
    if has_request_context():
        g.user_id = user_id


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    rid = request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    # The url rule, not the path: /users/<user_id> is one series, whatever ids clients send.
    route = request.url_rule.rule if request.url_rule else "unmatched"
    current_app.extensions["metrics"].observe_request(route, request.method, response.status_code, seconds)
    claims = g.get("token_claims") or {}
    fields = {
        "request_id": rid,
        "method": request.method,
        # The path alone: a query string or a header could carry a token.
        "path": request.path,
        "route": route,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": claims.get("sub") or g.get("user_id"),
        "remote_addr": request.remote_addr,
    }
    access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
    return response


def _metrics_view() -> Response:
    metrics: Metrics = current_app.extensions["metrics"]
    body, content_type = metrics.exposition(request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
