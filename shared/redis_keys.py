"""Every Redis key name, in one place.

Keys of one user share the hash tag `{<user id>}` so that every script over a
user's account and sessions touches one Redis Cluster slot. The directory
keys (email lookup, the listing index, the public profiles) share the tag `{accounts}`.
Each rate-limit key is its own tag: one limited subject, one slot.
"""

from __future__ import annotations


def user_key(user_id: str) -> str:
    """Hash: what signing in needs of an account (id, email, password hash, role)."""
    return f"user:{{{user_id}}}"


def user_sessions_key(user_id: str) -> str:
    """Sorted set: the user's session ids, scored by absolute deadline (ms)."""
    return f"user:{{{user_id}}}:sessions"


def session_key(user_id: str, session_id: str) -> str:
    """Hash: one refresh session (hashes of its live tokens, deadlines, metadata)."""
    return f"user:{{{user_id}}}:session:{session_id}"


def client_key(client_id: str) -> str:
    """Hash: a service client (name, scope, SHA-256 of its secret, created_at); its own hash tag."""
    return f"client:{{{client_id}}}"


SPENT_SUFFIX = ":spent"


def spent_tokens_key(user_id: str, session_id: str) -> str:
    """Sorted set: hashes of the session's spent refresh tokens, scored by when they were spent."""
    return session_key(user_id, session_id) + SPENT_SUFFIX


def profiles_key() -> str:
    """Hash: user id -> the account's public fields (id, email, name, created_at) as JSON,
    kept beside the index so that a page is two commands in one script on one slot, and
    its JSON goes out as stored."""
    return "{accounts}:profiles"


def email_key(email: str) -> str:
    """String: the user id registered under a normalised email."""
    return f"{{accounts}}:email:{email}"


def users_index_key() -> str:
    """Sorted set, all scores 0: members `<created ms, 13 digits>:<user id>`, so lexical order is
    registration order and a member is a stable pagination cursor."""
    return "{accounts}:users"


def login_throttle_key(email_digest: str) -> str:
    """Hash: failed logins and lock deadline of one email (SHA-256 hex of it, registered or not)."""
    return f"limit:{{account:{email_digest}}}"


def address_limit_key(action: str, address: str) -> str:
    """String: the next free slot (ms, GCRA) of one client address for one action (login, ...)."""
    return f"limit:{{addr:{action}:{address}}}"


def revocations_key() -> str:
    """Stream: one entry per ended session or user-wide cut-off (shared/revocation.py), trimmed to
    a token lifetime; its own hash tag, so on a cluster it is one slot that every resource worker
    reads from."""
    return "{revocations}:log"
