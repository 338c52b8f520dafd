"""The resource service: a user directory behind access tokens checked with public keys alone."""

from __future__ import annotations

from flask import Flask

from resource_service.api import ResourceServices, auth, bp
from resource_service.config import ResourceConfig
from shared.cors import init_cors
from shared.directory import AccountDirectory
from shared.discovery import discover_jwks_uri
from shared.dpop import DPoP, MemoryReplayStore, NonceSchedule, ProofVerifier
from shared.errors import register_error_handlers
from shared.http import MAX_BODY_BYTES
from shared.introspection import Introspector, init_introspection
from shared.jwks import JwksKeys, load_pem_public_keys
from shared.jwt import KeySource
from shared.observability import init_observability
from shared.revocation import init_revocation_push
from shared.store import connect_redis, connect_replica_reads


def key_source(config: ResourceConfig) -> KeySource:
    """The trusted public keys: the PEM files, or the auth service's JWKS, named or discovered."""
    if config.public_key_pems:
        return load_pem_public_keys(config.public_key_pems)
    return JwksKeys(
        config.jwks_url or discover_jwks_uri(config.issuer),
        refetch_interval=config.jwks_refetch_interval,
        max_age=config.jwks_cache_ttl,
    )


def init_dpop(app: Flask, config: ResourceConfig) -> None:
    """DPoP on every protected endpoint: each worker remembers jtis in its own memory."""
    nonces = None
    if config.dpop.nonces and config.dpop.nonce_secret is not None:
        nonces = NonceSchedule(config.dpop.nonce_secret, config.dpop.nonce_lifetime, server=config.public_urls[0])
    verifier = ProofVerifier(MemoryReplayStore(), window=config.dpop.window, nonces=nonces)
    DPoP(app, verifier, public_urls=config.public_urls, required=config.dpop.required)


def create_app(config: ResourceConfig | None = None) -> Flask:
    """Build the resource service from `config` (default: the environment)."""
    config = config or ResourceConfig.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics = init_observability(app)
    init_cors(app, config.allowed_origins, credentials=False)
    client = connect_redis(config.redis_url)
    users = AccountDirectory(client, replicas=connect_replica_reads(config.redis_url))
    app.extensions["resource"] = ResourceServices(redis=client, users=users)
    init_dpop(app, config)
    if config.revocation_push:
        init_revocation_push(app, config.redis_url, leeway=config.clock_skew, metrics=metrics)
    if config.introspect:
        introspector = Introspector(
            config.introspection_url, config.introspection_client_id, config.introspection_client_secret,
            cache_ttl=config.introspection_cache_ttl,
        )
        init_introspection(app, introspector, metrics=metrics)
    register_error_handlers(app)
    auth.init_app(app, issuer=config.issuer, audience=config.audience, keys=key_source(config),
                  leeway=config.clock_skew)
    app.register_blueprint(bp)
    return app
