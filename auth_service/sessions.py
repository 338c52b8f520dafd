"""Refresh sessions in Redis: login, rotation with a reuse grace, reuse detection, logout.

Every read-modify-write of a session is one Lua script (auth_service/lua), so two
workers spending the same token at once can neither both rotate nor fork a session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from auth_service.tokens import (
    hash_refresh_token,
    new_nonce,
    new_refresh_token,
    new_session_id,
    parse_refresh_token,
    successor_token,
)
from shared import redis_keys
from shared.accounts import rfc3339
from shared.errors import InvalidCredentialsError, InvalidGrantError
from shared.store import RedisClient, load_script

# Spent-token hashes kept per session for reuse detection: a year of refreshes every 15 minutes
# would be 35,000; a token older than the last 1,000 rotations is refused without revoking.
SPENT_TOKENS_KEPT = 1000
MAX_USER_AGENT = 256
# An ended session stays this long past its absolute deadline as a tombstone that tells
# a client why its refresh token stopped working.
TOMBSTONE_MS = 24 * 3600 * 1000

# Why a refresh was refused: the `reason` of the invalid_grant answer, and its description.
REFUSALS = {
    "reused": "a refresh token of this session was used twice, so it may be stolen: the session is revoked",
    "expired_idle": "the session expired after going unused for too long",
    "expired_absolute": "the session reached its maximum age",
    "revoked": "the session was ended (logout, or revoked by its owner)",
    "password_changed": "the session ended with a password change",
    "unknown": "the refresh token is unknown",
}
# What a refresh can come to: a new token, the same one again, or a refusal for a reason.
REFRESH_OUTCOMES = ("rotated", "grace", *REFUSALS)


def revoke_sessions_call(
    user_id: str, reason: str, *, keep: str = "", new_hash: str = "", checked_hash: str = ""
) -> tuple[list[str], list[str]]:
    """The keys and args of revoke_sessions.lua (see its header)."""
    keys = [redis_keys.user_sessions_key(user_id), redis_keys.user_key(user_id)]
    args = [redis_keys.session_key(user_id, ""), redis_keys.SPENT_SUFFIX, reason, keep, new_hash, checked_hash]
    return keys, args


def refused(reason: str) -> InvalidGrantError:
    """The invalid_grant error for a refresh refused for `reason` (a key of REFUSALS)."""
    return InvalidGrantError(f"{REFUSALS[reason]}: log in again", reason=reason)


@dataclass(frozen=True)
class IssuedRefresh:
    """A refresh token handed out, with what the access token beside it needs."""

    refresh_token: str
    session_id: str
    user_id: str
    expires_in: int  # seconds until the session ends without a refresh
    email: str = ""
    role: str = ""


class SessionStore:
    """The refresh sessions of all users."""

    def __init__(
        self,
        client: RedisClient,
        *,
        idle_ttl: int,
        max_age: int,
        reuse_grace: int,
        now: Callable[[], float] = time.time,
        on_refresh: Callable[[str, str | None], None] = lambda outcome, user_id: None,
        on_reuse: Callable[[str, str], None] = lambda user_id, session_id: None,
    ) -> None:
        """`on_refresh(outcome, user id when the token was genuine)` hears of every refresh, one
        of REFRESH_OUTCOMES; `on_reuse(user_id, session_id)` of each reuse that ends a session."""
        self._redis = client
        self._idle_ms = idle_ttl * 1000
        self._max_age_ms = max_age * 1000
        self._grace_ms = reuse_grace * 1000
        self._now = now
        self._on_refresh = on_refresh
        self._on_reuse = on_reuse
        self._create = client.register_script(load_script("auth_service", "create_session.lua"))
        self._rotate = client.register_script(load_script("auth_service", "rotate_session.lua"))
        self._revoke = client.register_script(load_script("auth_service", "revoke_session.lua"))
        self._revoke_all = client.register_script(load_script("auth_service", "revoke_sessions.lua"))
        self._list = client.register_script(load_script("auth_service", "list_sessions.lua"))

    def _now_ms(self) -> int:
        return int(self._now() * 1000)

    def _expires_in(self, now_ms: int, deadline_ms: int) -> int:
        return max(0, (deadline_ms - now_ms) // 1000)

    def create(self, user_id: str, password_hash: str, user_agent: str = "") -> IssuedRefresh:
        """Open a session for a user who just proved who they are with the password of
        `password_hash`; its first refresh token. InvalidCredentialsError when that password
        changed meanwhile."""
        session_id = new_session_id()
        token = new_refresh_token(user_id, session_id)
        now = self._now_ms()
        deadlines = self._create(
            keys=[
                redis_keys.session_key(user_id, session_id),
                redis_keys.user_sessions_key(user_id),
                redis_keys.user_key(user_id),
            ],
            args=[hash_refresh_token(token), now, self._idle_ms, self._max_age_ms, session_id,
                  user_agent[:MAX_USER_AGENT], TOMBSTONE_MS, password_hash],
        )
        if not deadlines:
            raise InvalidCredentialsError("the password changed meanwhile, or the account is gone")
        return IssuedRefresh(token, session_id, user_id, self._expires_in(now, int(deadlines[0])))

    def rotate(self, refresh_token: object) -> IssuedRefresh:
        """Spend a refresh token for its successor (RFC 6749 §6); InvalidGrantError when refused.

        Within the reuse grace of its first use, the same token yields the same successor;
        after it, a spent token revokes its whole session.
        """
        ids = parse_refresh_token(refresh_token)
        if ids is None:
            self._on_refresh("unknown", None)
            raise refused("unknown")
        token = str(refresh_token)
        nonce = new_nonce()
        now = self._now_ms()
        result = self._rotate(
            keys=[
                redis_keys.session_key(ids.user_id, ids.session_id),
                redis_keys.spent_tokens_key(ids.user_id, ids.session_id),
                redis_keys.user_sessions_key(ids.user_id),
                redis_keys.user_key(ids.user_id),
            ],
            args=[hash_refresh_token(token), now, self._idle_ms, self._grace_ms, nonce,
                  hash_refresh_token(successor_token(token, nonce)), ids.session_id, SPENT_TOKENS_KEPT],
        )
        outcome = result[0].decode()
        reason = result[1].decode() if outcome == "ended" else outcome
        detected_reuse = outcome == "ended" and reason == "reused" and len(result) > 2
        # The user id in the token is genuine only when the token matched its session.
        self._on_refresh(reason, ids.user_id if outcome in ("rotated", "grace") or detected_reuse else None)
        if detected_reuse:
            self._on_reuse(ids.user_id, ids.session_id)
        if outcome not in ("rotated", "grace"):
            raise refused(reason)
        used_nonce, idle_deadline, _, email, role = result[1:]
        return IssuedRefresh(
            successor_token(token, used_nonce.decode()),
            ids.session_id,
            ids.user_id,
            self._expires_in(now, int(idle_deadline)),
            email.decode(),
            role.decode(),
        )

    def revoke(self, refresh_token: object) -> bool:
        """Revoke the session a refresh token (live or spent) belongs to; False when none."""
        ids = parse_refresh_token(refresh_token)
        if ids is None:
            return False
        return self._revoke_session(ids.user_id, ids.session_id, hash_refresh_token(str(refresh_token)))

    def revoke_by_id(self, user_id: str, session_id: str) -> bool:
        """Revoke one session of `user_id`; False when it has no such session."""
        return self._revoke_session(user_id, session_id, "")

    def _revoke_session(self, user_id: str, session_id: str, token_hash: str) -> bool:
        revoked = self._revoke(
            keys=[
                redis_keys.session_key(user_id, session_id),
                redis_keys.spent_tokens_key(user_id, session_id),
                redis_keys.user_sessions_key(user_id),
            ],
            args=[session_id, token_hash],
        )
        return bool(revoked)

    def is_live(self, user_id: str, session_id: str) -> bool:
        """Whether the session can still refresh: not ended, within its idle and absolute deadlines.
        One read, no change: no script needed."""
        current, ended, idle, absolute = self._redis.hmget(
            redis_keys.session_key(user_id, session_id), ["current", "ended", "idle_deadline", "abs_deadline"]
        )
        now = self._now_ms()
        return bool(current) and not ended and now < int(idle or 0) and now < int(absolute or 0)

    def revoke_all(self, user_id: str) -> int:
        """End every session of a user; how many were live."""
        keys, args = revoke_sessions_call(user_id, "revoked")
        return int(self._revoke_all(keys=keys, args=args))

    def list(self, user_id: str) -> list[dict[str, str]]:
        """The user's live sessions, oldest first."""
        flat = self._list(
            keys=[redis_keys.user_sessions_key(user_id)],
            args=[redis_keys.session_key(user_id, ""), self._now_ms()],
        )
        sessions = []
        for i in range(0, len(flat), 4):
            session_id, created, last_used, user_agent = (v.decode() for v in flat[i : i + 4])
            sessions.append({
                "id": session_id,
                "created_at": rfc3339(int(created) / 1000),
                "last_used_at": rfc3339(int(last_used) / 1000),
                "user_agent": user_agent,
            })
        return sessions
