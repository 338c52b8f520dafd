"""The auth service's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from shared.config import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    ConfigError,
    env_http_url,
    env_int,
    env_origins,
    env_redis_url,
    env_str,
    read_file,
)

# `serve` listens on AUTH_HOST (default 127.0.0.1) and AUTH_PORT (default 8001).
ADDRESS_PREFIX = "AUTH"
DEFAULT_PORT = 8001

SMTP_SECURITY = {"smtp": ("plain", 25), "smtps": ("tls", 465), "smtp+starttls": ("starttls", 587)}


@dataclass(frozen=True)
class HashingConfig:
    """Argon2id cost; the command line needs it without the rest of AuthConfig."""

    memory_kib: int
    iterations: int
    lanes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> HashingConfig:
        """OWASP's Argon2id minimum by default: m=19 MiB, t=2, p=1."""
        return cls(
            memory_kib=env_int(environ, "ARGON2_MEMORY_KIB", 19_456, minimum=8),
            iterations=env_int(environ, "ARGON2_ITERATIONS", 2, minimum=1),
            lanes=env_int(environ, "ARGON2_LANES", 1, minimum=1, maximum=64),
        )


def env_refresh_token_ttl(environ: Mapping[str, str]) -> int:
    """REFRESH_TOKEN_TTL: a session's idle life, and how long a login keeps its address known."""
    return env_int(environ, "REFRESH_TOKEN_TTL", 1_209_600, minimum=1)


@dataclass(frozen=True)
class RateLimitConfig:
    """Login throttling per account, and request rates per client address; 0 turns a limit off."""

    login_failures_before_delay: int
    login_delay: int  # seconds locked after the last free failure; doubles with each further one
    login_delay_max: int
    login_failure_memory: int  # seconds without a failure, past the lock, that forget an email's failures
    login_per_address: int  # requests a minute from one client address, and a burst of as many
    register_per_address: int
    refresh_per_address: int
    client_auth_per_address: int  # failed client authentications a minute from one client address
    known_address_ttl: int  # seconds a login keeps its address known to the email: REFRESH_TOKEN_TTL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RateLimitConfig:
        """Generous defaults: a person mistyping never waits, a script guessing soon does."""
        delay = env_int(environ, "LOGIN_DELAY", 1, maximum=86_400)
        delay_max = env_int(environ, "LOGIN_DELAY_MAX", 900, minimum=1, maximum=86_400)
        if delay_max < delay:
            raise ConfigError(f"LOGIN_DELAY_MAX must be at least LOGIN_DELAY ({delay}), got {delay_max}")
        return cls(
            login_failures_before_delay=env_int(environ, "LOGIN_FAILURES_BEFORE_DELAY", 5, minimum=1),
            login_delay=delay,
            login_delay_max=delay_max,
            # Long, like Keycloak's 12-hour failure reset: a guesser cannot win free attempts back hourly.
            login_failure_memory=env_int(environ, "LOGIN_FAILURE_MEMORY", 43_200, minimum=1, maximum=30 * 86_400),
            login_per_address=env_int(environ, "LOGIN_ADDRESS_LIMIT", 60, maximum=60_000),
            register_per_address=env_int(environ, "REGISTER_ADDRESS_LIMIT", 30, maximum=60_000),
            refresh_per_address=env_int(environ, "REFRESH_ADDRESS_LIMIT", 600, maximum=60_000),
            client_auth_per_address=env_int(environ, "CLIENT_AUTH_ADDRESS_LIMIT", 30, maximum=60_000),
            known_address_ttl=env_refresh_token_ttl(environ),
        )


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """An on/off setting, off when unset."""
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "off", "false", "0", "no"):
        return False
    if raw in ("on", "true", "1", "yes"):
        return True
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


