"""What operators see of each request: a request id, one JSON log line, and Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import time

from flask import Flask, Response, current_app, g, has_request_context, request

from shared.metrics import Metrics

log = logging.getLogger(__name__)
access_log = logging.getLogger("access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as WSGI hands it over
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
        g.request_id = _new_request_id(request.environ.get(REQUEST_ID_ENVIRON))
    return str(g.request_id)


def _new_request_id(given: str | None) -> str:
    # 128 random bits in hex, the length of a uuid4 without building one (a third of the time).
    return given if given and SAFE_REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def note_user(user_id: str) -> None:
    """Name the user of this request in its log line (a login or refresh, before any access token)."""
    if has_request_context():
        g.user_id = user_id


def _start_request() -> None:
    # One lookup of g, not one per name: each goes through a context-local proxy.
    state = g._get_current_object()
    state.request_started = time.perf_counter()
    if "request_id" not in state:
        state.request_id = _new_request_id(request.environ.get(REQUEST_ID_ENVIRON))


def _finish_request(response: Response) -> Response:
    """Every answer, errors included: its request id header, its metrics and its log line.

    Runs on every request, so it reads the request and g once each and makes the log record
    itself (Logger.info would also walk the stack for a caller no line shows).
    """
    state, req = g._get_current_object(), request._get_current_object()  # type: ignore[attr-defined]
    now = time.perf_counter()
    seconds = now - state.get("request_started", now)
    rid = state.get("request_id") or request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    # The url rule, not the path: /users/<user_id> is one series, whatever ids clients send.
    rule = req.url_rule
    route = rule.rule if rule else "unmatched"
    method, path, status = req.method, req.path, response.status_code
    current_app.extensions["metrics"].observe_request(route, method, status, seconds)
    if access_log.isEnabledFor(logging.INFO):
        claims = state.get("token_claims") or {}
        fields = {
            "request_id": rid,
            "method": method,
            # The path alone: a query string or a header could carry a token.
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "user_id": claims.get("sub") or state.get("user_id"),
            "remote_addr": req.remote_addr,
        }
        record = access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, "%s %s %s",
                                       (method, path, status), None, extra={"fields": fields})
        access_log.handle(record)
    return response


def _metrics_view() -> Response:
    metrics: Metrics = current_app.extensions["metrics"]
    body, content_type = metrics.exposition(request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
