"""Rate limits kept in Redis, so every worker and instance shares them.

Logins are throttled per email: after a few failures each further one locks the
email for a delay that doubles, whether or not an account has that email, and a
lock holds against the right password too. Each endpoint is limited per client
address as well, more generously, against one address spraying many emails.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable

from auth_service.accounts import normalize_email
from auth_service.config import RateLimitConfig
from shared import redis_keys
from shared.errors import InvalidRequestError, RateLimitedError
from shared.store import RedisClient, load_script


def address_subject(address: str | None) -> str:
    """What one client is limited as: its IPv4 address, or the /64 of its IPv6 address."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "other"  # no IP (a unix socket): one shared allowance
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One host usually holds a whole /64; counting its addresses one by one would count nothing.
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def _retry_after(wait_ms: int) -> int:
    """Whole seconds for Retry-After, rounded up."""
    return max(1, math.ceil(wait_ms / 1000))


class RateLimiter:
    """Per-email login throttling and per-address request rates."""

    def __init__(
        self,
        client: RedisClient,
        config: RateLimitConfig,
        *,
        now: Callable[[], float] = time.time,
        on_limited: Callable[[str], None] = lambda scope: None,
    ) -> None:
        """`on_limited(scope)` hears of each refusal: "login", "register", "refresh" by address,
        "login_email" by email."""
        self._on_limited = on_limited
        self._redis = client
        self._config = config
        self._per_minute = {
            "login": config.login_per_address,
            "register": config.register_per_address,
            "refresh": config.refresh_per_address,
        }
        self._now = now
        self._login_attempt = client.register_script(load_script("auth_service", "login_attempt.lua"))
        self._address_limit = client.register_script(load_script("auth_service", "address_limit.lua"))

    def _now_ms(self) -> int:
        return int(self._now() * 1000)

    def limit_address(self, action: str, address: str | None) -> None:
        """Count a request for `action` from a client address; RateLimitedError past its rate."""
        per_minute = self._per_minute[action]
        if not per_minute:
            return
        wait_ms = int(
            self._address_limit(
                keys=[redis_keys.address_limit_key(action, address_subject(address))],
                args=[self._now_ms(), max(1, 60_000 // per_minute), per_minute],
            )
        )
        if wait_ms:
            self._on_limited(action)
            raise RateLimitedError(_retry_after(wait_ms), f"too many {action} requests from this address")

    def limit_subject(self, key: str, *, interval_ms: int, burst: int, scope: str, description: str) -> None:
        """Count a request against any allowance kept like the per-address ones (a burst, then one per
        interval) under `key`; RateLimitedError past it. The email flows limit addresses and emails so."""
        wait_ms = int(self._address_limit(keys=[key], args=[self._now_ms(), max(1, interval_ms), burst]))
        if wait_ms:
            self._on_limited(scope)
            raise RateLimitedError(_retry_after(wait_ms), description)

    def start_login(self, email: object) -> None:
        """Count a login attempt for an email before its password is checked; RateLimitedError
        while the email is locked. Call login_succeeded when the password was right."""
        key = self._throttle_key(email)
        if key is None:
            return
        config = self._config
        wait_ms = int(
            self._login_attempt(
                keys=[key],
                args=[self._now_ms(), config.login_failures_before_delay, config.login_delay * 1000,
                      config.login_delay_max * 1000, config.login_failure_memory * 1000],
            )
        )
        if wait_ms:
            self._on_limited("login_email")
            raise RateLimitedError(_retry_after(wait_ms), "too many failed logins for this email, try again later")

    def login_succeeded(self, email: object) -> None:
        """Forget the email's failed attempts."""
        key = self._throttle_key(email)
        if key is not None:
            self._redis.delete(key)

    def _throttle_key(self, email: object) -> str | None:
        """The email's throttle key; None when throttling is off or it is no email (no account has it)."""
        if not self._config.login_delay:
            return None
        try:
            normalized = normalize_email(email)
        except InvalidRequestError:
            return None
        # A digest: what was typed as an email (a password, at times) is not kept in Redis.
        return redis_keys.login_throttle_key(hashlib.sha256(normalized.encode()).hexdigest())
