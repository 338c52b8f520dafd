"""A Redis that hangs (SIGSTOP) rather than refusing: the socket timeout bounds each request.

A stopped Redis refuses connections at once (see the outage tests beside each service's
API tests). A paused one accepts them in the kernel and never answers, so only the
client's socket timeout (2 s, shared/store.py) stands between a request and a hang.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from auth_service import create_app as create_auth_app
from auth_service.config import AuthConfig
from resource_service import create_app as create_resource_app
from resource_service.config import ResourceConfig
from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, refresh_key_env, write_private_key, write_public_key
from tests.jwt_forge import AUDIENCE, ISSUER, make_claims, sign

PASSWORD = "correct horse battery"
HANG_BOUND = 6  # seconds: one 2 s socket timeout and slack for a loaded machine, far below a hang


@pytest.fixture
def server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@contextmanager
def paused(server: RedisServer) -> Iterator[None]:
    """Redis frozen (SIGSTOP) inside the block, thawed (SIGCONT) after it, whatever happens."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["error"] == "temporarily_unavailable"


def test_a_hung_redis_makes_the_auth_service_answer_503_in_bounded_time(server, tmp_path, rsa_private_key):
    key_file = write_private_key(rsa_private_key, tmp_path / "k.pem")
    app = create_auth_app(AuthConfig.from_env({
        "REDIS_URL": server.url, "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
            **CHEAP_ARGON2_ENV,
    }))
    client = app.test_client()
    try:
        client.post("/register", json={"email": "alice@example.com", "password": PASSWORD})
        pair = client.post("/login", json={"email": "alice@example.com", "password": PASSWORD}).json
        spend = {"refresh_token": pair["refresh_token"]}
        with paused(server):
            for call in (lambda: client.post("/refresh", json=spend), lambda: client.get("/readyz")):
                response, seconds = timed(call)
                assert_unavailable(response)
                assert seconds < HANG_BOUND
            assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        # The refresh that timed out may or may not have reached Redis; either way, sending it
        # again (within the reuse grace) continues the same session.
        again = client.post("/refresh", json=spend)
        assert again.status_code == 200, again.json
        assert client.post("/refresh", json={"refresh_token": again.json["refresh_token"]}).status_code == 200
    finally:
        app.extensions["auth"].redis.close()


def test_a_hung_redis_makes_the_directory_answer_503_and_tokens_still_work(server, tmp_path, rsa_private_key):
    key_file = write_public_key(rsa_private_key, tmp_path / "public.pem")
    app = create_resource_app(ResourceConfig.from_env({
        "REDIS_URL": server.url, "JWT_PUBLIC_KEY_FILE": str(key_file), "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
    }))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {sign(rsa_private_key, make_claims())}"}
    try:
        assert client.get("/users", headers=headers).status_code == 200
        with paused(server):
            response, seconds = timed(lambda: client.get("/users", headers=headers))
            assert_unavailable(response)
            assert seconds < HANG_BOUND
            assert client.get("/me", headers=headers).status_code == 200  # no store is read for /me
        assert client.get("/users", headers=headers).status_code == 200
    finally:
        app.extensions["resource"].redis.close()
