"""Fixtures of the integration tests: apps over the tests' own Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from auth_service import create_app
from auth_service.config import AuthConfig
from resource_service import create_app as create_resource_app
from resource_service.config import ResourceConfig
from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, refresh_key_env, write_private_key, write_public_key
from tests.jwt_forge import AUDIENCE, ISSUER


def app_maker(build: Callable[[dict[str, str]], Flask], extension: str) -> Iterator[Callable[..., Flask]]:
    """Yield `make(**env)`, which builds an app with `build(env)`; then close every app's Redis
    connections (`app.extensions[extension].redis`)."""
    apps: list[Flask] = []

    def make(**env: str) -> Flask:
        apps.append(build(env))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions[extension].redis.close()


@pytest.fixture
def make_auth_app(redis_client, redis_server: RedisServer, tmp_path, rsa_private_key) -> Iterator[Callable[..., Flask]]:
    """`make_auth_app(**env)`: an auth app over the tests' Redis (flushed) and signing key, `env`
    overriding any setting (REDIS_URL, JWT_PRIVATE_KEY_FILE too); its connections close after the test."""
    key_file = write_private_key(rsa_private_key, tmp_path / "auth-signing.pem")
    base = {"REDIS_URL": redis_server.url, "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(tmp_path),
            **CHEAP_ARGON2_ENV}
    yield from app_maker(lambda env: create_app(AuthConfig.from_env({**base, **env})), "auth")


@pytest.fixture
def make_resource_app(
    redis_client, redis_server: RedisServer, tmp_path, rsa_private_key
) -> Iterator[Callable[..., Flask]]:
    """`make_resource_app(**env)`: a resource app over the tests' Redis (flushed), trusting the public
    half of the tests' signing key for tokens of tests.jwt_forge's issuer and audience, `env`
    overriding any setting; its connections close after the test."""
    key_file = write_public_key(rsa_private_key, tmp_path / "resource-trusted.pem")
    base = {"REDIS_URL": redis_server.url, "JWT_PUBLIC_KEY_FILE": str(key_file), "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE}
    yield from app_maker(lambda env: create_resource_app(ResourceConfig.from_env({**base, **env})), "resource")
