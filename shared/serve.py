"""Serving a service with gunicorn: its settings from the environment, and `python -m <service> serve`.

Each service's `gunicorn_conf.py` holds `settings = gunicorn_settings(...)` and prepares the
metrics directory (shared/metrics.py). Both `gunicorn -c <service>/gunicorn_conf.py` and
`python -m <service> serve` read that module, so both ways of starting a service run alike.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging.config
import os
import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from shared.config import env_int, env_port, env_str
from shared.logs import logging_config
from shared.metrics import remove_multiprocess_dir


def default_workers() -> int:
    """Gunicorn's rule of thumb: 2 × the cores this process may use + 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cores + 1


def gunicorn_settings(service: str, *, env_prefix: str, default_port: int) -> dict[str, Any]:
    """The gunicorn settings of the package `service`, read from the environment; it listens on
    <env_prefix>_HOST (default 127.0.0.1) and <env_prefix>_PORT (default `default_port`)."""
    host = env_str(os.environ, f"{env_prefix}_HOST", "127.0.0.1")
    port = env_port(os.environ, f"{env_prefix}_PORT", default_port)
    return {
        "wsgi_app": f"{service}:create_app()",
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": env_int(os.environ, "WEB_CONCURRENCY", default_workers(), minimum=1, maximum=64),
        # More than one thread makes gunicorn use its gthread worker, which keeps connections alive:
        # measured faster than sync on 2 cores with keep-alive clients (README, Performance).
        "threads": env_int(os.environ, "GUNICORN_THREADS", 4, minimum=1, maximum=64),
        "proc_name": service,
        # A worker silent this long is stuck (Redis calls time out within seconds): replace it.
        "timeout": 30,
        "graceful_timeout": 10,
        # Gunicorn's control socket defaults to one path per user: two services would share it.
        "control_socket_disable": True,
        # The app logs each request itself, in JSON with its request id: no second access log.
        "accesslog": None,
        "errorlog": "-",
        "logconfig_dict": logging_config(service),
        "logger_class": AppLogsRequests,
        "post_fork": post_fork,
        "post_worker_init": post_worker_init,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }


class AppLogsRequests(Logger):  # type: ignore[misc]
    """Gunicorn's logger without its access log, which the app writes itself.

    With a logging config gunicorn builds every request's access-log fields (a dict of some
    thirty) even when its access logger drops the line: 5 % of a worker's time on /healthz.
    """

    @property
    def access_log_enabled(self) -> bool:
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Nothing: shared/observability.py logs each request, in JSON with its request id."""


def child_exit(server: Any, worker: Any) -> None:
    """Gunicorn hook: a worker exited; drop its live-gauge files (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """Gunicorn hook: the server stops; remove the metrics directory if it was a temporary one."""
    remove_multiprocess_dir()


def write_json_error(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """Gunicorn's answer to a request it cannot read, as the contract's JSON instead of an HTML page."""
    # `message` quotes the offending request line or header: the client gets the reason alone.
    body = json.dumps({
        "error": "server_error" if status >= 500 else "invalid_request",
        "error_description": f"{reason}: the HTTP request could not be read",
    }).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


# Gunicorn answers the requests it cannot read (URI too long, headers too large, malformed
# HTTP) itself, before any WSGI code runs, through `util.write_error(sock, status_int, reason,
# mesg)` called from `Worker.handle_error`; it has no setting or hook for that answer. So each
# worker replaces that one function, after checking that it is still the one gunicorn calls
# with those arguments: pyproject.toml pins the gunicorn versions this was checked against.
ERROR_WRITER_PARAMETERS = ("sock", "status_int", "reason", "mesg")


def check_error_writer() -> None:
    """RuntimeError when this gunicorn no longer answers unreadable requests through
    `util.write_error(sock, status_int, reason, mesg)`, which `post_fork` replaces."""
    from gunicorn import __version__
    from gunicorn.workers.base import Worker

    writer = getattr(util, "write_error", None)
    parameters = tuple(inspect.signature(writer).parameters) if callable(writer) else ()
    if parameters != ERROR_WRITER_PARAMETERS or "write_error" not in Worker.handle_error.__code__.co_names:
        raise RuntimeError(
            f"gunicorn {__version__}: Worker.handle_error no longer calls util.write_error"
            f"{ERROR_WRITER_PARAMETERS}; shared/serve.py cannot make its error answers JSON"
        )


def post_fork(server: Any, worker: Any) -> None:
    """Gunicorn hook, in each new worker: the errors gunicorn answers itself are the contract's
    JSON too. The worker process serves only our app, so the replacement changes nothing else;
    on a gunicorn where it would not work the worker fails to boot, and gunicorn stops."""
    check_error_writer()
    util.write_error = write_json_error


# app.extensions[WORKER_STARTS]: callables each worker runs once its app is loaded (threads of its
# own, such as the revocation listener: a thread started before the fork would not survive it).
WORKER_STARTS = "worker_starts"


def post_worker_init(worker: Any) -> None:
    """Gunicorn hook, in each worker once the app is loaded: start what the app runs beside requests."""
    for start in getattr(worker.wsgi, "extensions", {}).get(WORKER_STARTS, ()):
        start()


class _PrebuiltApplication(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving an app built before the workers fork: a bad setting fails here, once."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._app


def serve(conf_module: str, build_app: Callable[[], Flask]) -> None:
    """Serve the app `build_app` makes with the settings of `conf_module`, until SIGINT/SIGTERM."""
    # The config first: it decides where metrics live, which must precede building the app.
    settings: dict[str, Any] = importlib.import_module(conf_module).settings
    logging.config.dictConfig(settings["logconfig_dict"])
    try:
        app = build_app()
    except BaseException:
        remove_multiprocess_dir()
        raise
    _PrebuiltApplication(app, settings).run()
