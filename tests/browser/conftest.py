"""Browser tests: Debian's Chromium, headless, driven by Playwright, against the demo page served
by web/serve.py and both services under gunicorn over the tests' Redis.

The page is opened as http://localhost:<port>, the services as http://localhost:<port> too
(one site, as the cookie needs); cross-site pages are served on 127.0.0.1, another site.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.conftest import NO_LIMITS, RedisServer, free_port
from tests.e2e.conftest import REPO, Service, base_env
from tests.smtp import SmtpSink

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ACCESS_TOKEN_TTL = 3  # seconds: the tests wait for tokens to expire
REUSE_GRACE = 2
PASSWORD = "correct horse battery"
REDIS_DB = 7  # a database of its own on the shared server: other tests flush db 0


@dataclass
class Stack:
    """What the browser talks to, and the logs that tell what reached the services."""

    web_url: str
    auth_url: str
    resource_url: str
    auth: Service
    resource: Service
    redis: redis.Redis
    mail: SmtpSink | None = None  # with EMAIL=on: the SMTP server the mailer sends to

    def access(self, service: Service, path: str, method: str = "POST") -> list[dict[str, Any]]:
        """The access-log lines of `service` for `method path`, oldest first."""
        lines = []
        for raw in service.log().splitlines():
            if not raw.startswith("{"):
                continue
            line = json.loads(raw)
            if line.get("logger") == "access" and line["path"] == path and line["method"] == method:
                lines.append(line)
        return lines

    def statuses(self, service: Service, path: str, method: str = "POST", since: int = 0) -> list[int]:
        return [line["status"] for line in self.access(service, path, method)[since:]]

    def register(self, email: str, name: str | None = None) -> None:
        body = {"email": email, "password": PASSWORD, **({"name": name} if name else {})}
        response = requests.post(f"{self.auth_url}/register", json=body, timeout=10)
        assert response.status_code == 201, response.text


class WebServer:
    """web/serve.py, the demo page's own static server."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int) -> None:
        self.port = port
        self.env = {**env, "WEB_PORT": str(self.port)}
        self.log_path = log_path
        self.url = f"http://localhost:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, str(REPO / "web" / "serve.py")], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/config.json", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web/serve.py did not start: {self.log_path.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Settings of the module's services on top of the defaults; a module overrides this fixture.
    With EMAIL=on the stack adds an SMTP server and the mailer, and links lead to the page."""
    return {}


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, rsa_private_key,
          stack_env: dict[str, str]) -> Iterator[Stack]:
    """Both services and the demo page, for the tests of one module."""
    from tests.conftest import write_private_key
    from tests.e2e.test_email_e2e import MailerProcess

    logs = tmp_path_factory.mktemp("browser-logs")
    key_file = write_private_key(rsa_private_key, logs / "signing.pem")
    env = base_env(redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}", key_file)
    web_port = free_port()
    env.update(NO_LIMITS)
    env.update({
        "ALLOWED_ORIGINS": f"http://localhost:{web_port}",
        "ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL),
        "REFRESH_REUSE_GRACE": str(REUSE_GRACE),
        "JWT_CLOCK_SKEW": "0",  # an expired token is refused at once
        **stack_env,
    })
    auth_url = f"http://localhost:{env['AUTH_PORT']}"
    with ExitStack() as stack:
        mail = None
        if env.get("EMAIL") == "on":
            mail = SmtpSink().start()
            stack.callback(mail.stop)
            env.update({"SMTP_URL": mail.url, "MAIL_FROM": "Teamroom <auth@teamroom.example>",
                        "PUBLIC_URL": f"http://localhost:{web_port}"})
            mailer = MailerProcess(env, logs / "mailer.log")
            stack.callback(mailer.stop)
            mailer.start()
        auth = Service("auth_service", env, logs / "auth.log")
        stack.callback(auth.stop)
        auth.start()
        resource = Service("resource_service", {**env, "JWKS_URL": f"{auth.url}/.well-known/jwks.json"},
                           logs / "resource.log")
        stack.callback(resource.stop)
        resource.start()
        web = WebServer(env, logs / "web.log", web_port)
        stack.callback(web.stop)
        web.start()
        client = redis.Redis.from_url(env["REDIS_URL"])
        stack.callback(client.close)
        yield Stack(web.url, auth_url, f"http://localhost:{env['RESOURCE_PORT']}", auth, resource, client, mail)


@pytest.fixture(autouse=True)
def empty_store(stack: Stack) -> None:
    """Each test starts with no account and no session."""
    stack.redis.flushdb()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; Playwright downloads no browser of its own."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (cookies, storage) for one test; its tabs share it."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    yield context
    context.close()


class _AttackerPages(BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802
        body = self.pages.get(self.path.split("?")[0], "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def attacker_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server on 127.0.0.1 (another site than localhost): (its URL, the pages it serves by path)."""
    pages: dict[str, str] = {}
    handler = type("Pages", (_AttackerPages,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()
