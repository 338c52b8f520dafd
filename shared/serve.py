"""Serving a prebuilt Flask app with gunicorn in the foreground (`python -m <service> serve`)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from shared.config import env_int


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
        "accesslog": "-",
        "errorlog": "-",
        # The request line only: never headers or bodies, which carry tokens and passwords.
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        "graceful_timeout": 10,
        # Gunicorn's control socket defaults to one path per user: two services would share it.
        "control_socket_disable": True,
    }
    _PrebuiltApplication(app, options).run()
