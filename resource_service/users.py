"""The user directory as the resource service sees it: list, read, rename; no password hash.

Profiles are stored as JSON (see shared.accounts.profile_json) and served as stored:
a page of users is read in one script and goes out without being parsed.
"""

from __future__ import annotations

import json
import re

from shared import redis_keys
from shared.accounts import profile_json
from shared.errors import TemporarilyUnavailableError
from shared.store import RedisClient, load_script

# Account ids are uuid4().hex; anything else names no account and is not looked up.
USER_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# A users-index member, `<created ms, 13 digits>:<user id>`, doubles as the page cursor.
CURSOR_PATTERN = re.compile(r"[0-9]{13}:[0-9a-f]{32}")
RENAME_ATTEMPTS = 5


def is_user_id(text: str) -> bool:
    """Whether `text` has the form of an account id."""
    return USER_ID_PATTERN.fullmatch(text) is not None


def is_cursor(text: str) -> bool:
    """Whether `text` has the form of a page cursor."""
    return CURSOR_PATTERN.fullmatch(text) is not None


class UserDirectory:
    """Reads and renames accounts kept in Redis by the auth service; profiles are JSON texts."""

    def __init__(self, client: RedisClient) -> None:
        self._redis = client
        self._update_name = client.register_script(load_script("resource_service", "update_name.lua"))
        self._list_users = client.register_script(load_script("resource_service", "list_users.lua"))

    def list_page(self, limit: int, cursor: str | None = None) -> tuple[list[str], str | None]:
        """Up to `limit` profiles in registration order after `cursor`, and the next page's cursor.

        The index is walked by member (ZRANGE BYLEX from an exclusive start), not by
        offset, so an account registered between pages shifts nothing: each is seen once.
        """
        flat = self._list_users(
            keys=[redis_keys.users_index_key(), redis_keys.profiles_key()],
            args=["(" + cursor if cursor else "-", limit + 1],
        )
        members, profiles = flat[0::2][:limit], flat[1::2][:limit]
        more = len(flat) > 2 * limit
        return [p.decode() for p in profiles if p], (members[-1].decode() if more else None)

    def get(self, user_id: str) -> str | None:
        """The profile of one account, or None."""
        profile: bytes | None = self._redis.hget(redis_keys.profiles_key(), user_id)  # type: ignore[assignment]
        return profile.decode() if profile else None

    def update_name(self, user_id: str, name: str) -> str | None:
        """Rename an existing account; its new profile, or None if there is none."""
        for _ in range(RENAME_ATTEMPTS):
            current = self.get(user_id)
            if current is None:
                return None
            renamed = profile_json({**json.loads(current), "name": name})
            if self._update_name(keys=[redis_keys.profiles_key()], args=[user_id, current, renamed]):
                return renamed
        raise TemporarilyUnavailableError("the profile kept changing while it was renamed; try again")
