"""Reading typed settings from the environment (12-factor), failing at start with the variable's name."""

from __future__ import annotations

import re
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
    scheme = urlparse(url).scheme
    if scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        # The scheme alone: the URL may carry a password.
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss://, unix:// or redis+cluster://, got {scheme!r}"
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


def env_http_urls(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """An optional comma-separated list of http:// or https:// URLs, empty when unset."""
    return tuple(url for item in environ.get(name, "").split(",") if (url := env_http_url({name: item}, name)))


def env_http_url(environ: Mapping[str, str], name: str) -> str | None:
    """An optional http:// or https:// URL setting, None when unset."""
    url = environ.get(name, "").strip()
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url


# Hosts on which a browser treats plain http:// as a secure context (a local machine).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def origin_of(url: str) -> str:
    """The origin (RFC 6454 §6.2) a browser would send for a page at `url`: scheme://host[:port]."""
    parsed = urlparse(url)
    default_port = {"http": 80, "https": 443}.get(parsed.scheme)
    host = (parsed.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port is not None and parsed.port != default_port else ""
    return f"{parsed.scheme.lower()}://{host}{port}"


def env_origins(environ: Mapping[str, str], name: str = "ALLOWED_ORIGINS") -> tuple[str, ...]:
    """Comma-separated exact origins, spelled as browsers send them in `Origin`; default none.

    https:// only, except on loopback hosts (local development): a page served over plain
    http elsewhere can be rewritten on the way, and could then spend its user's session.
    """
    origins = []
    for raw in environ.get(name, "").split(","):
        value = raw.strip()
        if not value:
            continue
        try:
            parsed = urlparse(value)
            host = parsed.hostname or ""
            plain_host = re.fullmatch(r"[a-z0-9.-]+|[0-9a-f:.]+", host) is not None
            canonical = origin_of(value) if parsed.scheme in ("http", "https") and plain_host else ""
        except ValueError:
            canonical = ""
        if value in ("*", "null") or not canonical:
            raise ConfigError(f"{name} takes exact origins such as https://app.example.com, got {value!r}")
        if value != canonical:
            raise ConfigError(f"{name}: write {value!r} as the browser sends it, {canonical!r} (no path, "
                              "no trailing slash, lower case, no default port)")
        if parsed.scheme != "https" and parsed.hostname not in LOOPBACK_HOSTS:
            raise ConfigError(f"{name}: {value!r} must be an https:// origin (plain http only on localhost)")
        origins.append(value)
    return tuple(dict.fromkeys(origins))
