"""Rate limits kept in Redis, so every worker and instance shares them.

Logins are throttled per email: after a few failures each further one locks the
email for a delay that doubles, whether or not an account has that email. A lock
never locks the owner out: a client address that logged in to the email within
REFRESH_TOKEN_TTL is throttled on its own failures only, every other address shares
the email's throttle (the contract's "Login throttling without lockout"). Client
authentications on /token are throttled the same way per client id, and their
failures per address. Each endpoint is limited per client address as well, more
generously, against one address spraying many emails.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
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


# Addresses kept per account or client, the latest successes first: each gives a guesser who shares
# it its own free failures, so they are bounded; an owner with more addresses shares the throttle.
MAX_KNOWN_ADDRESSES = 10


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
        clock_offset: Callable[[], int] = lambda: 0,
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
        self._clock_offset = clock_offset  # ms the scripts add to the store's clock: tests only
        self._login_attempt = client.register_script(load_script("auth_service", "login_attempt.lua"))
        self._login_success = client.register_script(load_script("auth_service", "login_success.lua"))
        self._address_limit = client.register_script(load_script("auth_service", "address_limit.lua"))
        self._address_refund = client.register_script(load_script("auth_service", "address_refund.lua"))

    def limit_address(self, action: str, address: str | None) -> None:
        """Count a request for `action` from a client address; RateLimitedError past its rate."""
        per_minute = self._per_minute[action]
        if per_minute:
            self.limit_subject(
                redis_keys.address_limit_key(action, address_subject(address)), interval_ms=60_000 // per_minute,
                burst=per_minute, scope=action, description=f"too many {action} requests from this address",
            )

    def limit_subject(self, key: str, *, interval_ms: int, burst: int, scope: str, description: str) -> None:
        """Count a request against any allowance kept like the per-address ones (a burst, then one per
        interval) under `key`; RateLimitedError past it. The email flows limit addresses and emails so."""
        wait_ms = int(self._address_limit(keys=[key], args=[self._clock_offset(), max(1, interval_ms), burst]))
        if wait_ms:
            self._on_limited(scope)
            raise RateLimitedError(_retry_after(wait_ms), description)

    def start_login(self, email: object, address: str | None) -> None:
        """Count a login attempt for an email from a client address before its password is checked;
        RateLimitedError while the throttle it counts on is locked. Call login_succeeded when the
        password was right."""
        key = self._email_throttle_key(email)
        if key is not None:
            self._start_attempt(key, address, "login_email", "too many failed logins for this email")

    def login_succeeded(self, email: object, address: str | None) -> None:
        """Clear the attempt's failures and remember the address as one that logs in to this email."""
        key = self._email_throttle_key(email)
        if key is not None:
            self._attempt_succeeded(key, address)

    def start_client_auth(self, client_id: str, address: str | None) -> None:
        """Count a client authentication (a secret on /token) before the secret is checked: per client
        id as logins are per email, and per address; RateLimitedError while either is locked."""
        per_minute = self._config.client_auth_per_address
        if per_minute:
            self.limit_subject(
                self._client_address_key(address), interval_ms=60_000 // per_minute, burst=per_minute,
                scope="client_auth", description="too many failed client authentications from this address",
            )
        key = self._client_throttle_key(client_id)
        if key is not None:
            self._start_attempt(key, address, "client_auth_id", "too many failed authentications for this client")

    def client_auth_succeeded(self, client_id: str, address: str | None) -> None:
        """The secret was right: the attempt was no failure, for the client id nor for the address."""
        per_minute = self._config.client_auth_per_address
        if per_minute:
            self._address_refund(keys=[self._client_address_key(address)],
                                 args=[self._clock_offset(), max(1, 60_000 // per_minute)])
        key = self._client_throttle_key(client_id)
        if key is not None:
            self._attempt_succeeded(key, address)

    def _start_attempt(self, key: str, address: str | None, scope: str, what: str) -> None:
        subject = _known_subject(address)
        config = self._config
        wait_ms, known = self._login_attempt(
            keys=[key, redis_keys.known_addresses_key(key), redis_keys.address_throttle_key(key, subject)],
            args=[self._clock_offset(), config.login_failures_before_delay, config.login_delay * 1000,
                  config.login_delay_max * 1000, config.login_failure_memory * 1000, subject],
        )
        if int(wait_ms):
            self._on_limited(scope + ("_known_address" if int(known) else ""))
            where = " from this address" if int(known) else ""
            raise RateLimitedError(_retry_after(int(wait_ms)), f"{what}{where}, try again later")

    def _attempt_succeeded(self, key: str, address: str | None) -> None:
        subject = _known_subject(address)
        self._login_success(
            keys=[key, redis_keys.known_addresses_key(key), redis_keys.address_throttle_key(key, subject)],
            args=[self._clock_offset(), subject, self._config.known_address_ttl * 1000, MAX_KNOWN_ADDRESSES],
        )

    def _email_throttle_key(self, email: object) -> str | None:
        """The email's throttle key; None when throttling is off or it is no email (no account has it)."""
        if not self._config.login_delay:
            return None
        try:
            normalized = normalize_email(email)
        except InvalidRequestError:
            return None
        # A digest: what was typed as an email (a password, at times) is not kept in Redis.
        return redis_keys.login_throttle_key(_digest(normalized))

    def _client_throttle_key(self, client_id: str) -> str | None:
        if not self._config.login_delay:
            return None
        return redis_keys.client_throttle_key(_digest(client_id))

    @staticmethod
    def _client_address_key(address: str | None) -> str:
        return redis_keys.address_limit_key("client_auth", address_subject(address))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _known_subject(address: str | None) -> str:
    """The address as a known address of an account; "" for one that cannot be told apart from
    others (no IP), which is never known: strangers behind it would share the owner's throttle."""
    subject = address_subject(address)
    return "" if subject == "other" else subject
