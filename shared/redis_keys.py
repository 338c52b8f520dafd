"""Every Redis key name, in one place, but for the account directory's (shared/directory.py,
the owner of that schema).

Keys of one user share the hash tag `{<user id>}` so that every script over a
user's account and sessions touches one Redis Cluster slot. Each rate-limit key
is its own tag: one limited subject, one slot.
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
