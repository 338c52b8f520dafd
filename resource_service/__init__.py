"""The resource service: a user directory behind access tokens checked with public keys alone."""

from __future__ import annotations

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from resource_service.api import ResourceServices, bp
from resource_service.config import ResourceConfig
from resource_service.users import UserDirectory
from shared.errors import register_error_handlers
from shared.jwks import JwksKeys, load_pem_public_keys
from shared.jwt import KeySource, TokenVerifier, init_verifier

MAX_BODY_BYTES = 64 * 1024


def connect_redis(url: str) -> redis.Redis:
    """A client whose calls fail fast (503) when Redis is away, and reconnect when it is back."""
    # One immediate retry covers a pooled connection that died with a Redis restart; the
    # default (10 retries with backoff) would hold a request for seconds during an outage.
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 1)
    )


def key_source(config: ResourceConfig) -> KeySource:
    """The trusted public keys: the PEM files, or the auth service's JWKS."""
    if config.jwks_url:
        return JwksKeys(
            config.jwks_url,
            refetch_interval=config.jwks_refetch_interval,
            max_age=config.jwks_cache_ttl,
        )
    return load_pem_public_keys(config.public_key_pems)


def create_app(config: ResourceConfig | None = None) -> Flask:
    """Build the resource service from `config` (default: the environment)."""
    config = config or ResourceConfig.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    verifier = TokenVerifier(
        key_source(config), issuer=config.issuer, audience=config.audience, leeway=config.clock_skew
    )
    client = connect_redis(config.redis_url)
    app.extensions["resource"] = ResourceServices(redis=client, users=UserDirectory(client))
    init_verifier(app, verifier)
    register_error_handlers(app)
    app.register_blueprint(bp)
    return app
