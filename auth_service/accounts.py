"""User accounts in Redis: registration, email normalisation, password checks, roles."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable

from auth_service.passwords import MAX_PASSWORD_BYTES, PasswordHasher, check_password_rules
from auth_service.sessions import call_with_index, no_offset
from shared import redis_keys
from shared.accounts import check_name, has_control_characters, rfc3339
from shared.directory import AccountDirectory, new_user_id
from shared.errors import EmailTakenError, InvalidCredentialsError, InvalidRequestError
from shared.store import RedisClient, load_script

MAX_EMAIL_LENGTH = 254  # RFC 5321 §4.5.3.1.3, a path of 256 less the brackets
ROLE_SCOPES = {"user": "users:read", "admin": "users:read users:write"}


def normalize_email(raw: object) -> str:
    """The email, NFKC-normalised, trimmed and lower-cased; InvalidRequestError if it is no email."""
    if not isinstance(raw, str):
        raise InvalidRequestError("email must be a string")
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(email) > MAX_EMAIL_LENGTH
        or any(ch.isspace() for ch in email)
        or has_control_characters(email)
    ):
        raise InvalidRequestError("email must be an address like name@example.com")
    return email


class AccountStore:
    """Creates and authenticates accounts kept in Redis."""

    def __init__(
        self,
        client: RedisClient,
        hasher: PasswordHasher,
        *,
        now: Callable[[], float] = time.time,
        on_login: Callable[[str | None], None] = lambda user_id: None,
        clock_offset: Callable[[], int] = no_offset,
    ) -> None:
        self._redis = client
        self._clock_offset = clock_offset  # ms added to the store's clock, by tests only
        self._hasher = hasher
        self._now = now
        self._on_login = on_login  # the account id when the password was right, else None
        self._directory = AccountDirectory(client)
        self._change_password = client.register_script(load_script("auth_service", "change_password.lua"))

    def register(self, email: object, password: object, name: object = None, *, role: str = "user") -> dict[str, str]:
        """Create an account; EmailTakenError when the email is registered already."""
        email = normalize_email(email)
        password = check_password_rules(password)
        name = check_name(name)
        if role not in ROLE_SCOPES:
            raise ValueError(f"unknown role {role!r}")
        now = self._now()
        user_id = new_user_id()
        record = {"id": user_id, "email": email, "role": role, "password_hash": self._hasher.hash(password)}
        profile = {"id": user_id, "email": email, "name": name, "created_at": rfc3339(now)}
        key = redis_keys.user_key(user_id)
        # The record is written first and is unreachable until the email points at it.
        self._redis.hset(key, mapping=record)  # type: ignore[arg-type]
        if not self._directory.claim(email, int(now * 1000), profile):
            self._redis.delete(key)
            raise EmailTakenError()
        return profile

    def authenticate(self, email: object, password: object) -> dict[str, str]:
        """The account whose email and password these are; InvalidCredentialsError otherwise.

        An unknown email costs one Argon2id verify too, so timing does not tell which emails exist.
        """
        if not isinstance(email, str) or not isinstance(password, str):
            raise InvalidRequestError("email and password must be strings")
        try:
            record = self._check_password(email, password)
        except InvalidCredentialsError:
            self._on_login(None)
            raise
        self._on_login(record["id"])
        return record

    def _check_password(self, email: str, password: str) -> dict[str, str]:
        try:
            email = normalize_email(email)
            check_password_rules(password)
        except InvalidRequestError:
            self._hasher.verify(password[:64], None)
            raise InvalidCredentialsError() from None
        record = self.find_by_email(email)
        stored_hash = record.get("password_hash") if record else None
        if not self._hasher.verify(password, stored_hash) or record is None:
            raise InvalidCredentialsError()
        if stored_hash and self._hasher.needs_rehash(stored_hash):
            # Compare-and-set: a password change meanwhile must not be undone by this upgrade.
            rehashed = self._hasher.hash(password)
            if self._set_password_hash(record["id"], rehashed, stored_hash, "", "") >= 0:
                record = {**record, "password_hash": rehashed}
        return record

    def check_password(self, user_id: str, password: str) -> str:
        """The stored hash, if `password` is the account's; InvalidCredentialsError if not."""
        record = self.get(user_id)
        stored_hash = record.get("password_hash") if record else None
        try:
            check_password_rules(password)
        except InvalidRequestError:
            stored_hash = None  # no password of ours is that; spend the same time saying so
        if not self._hasher.verify(password[:MAX_PASSWORD_BYTES], stored_hash) or not stored_hash:
            raise InvalidCredentialsError("the current password is wrong")
        return stored_hash

    def change_password(
        self, user_id: str, new_password: object, *, checked_hash: str = "", keep_session: str = "",
        end_sessions: bool = True,
    ) -> int:
        """Set a new password and end the account's other sessions, in one step; how many ended.

        `checked_hash` is the hash the current password was verified against (check_password):
        if the password changed meanwhile, nothing changes and InvalidCredentialsError is raised.
        Without it (an admin's reset) the password is set whatever it was. Either way, a password
        reset link still out stops working.
        """
        new_hash = self._hasher.hash(check_password_rules(new_password))
        # A reset link still out must not set the password again after this change (OWASP); voided
        # first, so that no moment after the change leaves it working.
        self._redis.delete(redis_keys.reset_token_key(user_id))
        ended = self._set_password_hash(
            user_id, new_hash, checked_hash, "password_changed" if end_sessions else "", keep_session
        )
        if ended < 0:
            raise InvalidCredentialsError("the password changed meanwhile, or the account is gone")
        return ended

    def _set_password_hash(self, user_id: str, new_hash: str, checked_hash: str, reason: str, keep: str) -> int:
        """change_password.lua: how many sessions it ended, or -1 when the hash was no longer
        `checked_hash` (or the account is gone) and nothing changed."""
        result = call_with_index(self._redis, self._change_password, user_id, self._clock_offset,
                                 [redis_keys.user_key(user_id)], [checked_hash, new_hash, reason, keep])
        return int(result["ended"]) if result["outcome"] == "done" else -1

    def find_by_email(self, email: str) -> dict[str, str] | None:
        """The account registered under a normalised email, or None."""
        user_id = self._directory.user_id_for_email(email)
        return self.get(user_id) if user_id else None

    def get(self, user_id: str) -> dict[str, str] | None:
        """The sign-in record (id, email, role, password hash), or None."""
        raw: dict[bytes, bytes] = self._redis.hgetall(redis_keys.user_key(user_id))  # type: ignore[assignment]
        return {k.decode(): v.decode() for k, v in raw.items()} or None

    def set_role(self, user_id: str, role: str) -> None:
        """Give an account a role; its tokens carry the new scopes from the next refresh on."""
        if role not in ROLE_SCOPES:
            raise ValueError(f"unknown role {role!r}")
        self._redis.hset(redis_keys.user_key(user_id), "role", role)


def scope_for(role: str) -> str:
    """The space-separated scopes a role grants; an unknown or missing role grants a user's."""
    return ROLE_SCOPES.get(role, ROLE_SCOPES["user"])
