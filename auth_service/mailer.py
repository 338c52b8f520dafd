"""The mailer: `python -m auth_service mailer` drains the mail queue over SMTP.

A process of its own rather than a thread in each gunicorn worker: the workers fork from
an app built beforehand (threads do not survive a fork), gunicorn kills and replaces
workers at will (timeouts, restarts) which would cut sends short, and retries must go on
while no request comes. SMTP's latency and outages thus never reach a request; the
queue's leases make several mailers safe.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

import redis

from auth_service.accounts import AccountStore
from auth_service.config import EmailConfig
from auth_service.mail import MailDeferred, MailMaybeSent, MailRefused, SmtpSender, compose, link_for
from auth_service.mailqueue import MailJob, MailQueue
from auth_service.recovery import EmailTokenStore
from shared.store import RedisClient

log = logging.getLogger("auth_service.mailer")

LEASE_SECONDS = 120  # a claimed job is due again after this, should its mailer die mid-send
POLL_SECONDS = 0.25  # how often an idle mailer looks for due mail
FIRST_RETRY_SECONDS = 2.0  # then doubling, with jitter, up to MAX_RETRY_SECONDS
MAX_RETRY_SECONDS = 300.0
MAX_ATTEMPTS = 30  # about two hours of trying, past which a reset link would be stale anyway


def retry_delay(attempts: int, jitter: Callable[[], float] = random.random) -> float:
    """Seconds before attempt `attempts + 1`: exponential backoff with ±20 % jitter."""
    base: float = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** (attempts - 1))
    return base * (0.8 + 0.4 * jitter())


class Mailer:
    """Sends each queued mail: looks the account up, mints the link's token, sends, settles the job."""

    def __init__(
        self,
        client: RedisClient,
        config: EmailConfig,
        accounts: AccountStore,
        *,
        sender: SmtpSender | None = None,
    ) -> None:
        self._config = config
        self._queue = MailQueue(client)
        self._tokens = EmailTokenStore(client, reset_ttl=config.password_reset_ttl, verify_ttl=config.verify_ttl)
        self._accounts = accounts
        self._sender = sender or SmtpSender(config.smtp)

    def run(self, stop: threading.Event) -> None:
        """Send mail until `stop` is set; rides out Redis and SMTP outages by itself."""
        log.info("mailer started: sending to %s:%d (%s)", self._config.smtp.host, self._config.smtp.port,
                 self._config.smtp.security)
        pause = POLL_SECONDS
        while not stop.is_set():
            try:
                worked = self.send_next()
                pause = POLL_SECONDS
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    redis.exceptions.ClusterError, redis.exceptions.RedisClusterException) as exc:
                log.warning("mail queue unreachable: %s", type(exc).__name__)
                worked, pause = False, min(5.0, pause * 2)
            if not worked:
                stop.wait(pause)
        log.info("mailer stopped")

    def send_next(self) -> bool:
        """One attempt at the next due mail; False when none was due."""
        job = self._queue.claim(LEASE_SECONDS)
        if job is None:
            return False
        fields = {"event": "mail", "flow": job.flow, "attempt": job.attempts}
        if job.handed_over:
            log.warning("mail not sent again: an earlier attempt handed it over and lost the answer",
                        extra={"fields": {**fields, "outcome": "maybe_sent"}})
            self._queue.finish(job.job_id)
            return True
        account = self._accounts.find_by_email(job.email)
        if account is None or (job.flow == "verify" and account.get("email_verified") == "1"):
            # An unknown address (or a verified one) gets nothing; the caller saw the same 202.
            self._queue.finish(job.job_id)
            return True
        fields["user_id"] = account["id"]
        try:
            self._send(job, account["id"])
        except MailDeferred as exc:
            if job.attempts >= MAX_ATTEMPTS:
                log.error("mail given up: %s", exc, extra={"fields": {**fields, "outcome": "given_up"}})
                self._queue.finish(job.job_id)
            else:
                delay = retry_delay(job.attempts)
                log.warning("mail deferred, retry in %.0f s: %s", delay,
                            exc, extra={"fields": {**fields, "outcome": "deferred"}})
                self._queue.retry(job.job_id, delay)
        except MailRefused as exc:
            log.error("mail refused: %s", exc, extra={"fields": {**fields, "outcome": "refused"}})
            self._queue.finish(job.job_id)
        except MailMaybeSent as exc:
            log.warning("mail may have been delivered, not sent again: %s", exc,
                        extra={"fields": {**fields, "outcome": "maybe_sent"}})
            self._queue.finish(job.job_id)
        else:
            log.info("mail sent", extra={"fields": {**fields, "outcome": "sent"}})
            self._queue.finish(job.job_id)
        return True

    def _send(self, job: MailJob, user_id: str) -> None:
        # The token is minted here and lives only in this process and the mail: the store keeps its hash.
        token = self._tokens.issue(job.flow, user_id)
        ttl = self._tokens.ttls[job.flow]
        message = compose(job.flow, mail_from=self._config.mail_from, to=job.email,
                          link=link_for(self._config.public_url, job.flow, token), ttl=ttl)
        self._sender.send(message, before_data=lambda: self._queue.handing_over(job.job_id))
