"""Mails over SMTP with the standard library: composing the two mails, and sending one.

Sending tells three outcomes apart, because a mail must go out once: refused for now
(retry later), refused for good, and "may have been delivered" (the connection died
after the message was handed over, RFC 5321 §6.1's duplicate window), which is never
retried, so a lost answer never makes a second mail.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

from auth_service.config import SmtpConfig

SMTP_TIMEOUT = 10  # seconds per SMTP command; the mailer's lease is far longer

# Per flow: the subject, the link's path under PUBLIC_URL, what the mail is for, and what
# ignoring it means.
MAILS = {
    "reset": (
        "Reset your password",
        "/reset-password",
        "Someone asked to reset the password of the account {email} on {site}. "
        "To choose a new password, open this link:",
        "If this was not you, ignore this mail: your password stays as it is.",
    ),
    "verify": (
        "Confirm your email address",
        "/verify-email",
        "Please confirm that {email} is your email address on {site} by opening this link:",
        "If this was not you, ignore this mail: without the link the address stays unconfirmed.",
    ),
}


class MailDeferred(Exception):
    """Not sent, for now (the server is away, busy, or answered 4xx): try again later."""


class MailRefused(Exception):
    """Not sent, for good (5xx): trying again would change nothing."""


class MailMaybeSent(Exception):
    """The message was handed over but the server's answer was lost: it may have been delivered."""


def describe_duration(seconds: int) -> str:
    """`30 minutes`, `24 hours`, `1 day`: the link's life in words."""
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")


def link_for(public_url: str, flow: str, token: str) -> str:
    """The link a mail of `flow` carries: a page under PUBLIC_URL with the token as `token`."""
    return f"{public_url}{MAILS[flow][1]}?token={token}"


def compose(flow: str, *, mail_from: str, to: str, link: str, ttl: int, now: datetime | None = None) -> EmailMessage:
    """The mail of `flow` ("reset" or "verify"): plain text and a simple HTML part, both with the link,
    what it is for, when it expires, and what to do if this was not you. Never a password."""
    subject, _, purpose, not_you = MAILS[flow]
    now = now or datetime.now(UTC)
    site = urlsplit(link).netloc
    purpose = purpose.format(email=to, site=site)
    expires_at = datetime.fromtimestamp(now.timestamp() + ttl, UTC).strftime("%Y-%m-%d %H:%M UTC")
    expiry = f"The link works once and expires in {describe_duration(ttl)} (at {expires_at})."
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = subject
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=parseaddr(mail_from)[1].rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(f"Hello,\n\n{purpose}\n\n{link}\n\n{expiry}\n\n{not_you}\n")
    e = html.escape
    message.add_alternative(
        "<!doctype html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n"
        f"<p>Hello,</p>\n<p>{e(purpose)}</p>\n"
        f"<p><a href=\"{e(link)}\">{e(subject)}</a></p>\n"
        f"<p>Or copy this address into your browser:<br><code>{e(link)}</code></p>\n"
        f"<p>{e(expiry)}</p>\n<p>{e(not_you)}</p>\n</body></html>\n",
        subtype="html",
    )
    return message


def _failure(code: int, reply: bytes | str) -> Exception:
    """The exception for an SMTP reply that refused a command: 4xx for now, 5xx for good."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return (MailDeferred if 400 <= code < 500 else MailRefused)(f"{code} {text}")


class SmtpSender:
    """Sends one message per connection to the server of SMTP_URL."""

    def __init__(self, config: SmtpConfig, *, timeout: float = SMTP_TIMEOUT) -> None:
        self._config = config
        self._timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if config.security == "tls":
            connection = smtplib.SMTP_SSL(config.host, config.port, timeout=self._timeout, context=context)
        else:
            connection = smtplib.SMTP(config.host, config.port, timeout=self._timeout)
        try:
            connection.ehlo()
            if config.security == "starttls":
                connection.starttls(context=context)
                connection.ehlo()
            if config.username:
                connection.login(config.username, config.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: EmailMessage, *, before_data: Callable[[], None] = lambda: None) -> None:
        """Send `message` to its one `To` address; `before_data` runs just before the message is handed over.

        Raises MailDeferred, MailRefused or MailMaybeSent (see the module's docstring).
        """
        sender, recipient = parseaddr(str(message["From"]))[1], parseaddr(str(message["To"]))[1]
        international = not (sender + recipient).isascii()
        try:
            connection = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise MailDeferred(f"SMTP login refused: {exc.smtp_code}") from None  # an operator's fix, then it goes
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeferred(f"cannot reach the SMTP server: {type(exc).__name__}: {exc}") from None
        try:
            options: list[str] = []
            if international:
                if not connection.has_extn("smtputf8"):
                    raise MailRefused("the SMTP server cannot take a non-ASCII address (no SMTPUTF8)")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            code, reply = connection.mail(sender, options)
            if code != 250:
                raise _failure(code, reply)
            code, reply = connection.rcpt(recipient)
            if code not in (250, 251):
                raise _failure(code, reply)
            before_data()
            payload = message.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP)
            try:
                code, reply = connection.data(payload)
            except smtplib.SMTPDataError as exc:  # a reply refused DATA or the message: not delivered
                raise _failure(exc.smtp_code, exc.smtp_error) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise MailMaybeSent(f"the answer to the message was lost: {type(exc).__name__}") from None
            if code != 250:
                raise _failure(code, reply)
        except (OSError, smtplib.SMTPException) as exc:  # before the message went: nothing was delivered
            raise MailDeferred(f"SMTP failed before the message: {type(exc).__name__}: {exc}") from None
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
