"""The user directory as the resource service sees it: list, read, rename; no password hash."""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared import redis_keys
from shared.accounts import PUBLIC_FIELDS
from shared.store import RedisClient, load_script

# Account ids are uuid4().hex; anything else names no account and is not looked up.
USER_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# A users-index member, `<created ms, 13 digits>:<user id>`, doubles as the page cursor.
CURSOR_PATTERN = re.compile(r"[0-9]{13}:[0-9a-f]{32}")


def is_user_id(text: str) -> bool:
    """Whether `text` has the form of an account id."""
    return USER_ID_PATTERN.fullmatch(text) is not None


def is_cursor(text: str) -> bool:
    """Whether `text` has the form of a page cursor."""
    return CURSOR_PATTERN.fullmatch(text) is not None


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _public(values: Sequence[bytes | str | None]) -> dict[str, str] | None:
    """The public fields from an HMGET of PUBLIC_FIELDS, or None when the account is gone."""
    if values[0] is None:
        return None
    return {field: _text(value) for field, value in zip(PUBLIC_FIELDS, values, strict=True)}


class UserDirectory:
    """Reads and renames accounts kept in Redis by the auth service."""

    def __init__(self, client: RedisClient) -> None:
        self._redis = client
        self._update_name = client.register_script(load_script("resource_service", "update_name.lua"))
        self._list_users = client.register_script(load_script("resource_service", "list_users.lua"))

    def list_page(
        self, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, str]], str | None]:
        """Up to `limit` accounts in registration order after `cursor`, and the next page's cursor.

        The index is walked by member (ZRANGE BYLEX from an exclusive start), not by
        offset, so an account registered between pages shifts nothing: each is seen once.
        """
        flat = [_text(v) for v in self._list_users(
            keys=[redis_keys.users_index_key()],
            args=["(" + cursor if cursor else "-", limit + 1, redis_keys.profile_key("")],
        )]
        rows = [flat[i : i + 5] for i in range(0, len(flat), 5)]
        page = rows[:limit]
        users = [dict(zip(PUBLIC_FIELDS, row[1:], strict=True)) for row in page if row[1]]
        return users, (page[-1][0] if len(rows) > limit else None)

    def get(self, user_id: str) -> dict[str, str] | None:
        """The public fields of one account, or None."""
        return _public(self._redis.hmget(redis_keys.profile_key(user_id), PUBLIC_FIELDS))

    def update_name(self, user_id: str, name: str) -> dict[str, str] | None:
        """Rename an existing account atomically; the changed account, or None if there is none."""
        values = self._update_name(keys=[redis_keys.profile_key(user_id)], args=[name])
        return _public(values) if values else None
