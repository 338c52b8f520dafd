"""Fixtures of the integration tests: apps over the tests' own Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from auth_service import create_app
from auth_service.config import AuthConfig
from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, refresh_key_env, write_private_key


@pytest.fixture
def make_auth_app(redis_client, redis_server: RedisServer, tmp_path, rsa_private_key) -> Iterator[Callable[..., Flask]]:
    """`make_auth_app(**env)`: an auth app over the tests' Redis (flushed) and signing key, `env`
    overriding any setting (REDIS_URL, JWT_PRIVATE_KEY_FILE too); its connections close after the test."""
    key_file = write_private_key(rsa_private_key, tmp_path / "auth-signing.pem")
    apps: list[Flask] = []

    def make(**env: str) -> Flask:
        config = AuthConfig.from_env({
            "REDIS_URL": redis_server.url, "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(tmp_path),
                **CHEAP_ARGON2_ENV, **env,
        })
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["auth"].redis.close()
