"""Serve a bench app (`module:factory()` or `module:name`) on a port with the services' gunicorn settings.

`python bench/serve_app.py bench.hello:app 9123`. The worker class, workers, threads and
timeouts are the resource service's, read from the same environment; nothing else of the
services' setup (their logging, hooks and metrics are what the bench measures against).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resource_service.config import ADDRESS_PREFIX, DEFAULT_PORT  # noqa: E402
from shared.serve import gunicorn_settings  # noqa: E402

SAME = ("workers", "threads", "worker_class", "timeout", "graceful_timeout", "keepalive", "control_socket_disable")


def service_settings() -> dict[str, Any]:
    """The resource service's gunicorn settings, from this process's environment."""
    return gunicorn_settings("resource_service", env_prefix=ADDRESS_PREFIX, default_port=DEFAULT_PORT)


class App(BaseApplication):  # type: ignore[misc]
    def __init__(self, wsgi_app: str, options: dict[str, Any]) -> None:
        self.wsgi_app, self.options = wsgi_app, options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from gunicorn.util import import_app

        return import_app(self.wsgi_app)


if __name__ == "__main__":
    wsgi_app, port = sys.argv[1], sys.argv[2]
    settings = service_settings()
    options = {name: settings[name] for name in SAME if name in settings}
    App(wsgi_app, {**options, "bind": f"127.0.0.1:{port}"}).run()
