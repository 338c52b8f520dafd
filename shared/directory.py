"""The account directory, the one owner of its schema: the email lookup, the users index and the
public profiles, with the id and cursor formats and the scripts over them.

The auth service writes it at registration; the resource service lists, reads and renames.
Profiles are stored as JSON (profile_json) and served as stored: a page of users is read in
one script and goes out without being parsed. The keys share the hash tag `{accounts}`, so
every script over them touches one Redis Cluster slot. On a cluster, pages are read from that
slot's replicas (ReplicaScript), so that they scale with the replicas; everything else,
writes and the reads that answer them, is on the primary.
"""

from __future__ import annotations

import json
import re
import uuid

from redis.cluster import RedisCluster

from shared.errors import TemporarilyUnavailableError
from shared.store import RedisClient, ReplicaScript, load_script

# An account id is uuid4().hex: anything else names no account and is not looked up.
USER_ID = "[0-9a-f]{32}"
# A users-index member, `<created ms, 13 digits>:<user id>`, doubles as the page cursor.
CURSOR = rf"[0-9]{{13}}:{USER_ID}"
PUBLIC_FIELDS = ("id", "email", "name", "created_at")
RENAME_ATTEMPTS = 5

_USER_ID_PATTERN = re.compile(USER_ID)
_CURSOR_PATTERN = re.compile(CURSOR)


def new_user_id() -> str:
    """A fresh account id (random, 122 bits)."""
    return uuid.uuid4().hex


def is_user_id(text: str) -> bool:
    """Whether `text` has the form of an account id."""
    return _USER_ID_PATTERN.fullmatch(text) is not None


def is_cursor(text: str) -> bool:
    """Whether `text` has the form of a page cursor."""
    return _CURSOR_PATTERN.fullmatch(text) is not None


def index_member(created_ms: int, user_id: str) -> str:
    """The users-index member of an account: lexical order is registration order."""
    return f"{created_ms:013d}:{user_id}"


def profile_json(profile: dict[str, str]) -> str:
    """An account's public fields as the JSON the directory stores and serves as is."""
    return json.dumps({field: profile[field] for field in PUBLIC_FIELDS}, separators=(",", ":"))


def email_key(email: str) -> str:
    """String: the user id registered under a normalised email."""
    return f"{{accounts}}:email:{email}"


def users_index_key() -> str:
    """Sorted set, all scores 0: one index_member per account, so that a member is a stable
    pagination cursor."""
    return "{accounts}:users"


def profiles_key() -> str:
    """Hash: user id -> the account's public fields as JSON, kept beside the index so that a page
    is two commands in one script on one slot, and its JSON goes out as stored."""
    return "{accounts}:profiles"


class AccountDirectory:
    """The directory's reads and writes, each read-modify-write one script.

    `replicas` (connect_replica_reads) serves list_page. A page may then lag the primary by
    the replication delay: an account registered or renamed a moment ago may be missing or
    show its old name. get and update_name read the primary, so that a rename answers the
    renamed profile and a just-registered id is found.
    """

    def __init__(self, client: RedisClient, replicas: RedisCluster | None = None) -> None:
        self._redis = client
        self._claim_email = client.register_script(load_script("shared", "claim_email.lua"))
        self._list_users = ReplicaScript(client, replicas, load_script("shared", "list_users.lua"))
        self._update_name = client.register_script(load_script("shared", "update_name.lua"))

    def claim(self, email: str, created_ms: int, profile: dict[str, str]) -> bool:
        """List a new account under a normalised email; False when the email is taken already."""
        user_id = profile["id"]
        return bool(self._claim_email(
            keys=[email_key(email), users_index_key(), profiles_key()],
            args=[user_id, index_member(created_ms, user_id), profile_json(profile)],
        ))

    def user_id_for_email(self, email: str) -> str | None:
        """The id of the account registered under a normalised email, or None."""
        user_id: bytes | None = self._redis.get(email_key(email))  # type: ignore[assignment]
        return user_id.decode() if user_id else None

    def list_page(self, limit: int, cursor: str | None = None) -> tuple[list[str], str | None]:
        """Up to `limit` profiles in registration order after `cursor`, and the next page's cursor.

        The index is walked by member (ZRANGE BYLEX from an exclusive start), not by
        offset, so an account registered between pages shifts nothing: each is seen once.
        """
        flat = self._list_users(
            keys=[users_index_key(), profiles_key()],
            args=["(" + cursor if cursor else "-", limit + 1],
        )
        members, profiles = flat[0::2][:limit], flat[1::2][:limit]
        more = len(flat) > 2 * limit
        return [p.decode() for p in profiles if p], (members[-1].decode() if more else None)

    def get(self, user_id: str) -> str | None:
        """The profile of one account, or None."""
        profile: bytes | None = self._redis.hget(profiles_key(), user_id)  # type: ignore[assignment]
        return profile.decode() if profile else None

    def update_name(self, user_id: str, name: str) -> str | None:
        """Rename an existing account; its new profile, or None if there is none."""
        for _ in range(RENAME_ATTEMPTS):
            current = self.get(user_id)
            if current is None:
                return None
            renamed = profile_json({**json.loads(current), "name": name})
            if self._update_name(keys=[profiles_key()], args=[user_id, current, renamed]):
                return renamed
        raise TemporarilyUnavailableError("the profile kept changing while it was renamed; try again")
