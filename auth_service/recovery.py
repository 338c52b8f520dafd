"""Single-use email tokens: password reset and email verification.

A token reads `<user id>.<secret>`: the id routes it to the account's keys (one Redis
Cluster slot), the secret carries 256 random bits. The store keeps only SHA-256 of the
whole token, under a key that expires with it (the store's clock decides), one live
token per account and kind: issuing a new one replaces the old.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from shared import redis_keys
from shared.directory import USER_ID
from shared.errors import InvalidTokenError, OAuthError
from shared.store import RedisClient, load_script

EMAIL_TOKEN_PATTERN = re.compile(rf"({USER_ID})\.[A-Za-z0-9_-]{{43}}")
# What each kind of token is kept under, and the account field its spending sets.
KINDS = {
    "reset": (redis_keys.reset_token_key, ""),
    "verify": (redis_keys.verify_token_key, "email_verified"),
}


class EmailTokenError(InvalidTokenError):
    """400 invalid_token (the contract's email section): a reset or verification token that is
    unknown, spent, replaced or expired. Not an access token, so no Bearer challenge."""

    status_code = 400
    description = "the link is unknown, used already, replaced by a newer one, or expired"

    def headers(self) -> dict[str, str]:
        return {}


class EmailNotVerifiedError(OAuthError):
    error = "email_not_verified"
    status_code = 403
    description = "confirm your email address first: open the link in the mail we sent (or ask for a new one)"


def hash_email_token(token: str) -> str:
    """What the store keeps of a token; 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class EmailTokenStore:
    """The live reset and verification tokens of all accounts."""

    def __init__(self, client: RedisClient, *, reset_ttl: int, verify_ttl: int) -> None:
        self._redis = client
        self.ttls = {"reset": reset_ttl, "verify": verify_ttl}
        self._spend = client.register_script(load_script("auth_service", "spend_email_token.lua"))

    def issue(self, kind: str, user_id: str) -> str:
        """A new token of `kind` ("reset" or "verify") for the account; the one before stops working."""
        key_of, _ = KINDS[kind]
        token = f"{user_id}.{secrets.token_urlsafe(32)}"
        self._redis.set(key_of(user_id), hash_email_token(token), ex=self.ttls[kind])
        return token

    def spend(self, kind: str, token: object) -> str:
        """The account id a live token of `kind` belongs to, spending it; EmailTokenError otherwise."""
        match = EMAIL_TOKEN_PATTERN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise EmailTokenError()
        user_id = match[1]
        key_of, field = KINDS[kind]
        spent = self._spend(
            keys=[key_of(user_id), redis_keys.user_key(user_id)], args=[hash_email_token(match[0]), field]
        )
        if not int(spent):
            raise EmailTokenError()
        return user_id


class EmailVerification:
    """What logging in needs of email verification (EMAIL=on): the `email_verified` claim, and
    with REQUIRE_VERIFIED_EMAIL=on, no session for an unconfirmed account."""

    def __init__(self, client: RedisClient, *, required: bool) -> None:
        self._redis = client
        self.required = required

    def check_login_allowed(self, account: dict[str, str]) -> None:
        """After the password was right: EmailNotVerifiedError for an unconfirmed account, when required."""
        if self.required and account.get("email_verified") != "1":
            raise EmailNotVerifiedError()

    def is_verified(self, user_id: str) -> bool:
        """Whether the account's address is confirmed, read at each token (a refresh included)."""
        return self._redis.hget(redis_keys.user_key(user_id), "email_verified") == b"1"
