"""A local SMTP server for `make run` that delivers nowhere: each mail goes to a file, its links to the console.

    python scripts/mail_sink.py --port 1025 --directory var/mail
    python scripts/mail_sink.py --last-token      # the token of the newest mail's link

aiosmtpd (a test dependency) does the SMTP; no mail leaves the machine.
"""

from __future__ import annotations

import argparse
import email
import itertools
import re
import signal
import threading
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S*token=(\S+)")


def plain_text(raw: bytes) -> tuple[EmailMessage, str]:
    """A mail and its text/plain part, decoded."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    return message, body.get_content() if body is not None else ""


class SaveToDirectory:
    """aiosmtpd handler: writes each mail as `<time>-<n>.eml` and prints who it is for and its links."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._numbers)}.eml"
        path.write_bytes(envelope.content)
        message, text = plain_text(envelope.content)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} ({path})", flush=True)
        for link in LINK.finditer(text):
            print(f"  {link[0]}", flush=True)
        return "250 OK: kept in the sink"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--directory", type=Path, default=Path("var/mail"))
    parser.add_argument("--last-token", action="store_true", help="print the token of the newest mail and exit")
    args = parser.parse_args()
    if args.last_token:
        mails = sorted(args.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        found = LINK.search(plain_text(mails[-1].read_bytes())[1]) if mails else None
        if found is None:
            raise SystemExit(f"no mail with a link in {args.directory}/")
        print(found[1])
        return
    args.directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(SaveToDirectory(args.directory), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail sink on smtp://{args.host}:{args.port}, mails in {args.directory}/", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
