"""Service clients for the client credentials grant (RFC 6749 §4.4): made and revoked from the command line."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from auth_service.accounts import ROLE_SCOPES
from shared import redis_keys
from shared.accounts import check_name, rfc3339
from shared.errors import InvalidClientError, InvalidRequestError, InvalidScopeError
from shared.store import RedisClient

# The scope that lets a service client ask POST /introspect about tokens; no user holds it.
INTROSPECT_SCOPE = "introspect"
# Every scope some role grants, and the clients' own; a client may hold any of them, in this order.
KNOWN_SCOPES = (*dict.fromkeys(s for scopes in ROLE_SCOPES.values() for s in scopes.split()), INTROSPECT_SCOPE)
# The prefix keeps a client's `sub` apart from every user id (uuid4 hex), as RFC 9068 §5 asks.
CLIENT_ID_PATTERN = re.compile(r"svc-[0-9a-f]{32}")
_NO_SECRET_HASH = "0" * 64  # compared when the client is unknown, so both paths do the same work


@dataclass(frozen=True)
class Client:
    """A service client as a token request sees it."""

    client_id: str
    name: str
    scope: str


def parse_scope(raw: str) -> list[str]:
    """The scopes of a space-separated list (RFC 6749 §3.3), known ones only, in canonical order."""
    requested = set(raw.split())
    unknown = requested.difference(KNOWN_SCOPES)
    if unknown:
        raise InvalidScopeError(f"unknown scope {sorted(unknown)[0]!r}; known: {' '.join(KNOWN_SCOPES)}")
    return [scope for scope in KNOWN_SCOPES if scope in requested]


def narrow_scope(granted: str, requested: str | None) -> str:
    """The scope to issue: all that was granted, or the requested part of it; InvalidScopeError beyond."""
    if requested is None:
        return granted
    wanted = parse_scope(requested)
    if not wanted or not set(wanted) <= set(granted.split()):
        raise InvalidScopeError(f"this client may ask for {granted!r} or part of it")
    return " ".join(wanted)


def hash_client_secret(secret: str) -> str:
    """What the store keeps of a client secret.

    The secret is 256 random bits, so a fast hash is as good as a slow one: no guessing
    campaign can cover that space, and Argon2 on every token request would only hand
    callers a way to burn our CPU. A copy of Redis still yields no usable secret.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ClientStore:
    """Service clients kept in Redis, one hash each, the secret only as its SHA-256."""

    def __init__(self, client: RedisClient, *, now: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._now = now

    def create(self, name: object, scope: str) -> tuple[Client, str]:
        """A new client and its secret, which is not kept and so can be shown only now."""
        name = check_name(name)
        if not name:
            raise InvalidRequestError("a client needs a name")
        scopes = parse_scope(scope)
        if not scopes:
            raise InvalidScopeError(f"give the client at least one scope of: {' '.join(KNOWN_SCOPES)}")
        client = Client("svc-" + secrets.token_hex(16), name, " ".join(scopes))
        secret = secrets.token_urlsafe(32)
        # One HSET: the record appears whole or not at all.
        self._redis.hset(redis_keys.client_key(client.client_id), mapping={
            "id": client.client_id,
            "name": client.name,
            "scope": client.scope,
            "secret_hash": hash_client_secret(secret),
            "created_at": rfc3339(self._now()),
        })
        return client, secret

    def authenticate(self, client_id: str, secret: str) -> Client:
        """The client these credentials are of; InvalidClientError for an unknown client or a wrong secret."""
        record: dict[bytes, bytes] = {}
        if CLIENT_ID_PATTERN.fullmatch(client_id):
            record = self._redis.hgetall(redis_keys.client_key(client_id))  # type: ignore[assignment]
        stored = record.get(b"secret_hash", b"").decode() or _NO_SECRET_HASH
        if not hmac.compare_digest(stored, hash_client_secret(secret)) or not record:
            raise InvalidClientError("unknown client or wrong client secret")
        return Client(client_id, record[b"name"].decode(), record[b"scope"].decode())

    def exists(self, client_id: str) -> bool:
        """Whether the client is still registered (not revoked)."""
        return bool(CLIENT_ID_PATTERN.fullmatch(client_id)) and bool(
            self._redis.exists(redis_keys.client_key(client_id))
        )

    def revoke(self, client_id: str) -> bool:
        """Delete a client: its secret stops working at once, its access tokens live out their TTL."""
        if not CLIENT_ID_PATTERN.fullmatch(client_id):
            return False
        return bool(self._redis.delete(redis_keys.client_key(client_id)))