@dataclass(frozen=True)
class SmtpConfig:
    """Where mail goes: SMTP_URL, smtp:// (plain), smtps:// (implicit TLS) or smtp+starttls://."""

    host: str
    port: int
    security: str  # plain, tls or starttls
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line or a traceback

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in SMTP_SECURITY:
            raise ConfigError(f"SMTP_URL must start with smtp://, smtps:// or smtp+starttls://, got {parts.scheme!r}")
        security, default_port = SMTP_SECURITY[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise ConfigError("SMTP_URL has a bad port") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ConfigError("SMTP_URL must be scheme://[user:password@]host[:port], nothing after it")
        return cls(parts.hostname, port, security, unquote(parts.username or ""), unquote(parts.password or ""))


@dataclass(frozen=True)
class EmailConfig:
    """Email verification and password reset by mail (EMAIL=on): the auth service queues, the mailer sends."""

    smtp: SmtpConfig
    mail_from: str
    public_url: str  # the web page's origin (and path) that links point to
    password_reset_ttl: int
    verify_ttl: int
    require_verified: bool
    per_email_per_hour: int  # mails one address may be sent an hour, per flow, and a burst of 3; 0: no limit
    per_address_per_minute: int  # requests a minute from one client address to these endpoints; 0: no limit

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EmailConfig | None:
        """None unless EMAIL=on; then every setting must be good (ConfigError names the first bad one)."""
        require_verified = env_flag(environ, "REQUIRE_VERIFIED_EMAIL")
        if not env_flag(environ, "EMAIL"):
            if require_verified:
                raise ConfigError("REQUIRE_VERIFIED_EMAIL=on needs EMAIL=on, or no one could ever log in")
            return None
        mail_from = env_str(environ, "MAIL_FROM")
        if "@" not in parseaddr(mail_from)[1]:
            raise ConfigError(f"MAIL_FROM must be an address like 'Auth <auth@example.com>', got {mail_from!r}")
        public_url = env_http_url(environ, "PUBLIC_URL")
        if public_url is None:
            raise ConfigError("PUBLIC_URL is required with EMAIL=on (the page that mail links open)")
        return cls(
            smtp=SmtpConfig.from_url(env_str(environ, "SMTP_URL")),
            mail_from=mail_from,
            public_url=public_url.rstrip("/"),
            password_reset_ttl=env_int(environ, "PASSWORD_RESET_TTL", 1800, minimum=1, maximum=86_400),
            verify_ttl=env_int(environ, "EMAIL_VERIFY_TTL", 86_400, minimum=1, maximum=30 * 86_400),
            require_verified=require_verified,
            per_email_per_hour=env_int(environ, "MAIL_EMAIL_LIMIT", 6, maximum=3600),
            per_address_per_minute=env_int(environ, "MAIL_ADDRESS_LIMIT", 10, maximum=60_000),
        )


@dataclass(frozen=True)
class AuthConfig:
    redis_url: str
    access_token_ttl: int
    refresh_token_ttl: int
    session_max_age: int
    refresh_reuse_grace: int
    issuer: str
    audience: str
    # PEM texts of the private keys, the signing key first; the others still verify. Never in a repr.
    private_key_pems: tuple[bytes, ...] = field(repr=False)
    hashing: HashingConfig
    clock_skew: int
    rate_limits: RateLimitConfig
    # Proxies in front of the service that append to X-Forwarded-For; 0: the socket's peer is the client.
    trusted_proxy_count: int
    # Texts of the refresh-token key files, the minting key first; the others still recognise tokens.
    refresh_token_keys: tuple[bytes, ...] = field(repr=False)
    max_sessions_per_user: int
    email: EmailConfig | None = None  # None: EMAIL off, the email endpoints are 404
    # Pages that may call the service from a browser (CORS), and, on the auth service, use cookie mode.
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AuthConfig:
        """Build the config from `environ`; ConfigError names the first bad variable."""
        key_files = [p.strip() for p in env_str(environ, "JWT_PRIVATE_KEY_FILE").split(",") if p.strip()]
        if not key_files:
            raise ConfigError("JWT_PRIVATE_KEY_FILE is required but not set")
        refresh_key_files = [p.strip() for p in env_str(environ, "REFRESH_TOKEN_KEY_FILE").split(",") if p.strip()]
        if not refresh_key_files:
            raise ConfigError("REFRESH_TOKEN_KEY_FILE is required but not set")
        access_ttl = env_int(environ, "ACCESS_TOKEN_TTL", 900, minimum=1)
        refresh_ttl = env_refresh_token_ttl(environ)
        max_age = env_int(environ, "SESSION_MAX_AGE", 2_592_000, minimum=1)
        return cls(
            redis_url=env_redis_url(environ),
            access_token_ttl=access_ttl,
            refresh_token_ttl=refresh_ttl,
            session_max_age=max_age,
            refresh_reuse_grace=env_int(environ, "REFRESH_REUSE_GRACE", 10, maximum=300),
            issuer=env_str(environ, "JWT_ISSUER", DEFAULT_ISSUER),
            audience=env_str(environ, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
            private_key_pems=tuple(read_file("JWT_PRIVATE_KEY_FILE", path) for path in key_files),
            hashing=HashingConfig.from_env(environ),
            clock_skew=env_int(environ, "JWT_CLOCK_SKEW", 30, maximum=300),
            rate_limits=RateLimitConfig.from_env(environ),
            trusted_proxy_count=env_int(environ, "TRUSTED_PROXY_COUNT", 0, maximum=10),
            refresh_token_keys=tuple(read_file("REFRESH_TOKEN_KEY_FILE", path) for path in refresh_key_files),
            max_sessions_per_user=env_int(environ, "MAX_SESSIONS_PER_USER", 100, minimum=1, maximum=10_000),
            email=EmailConfig.from_env(environ),
            allowed_origins=env_origins(environ),
        )
