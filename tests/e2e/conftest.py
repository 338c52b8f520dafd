"""End-to-end fixtures: the services as real gunicorn processes on free ports, driven over HTTP."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, free_port, refresh_key_env, write_private_key

REPO = Path(__file__).resolve().parents[2]


class Service:
    """One service (`python -m <module> serve`, or `command`) under gunicorn, its output in a log file."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path, command: list[str] | None = None) -> None:
        self.module = module
        self.command = command or [sys.executable, "-m", module, "serve"]
        self.env = env
        self.log_path = log_path
        port_variable = "AUTH_PORT" if module == "auth_service" else "RESOURCE_PORT"
        self.port = int(env[port_variable])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        """Start the service and wait until /healthz answers."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # workers may still be booting
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.module} did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as an operator would, and wait for the exit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def signing_key_file(tmp_path_factory: pytest.TempPathFactory, rsa_private_key) -> Path:
    return write_private_key(rsa_private_key, tmp_path_factory.mktemp("keys") / "signing.pem")


def base_env(redis_url: str, key_file: Path) -> dict[str, str]:
    """The environment both services run with in the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "REDIS_", "JWKS_"))}
    auth_port = free_port()
    env.update(CHEAP_ARGON2_ENV)
    env.update({
        "REDIS_URL": redis_url,
        "AUTH_PORT": str(auth_port),
        "RESOURCE_PORT": str(free_port()),
        "JWT_ISSUER": f"http://127.0.0.1:{auth_port}",
        "JWT_AUDIENCE": "resource-service",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        **refresh_key_env(key_file.parent),
        "WEB_CONCURRENCY": "2",
    })
    return env




StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """`start_service(module, env, command=None)` starts a service for this test; all stop at its end."""
    started = itertools.count()
    with ExitStack() as stack:
        def start(module: str, env: dict[str, str], command: list[str] | None = None) -> Service:
            service = Service(module, env, tmp_path / f"{module}-{next(started)}.log", command)
            stack.callback(service.stop)
            return service.start()

        yield start


@pytest.fixture
def e2e_env(redis_server: RedisServer, signing_key_file: Path) -> dict[str, str]:
    """A fresh environment (new ports) over the shared Redis and the test signing key."""
    return base_env(redis_server.url, signing_key_file)


@pytest.fixture
def auth(start_service: StartService, e2e_env: dict[str, str]) -> Service:
    """The auth service with default settings, 2 gunicorn workers."""
    return start_service("auth_service", e2e_env)
