"""Serving a prebuilt Flask app with gunicorn in the foreground (`python -m <service> serve`)."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.sync import SyncWorker

from shared.config import env_int


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


class JsonErrorWorker(SyncWorker):  # type: ignore[misc]
    """Gunicorn's sync worker; the errors gunicorn answers itself (URI too long, headers too
    large, malformed HTTP) are JSON too."""

    def init_process(self) -> None:
        # Gunicorn's workers call util.write_error for these; this process serves only our app.
        util.write_error = write_json_error
        super().init_process()


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


def run_gunicorn(app: Flask, host: str, port: int) -> None:
    """Serve `app` on host:port until SIGINT/SIGTERM; WEB_CONCURRENCY sets the worker count."""
    options = {
        "bind": f"{host}:{port}",
        "workers": env_int(os.environ, "WEB_CONCURRENCY", 2, minimum=1, maximum=64),
        "worker_class": "shared.serve.JsonErrorWorker",
        "accesslog": "-",
        "errorlog": "-",
        # The request line only: never headers or bodies, which carry tokens and passwords.
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        "graceful_timeout": 10,
        # Gunicorn's control socket defaults to one path per user: two services would share it.
        "control_socket_disable": True,
    }
    _PrebuiltApplication(app, options).run()
