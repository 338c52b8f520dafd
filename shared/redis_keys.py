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
    """Sorted set: the user's session ids, scored by idle deadline (ms): derived data, added to at
    login and rotation, removed from only by scripts that end sessions."""
    return f"user:{{{user_id}}}:sessions"


def session_key(user_id: str, session_id: str) -> str:
    """Hash: one refresh session (where its token chain stands, deadlines, metadata)."""
    return f"user:{{{user_id}}}:session:{session_id}"


def client_key(client_id: str) -> str:
    """Hash: a service client (name, scope, SHA-256 of its secret, created_at); its own hash tag."""
    return f"client:{{{client_id}}}"


def login_throttle_key(email_digest: str) -> str:
    """Hash: failed logins and lock deadline of one email (SHA-256 hex of it, registered or not)."""
    return f"limit:{{account:{email_digest}}}"


def client_throttle_key(client_id_digest: str) -> str:
    """Hash: failed authentications and lock deadline of one client id (SHA-256 hex of it)."""
    return f"limit:{{client:{client_id_digest}}}"


def known_addresses_key(throttle_key: str) -> str:
    """Sorted set: the client addresses that got past a credential throttle (login_throttle_key,
    client_throttle_key) with the right secret, scored by the ms until which each is known; one slot
    with the throttle."""
    return f"{throttle_key}:known"


def address_throttle_key(throttle_key: str, address: str) -> str:
    """Hash: a known address's own failures and lock for one credential throttle, fields as the throttle's."""
    return f"{throttle_key}:addr:{address}"


def address_limit_key(action: str, address: str) -> str:
    """String: the next free slot (ms, GCRA) of one client address for one action (login, ...)."""
    return f"limit:{{addr:{action}:{address}}}"


def dpop_jti_key(digest: str) -> str:
    """String: a DPoP proof seen by the auth service (SHA-256 hex of its key's thumbprint and its
    jti), kept while its iat is acceptable; its own slot."""
    return f"dpop:jti:{digest}"
def reset_token_key(user_id: str) -> str:
    """String, expiring: SHA-256 of the account's one live password-reset token."""
    return f"user:{{{user_id}}}:reset"


def verify_token_key(user_id: str) -> str:
    """String, expiring: SHA-256 of the account's one live email-verification token."""
    return f"user:{{{user_id}}}:verify"


def mail_queue_key() -> str:
    """Sorted set: ids of the mails to send, scored by when each is due next (ms, Redis's clock)."""
    return "{mail}:queue"


def mail_job_key(job_id: str) -> str:
    """Hash: one mail to send (flow, address, attempts, and the state of the attempt under way); the job id
    names flow and address."""
    return f"{{mail}}:job:{job_id}"


def mail_limit_key(flow: str, email_digest: str) -> str:
    """String: the next free slot (ms, GCRA) of one email address for one mail flow (reset, verify)."""
    return f"limit:{{mail:{flow}:{email_digest}}}"


def revocations_key() -> str:
    """Stream: one entry per ended session or user-wide cut-off (shared/revocation.py), trimmed to
    a token lifetime; its own hash tag, so on a cluster it is one slot that every resource worker
    reads from."""
    return "{revocations}:log"
