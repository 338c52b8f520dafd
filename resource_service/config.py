"""The resource service's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    ConfigError,
    env_choice,
    env_http_url,
    env_http_urls,
    env_int,
    env_origins,
    env_port,
    env_redis_url,
    env_str,
    read_file,
)
from shared.dpop import DPoPConfig


def default_public_url(environ: Mapping[str, str]) -> str:
    """Where `serve` listens: right for a local run; behind a proxy, set RESOURCE_PUBLIC_URL."""
    host = env_str(environ, "RESOURCE_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::"):  # noqa: S104 (listening everywhere; clients call one address of it)
        host = "127.0.0.1"
    port = env_port(environ, "RESOURCE_PORT", 8002)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

# `serve` listens on RESOURCE_HOST (default 127.0.0.1) and RESOURCE_PORT (default 8002).
ADDRESS_PREFIX = "RESOURCE"
DEFAULT_PORT = 8002


@dataclass(frozen=True)
class ResourceConfig:
    redis_url: str
    issuer: str
    audience: str
    # At most one of the two: PEM texts of trusted public keys, or the auth service's JWKS URL.
    # Neither: the JWKS URL comes from the issuer's metadata (RFC 8414) at start.
    public_key_pems: tuple[bytes, ...]
    jwks_url: str | None
    jwks_refetch_interval: int
    jwks_cache_ttl: int
    clock_skew: int
    # The URLs clients call this service at, the canonical one first: what DPoP proofs' htu must
    # name (never the Host header).
    public_urls: tuple[str, ...]
    dpop: DPoPConfig
    # REVOCATION_PUSH=redis: refuse the tokens of ended sessions as the auth service announces them.
    revocation_push: bool = False
    # REVOCATION_CHECK=introspect: ask the auth service about each token (cached introspection_cache_ttl s).
    introspect: bool = False
    introspection_url: str = ""
    introspection_client_id: str = ""
    introspection_client_secret: str = ""
    introspection_cache_ttl: int = 5
    # Pages that may call the service from a browser (CORS), and, on the auth service, use cookie mode.
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ResourceConfig:
        """Build the config from `environ`; ConfigError names the first bad variable."""
        raw_files = environ.get("JWT_PUBLIC_KEY_FILE", "")
        key_files = [path.strip() for path in raw_files.split(",") if path.strip()]
        jwks_url = env_http_url(environ, "JWKS_URL")
        if key_files and jwks_url:
            raise ConfigError("set at most one of JWT_PUBLIC_KEY_FILE and JWKS_URL (both are set)")
        if not key_files and not jwks_url and not environ.get("JWT_ISSUER", "").strip():
            # The default issuer is for a local run; keys are never looked for there unasked.
            raise ConfigError(
                "JWT_ISSUER is required to find the keys in its metadata when neither "
                "JWT_PUBLIC_KEY_FILE nor JWKS_URL is set"
            )
        dpop = DPoPConfig.from_env(environ)
        if dpop.nonces and dpop.nonce_secret is None:
            raise ConfigError("DPOP_NONCE_SECRET is required with DPOP_NONCE=on: every replica derives nonces from it")
        issuer = env_str(environ, "JWT_ISSUER", DEFAULT_ISSUER)
        push = env_choice(environ, "REVOCATION_PUSH", ("off", "redis"))
        introspect = env_choice(environ, "REVOCATION_CHECK", ("local", "introspect")) == "introspect"
        return cls(
            redis_url=env_redis_url(environ),
            issuer=issuer,
            audience=env_str(environ, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
            public_key_pems=tuple(read_file("JWT_PUBLIC_KEY_FILE", path) for path in key_files),
            jwks_url=jwks_url,
            # At most one JWKS fetch per interval, however many unknown kids arrive.
            jwks_refetch_interval=env_int(
                environ, "JWKS_REFETCH_INTERVAL", 30, minimum=1, maximum=3600
            ),
            # Known keys are refetched this often, so that a key removed upstream stops verifying.
            jwks_cache_ttl=env_int(environ, "JWKS_CACHE_TTL", 300, minimum=1, maximum=86_400),
            clock_skew=env_int(environ, "JWT_CLOCK_SKEW", 30, maximum=300),
            public_urls=env_http_urls(environ, "RESOURCE_PUBLIC_URL") or (default_public_url(environ),),
            dpop=dpop,
            revocation_push=push == "redis",
            introspect=introspect,
            introspection_url=(env_http_url(environ, "INTROSPECTION_URL") or issuer.rstrip("/") + "/introspect")
            if introspect else "",
            introspection_client_id=env_str(environ, "INTROSPECTION_CLIENT_ID") if introspect else "",
            introspection_client_secret=env_str(environ, "INTROSPECTION_CLIENT_SECRET") if introspect else "",
            introspection_cache_ttl=env_int(environ, "INTROSPECTION_CACHE_TTL", 5, maximum=60),
            allowed_origins=env_origins(environ),
        )
