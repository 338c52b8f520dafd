"""Refresh sessions in Redis: login, rotation with a reuse grace, lost-answer recovery, reuse
detection, logout, and at most MAX_SESSIONS_PER_USER live sessions a user.

Every read-modify-write of a session is one Lua script (auth_service/lua), so two workers
spending the same token at once can neither both rotate nor fork a session. Every deadline is
judged inside the scripts by the store's clock (Redis TIME), so replicas whose clocks differ
agree on which sessions live. A session keeps O(1) state whatever its age: refresh tokens are
HMACs of (session, generation, branch) under a server-held key (auth_service.tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis.commands.core import Script

from auth_service.tokens import RefreshTokenKeys, hash_refresh_token, new_session_id
from shared import redis_keys
from shared.accounts import rfc3339
from shared.errors import InvalidCredentialsError, InvalidGrantError, TemporarilyUnavailableError
from shared.store import RedisClient, load_script

MAX_USER_AGENT = 256
# An ended session stays this long past its absolute deadline as a tombstone that tells
# a client why its refresh token stopped working.
TOMBSTONE_MS = 24 * 3600 * 1000
# Reads of the index retried when a login or logout changed it meanwhile: each retry needs
# another change within one round trip, so a few always suffice.
INDEX_ATTEMPTS = 8

# Why a refresh was refused: the `reason` of the invalid_grant answer, and its description.
REFUSALS = {
    "reused": "a refresh token of this session was used twice, so it may be stolen: the session is revoked",
    "expired_idle": "the session expired after going unused for too long",
    "expired_absolute": "the session reached its maximum age",
    "revoked": "the session was ended (logout, or revoked by its owner)",
    "password_changed": "the session ended with a password change",
    "evicted": "the session was ended by a newer login: an account keeps a bounded number of sessions",
    "upgraded": "the session was opened before a change to how sessions are kept",
    "unknown": "the refresh token is unknown",
    "dpop_key_mismatch": "the session is bound to a DPoP key: this needs a DPoP proof signed by that key",
}
# What a refresh can come to: a new token, the same one again (a parallel refresh within the
# grace), a new one for a token whose answer was lost, or a refusal for a reason.
ANSWERED = ("rotated", "grace", "reissued")
REFRESH_OUTCOMES = (*ANSWERED, *REFUSALS)


def refused(reason: str) -> InvalidGrantError:
    """The invalid_grant error for a refresh refused for `reason` (a key of REFUSALS)."""
    if reason == "dpop_key_mismatch":  # the session goes on: the rightful client still has the key
        return InvalidGrantError(REFUSALS[reason], reason=reason)
    return InvalidGrantError(f"{REFUSALS[reason]}: log in again", reason=reason)


def reply(raw: Sequence[bytes | int]) -> dict[str, str]:
    """A script's flat key/value reply as a dict of strings."""
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
    return dict(zip(values[::2], values[1::2], strict=True))


def no_offset() -> int:
    """The store's clock as it is: what every caller but a test passes."""
    return 0


@dataclass(frozen=True)
class IssuedRefresh:
    """A refresh token handed out, with what the access token beside it needs."""

    refresh_token: str = field(repr=False)  # never in a log line or a traceback
    session_id: str
    user_id: str
    expires_in: int  # seconds until the session ends without a refresh
    email: str = ""
    role: str = ""
    evicted: str = ""  # the session this login ended to stay within MAX_SESSIONS_PER_USER, if any


def index_ids(client: RedisClient, user_id: str, count: int = -1) -> list[str]:
    """The session ids in a user's index, at most `count` of them (-1: all), first to expire first."""
    members = client.zrange(redis_keys.user_sessions_key(user_id), 0, count if count < 0 else count - 1)
    return [member.decode() for member in members]  # type: ignore[union-attr]


