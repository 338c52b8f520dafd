"""Reading typed settings from the environment (12-factor), failing at start with the variable's name."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

from shared.store import cluster_nodes

# Both services agree on these out of the box; deployments set JWT_ISSUER and JWT_AUDIENCE.
DEFAULT_ISSUER = "http://127.0.0.1:8001"
DEFAULT_AUDIENCE = "resource-service"


class ConfigError(Exception):
    """A setting is missing or bad; the message names the variable."""


def env_str(environ: Mapping[str, str], name: str, default: str | None = None) -> str:
    """A non-empty string setting; without a default it is required."""
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is required but not set")
    return default


def env_choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default when unset)."""
    value = environ.get(name, "").strip() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_int(
    environ: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """An integer setting within [minimum, maximum]."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return value


def env_port(environ: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port setting."""
    return env_int(environ, name, default, minimum=1, maximum=65535)


def env_redis_url(environ: Mapping[str, str], default: str = "redis://127.0.0.1:6379/0") -> str:
    """REDIS_URL: one server (redis://, rediss://, unix://) or a Redis Cluster (redis+cluster://)."""
    url = env_str(environ, "REDIS_URL", default)
    if urlparse(url).scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss://, unix:// or redis+cluster://, got {url!r}"
        )
    try:
        cluster_nodes(url)
    except ValueError as exc:
        raise ConfigError(f"REDIS_URL {exc}") from None
    return url


def read_file(name: str, path: str) -> bytes:
    """The bytes of a file named by setting `name`."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path!r}: {exc.strerror}") from None


def env_http_url(environ: Mapping[str, str], name: str) -> str | None:
    """An optional http:// or https:// URL setting, None when unset."""
    url = environ.get(name, "").strip()
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url
