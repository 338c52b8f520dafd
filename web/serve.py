"""Serve the demo page (this directory) on an origin of its own: `python web/serve.py`.

Standard library only. Settings from the environment: WEB_HOST (default 127.0.0.1),
WEB_PORT (default 8000); AUTH_URL and RESOURCE_URL, the services as the browser reaches
them, default: the host name the page was opened under with AUTH_PORT (8001) and
RESOURCE_PORT (8002), so that http://localhost:8000 talks to http://localhost:8001
and http://127.0.0.1:8000 to http://127.0.0.1:8001 (the same site each, as the cookie needs).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SERVED = {"/": "index.html", "/index.html": "index.html", "/styles.css": "styles.css", "/app.js": "app.js",
          # Where the auth service's mails link to (PUBLIC_URL/...?token=): the page, which reads the path.
          "/reset-password": "index.html", "/verify-email": "index.html"}


def service_url(host_header: str, variable: str, port_variable: str, default_port: int) -> str:
    """A service's URL as the browser reaches it: `variable`, else this page's host at the service's port."""
    configured = os.environ.get(variable, "").strip().rstrip("/")
    if configured:
        return configured
    try:
        host = urlsplit(f"//{host_header}").hostname or "127.0.0.1"
    except ValueError:  # a Host header that is no host ("[", "a]b"): the loopback, as without one
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{os.environ.get(port_variable, default_port)}"


class DemoHandler(SimpleHTTPRequestHandler):
    """The page's few files, /config.json, and nothing else (no directory listings)."""

    server_version = "demo"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        path = urlsplit(self.path).path
        if path == "/config.json":
            self.send_config()
        elif path in SERVED:
            self.send_file(HERE / SERVED[path])
        else:
            self.send_error(404)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def urls(self) -> tuple[str, str]:
        host = self.headers.get("Host", "127.0.0.1")
        return (service_url(host, "AUTH_URL", "AUTH_PORT", 8001),
                service_url(host, "RESOURCE_URL", "RESOURCE_PORT", 8002))

    def send_config(self) -> None:
        auth_url, resource_url = self.urls()
        self.send_body(json.dumps({"auth_url": auth_url, "resource_url": resource_url}).encode(), "application/json")

    def send_file(self, file: Path) -> None:
        types = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript"}
        self.send_body(file.read_bytes(), types[file.suffix])

    def send_body(self, body: bytes, content_type: str) -> None:
        auth_url, resource_url = self.urls()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        # Scripts from this origin and the auth service (the client) only; no inline script.
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' {auth_url}; connect-src 'self' {auth_url} {resource_url}; "
            "img-src 'self' data:; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the http.server API)
        sys.stderr.write(f"web {self.address_string()} {format % args}\n")


def main() -> None:
    host = os.environ.get("WEB_HOST", "127.0.0.1")
    port = int(os.environ.get("WEB_PORT", "8000"))
    server = ThreadingHTTPServer((host, port), DemoHandler)
    print(f"demo page on http://{'localhost' if host == '127.0.0.1' else host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