def call_with_index(
    client: RedisClient, script: Script, user_id: str, clock_offset: Callable[[], int],
    keys_before: list[str], args: list[str | int],
) -> dict[str, str]:
    """Run a script over all of a user's sessions: read the index, pass every session key in
    KEYS, and read again when the script says the index changed meanwhile."""
    index = redis_keys.user_sessions_key(user_id)
    for _ in range(INDEX_ATTEMPTS):
        ids = index_ids(client, user_id)
        result = reply(script(
            keys=[*keys_before, index, *(redis_keys.session_key(user_id, i) for i in ids)],
            args=[clock_offset(), *args, *ids],
        ))
        if result["outcome"] != "retry":
            return result
    raise TemporarilyUnavailableError("the user's sessions kept changing; try again")


class SessionStore:
    """The refresh sessions of all users."""

    def __init__(
        self,
        client: RedisClient,
        *,
        keys: RefreshTokenKeys,
        idle_ttl: int,
        max_age: int,
        reuse_grace: int,
        max_sessions: int = 100,
        clock_offset: Callable[[], int] = no_offset,
        on_refresh: Callable[[str, str | None], None] = lambda outcome, user_id: None,
        on_reuse: Callable[[str, str], None] = lambda user_id, session_id: None,
    ) -> None:
        """`on_refresh(outcome, user id when the token was genuine)` hears of every refresh, one
        of REFRESH_OUTCOMES; `on_reuse(user_id, session_id)` of each reuse that ends a session.
        `clock_offset()` is milliseconds the scripts add to the store's clock: tests move time
        with it; nothing else passes one."""
        self._redis = client
        self._keys = keys
        self._idle_ms = idle_ttl * 1000
        self._max_age_ms = max_age * 1000
        self._grace_ms = reuse_grace * 1000
        self._max_sessions = max_sessions
        self._offset = clock_offset
        self._on_refresh = on_refresh
        self._on_reuse = on_reuse
        self._create = client.register_script(load_script("auth_service", "create_session.lua"))
        self._rotate = client.register_script(load_script("auth_service", "rotate_session.lua"))
        self._revoke = client.register_script(load_script("auth_service", "revoke_session.lua"))
        self._revoke_all = client.register_script(load_script("auth_service", "revoke_sessions.lua"))
        self._list = client.register_script(load_script("auth_service", "list_sessions.lua"))
        self._live = client.register_script(load_script("auth_service", "session_live.lua"))

    def create(self, user_id: str, password_hash: str, user_agent: str = "", *,
               email: str = "", role: str = "", jkt: str | None = None) -> IssuedRefresh:
        """Open a session for a user who just proved who they are with the password of
        `password_hash`; its first refresh token. InvalidCredentialsError when that password
        changed meanwhile. `email` and `role` only pass through to the IssuedRefresh. With `jkt`
        (a DPoP proof's key thumbprint), the session is bound to that key for its life."""
        session_id = new_session_id()
        index = redis_keys.user_sessions_key(user_id)
        evict = ""
        if int(self._redis.zcard(index)) >= self._max_sessions:
            evict = next(iter(index_ids(self._redis, user_id, 1)), "")
        for _ in range(INDEX_ATTEMPTS):
            keys = [redis_keys.session_key(user_id, session_id), index, redis_keys.user_key(user_id)]
            if evict:
                keys.append(redis_keys.session_key(user_id, evict))
            result = reply(self._create(
                keys=keys,
                args=[self._offset(), self._idle_ms, self._max_age_ms, session_id, user_agent[:MAX_USER_AGENT],
                      TOMBSTONE_MS, password_hash, self._max_sessions, evict, jkt or ""],
            ))
            if result["outcome"] != "retry":
                break
            evict = result["evict"]
        else:
            raise TemporarilyUnavailableError("the user's sessions kept changing; try again")
        if result["outcome"] != "created":
            raise InvalidCredentialsError("the password changed meanwhile, or the account is gone")
        token = self._keys.mint(user_id, session_id, 0, 0)
        return IssuedRefresh(token, session_id, user_id, int(result["expires_in"]), email, role,
                             result.get("evicted", ""))

    def rotate(self, refresh_token: object, jkt: str | None = None) -> IssuedRefresh:
        """Spend a refresh token for its successor (RFC 6749 §6); InvalidGrantError when refused.

        The live token rotates. Its parent, within the reuse grace of the latest answer, gets
        the same successor; after it, when that successor was never used (its answer was lost),
        a new one, and the superseded one may never be used. Any other token the session issued
        revokes the whole session. A session bound to a DPoP key needs `jkt`, the thumbprint of
        the request's proof, to be that key's (RFC 9449 §5), before anything is spent or revoked.
        """
        parts = self._keys.verify(refresh_token)
        if parts is None:
            self._on_refresh("unknown", None)
            raise refused("unknown")
        if parts.generation is None or parts.branch is None:
            position: list[str | int] = ["", "", hash_refresh_token(str(refresh_token))]  # a legacy token
        else:
            position = [parts.generation, parts.branch, ""]
        result = reply(self._rotate(
            keys=[
                redis_keys.session_key(parts.user_id, parts.session_id),
                redis_keys.user_sessions_key(parts.user_id),
                redis_keys.user_key(parts.user_id),
            ],
            args=[self._offset(), position[0], position[1], self._idle_ms, self._grace_ms, parts.session_id,
                  position[2], jkt or ""],
        ))
        outcome = result["outcome"]
        reason = result.get("reason", outcome)
        detected_reuse = reason == "reused" and result.get("ended_now") == "1"
        # The user id in the token is genuine only when the token matched its session.
        self._on_refresh(reason, parts.user_id if outcome in ANSWERED or detected_reuse else None)
        if detected_reuse:
            self._on_reuse(parts.user_id, parts.session_id)
        if outcome not in ANSWERED:
            raise refused(reason)
        token = self._keys.mint(parts.user_id, parts.session_id, int(result["generation"]), int(result["branch"]))
        return IssuedRefresh(token, parts.session_id, parts.user_id, int(result["expires_in"]),
                             result["email"], result["role"])

    def revoke(self, refresh_token: object, jkt: str | None = None) -> bool:
        """Revoke the session a refresh token it issued (live or spent) belongs to; False when none.
        A session bound to a DPoP key needs `jkt` to be that key's, else InvalidGrantError."""
        parts = self._keys.verify(refresh_token)
        if parts is None:
            return False
        if parts.generation is None or parts.branch is None:
            return self._revoke_session(parts.user_id, parts.session_id,
                                        ["legacy", "", hash_refresh_token(str(refresh_token)), jkt or ""])
        return self._revoke_session(parts.user_id, parts.session_id,
                                    [parts.generation, parts.branch, "", jkt or ""])

    def revoke_by_id(self, user_id: str, session_id: str) -> bool:
        """Revoke one session of `user_id`; False when it has no such session."""
        return self._revoke_session(user_id, session_id, ["", "", "", ""])

    def _revoke_session(self, user_id: str, session_id: str, token: list[str | int]) -> bool:
        revoked = self._revoke(
            keys=[redis_keys.session_key(user_id, session_id), redis_keys.user_sessions_key(user_id)],
            args=[session_id, *token],
        )
        if revoked == -1:
            raise refused("dpop_key_mismatch")
        return bool(revoked)

    def is_live(self, user_id: str, session_id: str) -> bool:
        """Whether the session can still refresh, by the store's clock (session_live.lua)."""
        return bool(self._live(keys=[redis_keys.session_key(user_id, session_id)], args=[self._offset()]))

    def revoke_all(self, user_id: str, *, keep: str = "") -> int:
        """End every live session of a user (but `keep`); how many ended."""
        result = call_with_index(self._redis, self._revoke_all, user_id, self._offset, [], ["revoked", keep])
        return int(result["ended"])

    def list(self, user_id: str) -> list[dict[str, str]]:
        """The user's live sessions by the store's clock, oldest first."""
        ids = index_ids(self._redis, user_id)
        flat = self._list(
            keys=[redis_keys.session_key(user_id, i) for i in ids], args=[self._offset(), *ids]
        ) if ids else []
        rows = sorted((flat[i : i + 4] for i in range(0, len(flat), 4)), key=lambda row: int(row[1]))
        return [
            {
                "id": session_id.decode(),
                "created_at": rfc3339(int(created) / 1000),
                "last_used_at": rfc3339(int(last_used) / 1000),
                "user_agent": user_agent.decode(),
            }
            for session_id, created, last_used, user_agent in rows
        ]
