"""A real SMTP server for the tests (aiosmtpd in a thread), keeping what it receives."""

from __future__ import annotations

import email
import re
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port

LINK = re.compile(r"https?://\S*token=([A-Za-z0-9._-]+)")


@dataclass
class ReceivedMail:
    envelope_from: str
    envelope_to: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body((subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]

    @property
    def link(self) -> str:
        found = LINK.search(self.part("plain"))
        assert found, "no link in the mail"
        return found[0]

    @property
    def token(self) -> str:
        found = LINK.search(self.part("plain"))
        assert found, "no link in the mail"
        return found[1]


class SmtpSink:
    """An SMTP server on a port of its own; `stop()` and `start()` again on the same port make an outage."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.mails: list[ReceivedMail] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None
        self.reply = "250 OK"  # what the server answers to each message; "drop": hang up instead

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.reply == "drop":  # the message came, the answer never goes
            server.transport.close()
        if not self.reply.startswith("250"):
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.mails.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, message))
            self._changed.notify_all()
        return self.reply

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str, subject: str | None = None) -> list[ReceivedMail]:
        """The mails received for `address` (with `subject`, when given), oldest first."""
        with self._changed:
            return [m for m in self.mails if address in m.envelope_to and subject in (None, m.subject)]

    def wait_for(self, address: str, subject: str | None = None, count: int = 1, timeout: float = 20) -> ReceivedMail:
        """The `count`-th mail for `address` (with `subject`), waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.mails if address in m.envelope_to and subject in (None, m.subject)]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no mail #{count} for {address} ({subject}) within {timeout} s")
                self._changed.wait(remaining)
