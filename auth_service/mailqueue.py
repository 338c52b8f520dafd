"""The queue of mails to send, in Redis: the auth service adds, the mailer process drains.

A job names a flow (reset, verify) and an address, never a token: the mailer looks the
account up and mints the token as it sends, so no usable token is ever stored, and a
request for an unknown address costs the request path exactly what a known one does.
One job per flow and address: requests while one is queued share its mail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared import redis_keys
from shared.store import RedisClient, load_script

FLOWS = ("reset", "verify")
# Reads of the queue's first job when another mailer claimed it in between: each needs a claim
# within one round trip, so a few suffice; past them the mailer simply polls again.
CLAIM_ATTEMPTS = 8


@dataclass(frozen=True)
class MailJob:
    """One claimed attempt at one mail."""

    job_id: str
    flow: str
    email: str
    attempts: int  # this one counted
    handed_over: bool  # an earlier attempt reached DATA and may have delivered it


def email_digest(email: str) -> str:
    """SHA-256 hex of a normalised email: job ids and limit keys name an address without holding it."""
    return hashlib.sha256(email.encode()).hexdigest()


class MailQueue:
    def __init__(self, client: RedisClient) -> None:
        self._redis = client
        self._enqueue = client.register_script(load_script("auth_service", "mail_enqueue.lua"))
        self._claim = client.register_script(load_script("auth_service", "mail_claim.lua"))
        self._settle = client.register_script(load_script("auth_service", "mail_settle.lua"))

    def enqueue(self, flow: str, email: str) -> None:
        """Queue the `flow` mail ("reset" or "verify") for a normalised address, due now."""
        if flow not in FLOWS:
            raise ValueError(f"unknown mail flow {flow!r}")
        job_id = f"{flow}:{email_digest(email)}"
        self._enqueue(
            keys=[redis_keys.mail_queue_key(), redis_keys.mail_job_key(job_id)], args=[job_id, flow, email]
        )

    def claim(self, lease_seconds: int) -> MailJob | None:
        """The next due mail, leased for `lease_seconds` to this caller alone; None when none is due."""
        queue = redis_keys.mail_queue_key()
        for _ in range(CLAIM_ATTEMPTS):
            first: list[tuple[bytes, float]] = self._redis.zrange(queue, 0, 0, withscores=True)  # type: ignore[assignment]
            if not first:
                return None
            job_id, score = first[0][0].decode(), first[0][1]
            found = self._claim(
                keys=[queue, redis_keys.mail_job_key(job_id)], args=[job_id, repr(score), lease_seconds * 1000]
            )
            if not found:
                return None
            if found != [b"retry"]:
                _, flow, email, attempts, handed_over = found
                return MailJob(job_id, flow.decode(), email.decode(), int(attempts), handed_over == b"1")
        return None  # other mailers kept taking the first job: this one looks again at its next poll

    def handing_over(self, job_id: str) -> None:
        """Note that the message itself goes to the server now: from here on a lost answer may
        still mean a delivered mail, which is never sent again."""
        self._redis.hset(redis_keys.mail_job_key(job_id), "handed_over", "1")

    def finish(self, job_id: str) -> None:
        """The job is done: sent, or given up."""
        self._settle(keys=[redis_keys.mail_queue_key(), redis_keys.mail_job_key(job_id)], args=[job_id, ""])

    def retry(self, job_id: str, delay_seconds: float) -> None:
        """Try the job again in `delay_seconds`."""
        self._settle(
            keys=[redis_keys.mail_queue_key(), redis_keys.mail_job_key(job_id)],
            args=[job_id, max(1, int(delay_seconds * 1000))],
        )
