"""A local SMTP server for `make run` that delivers nowhere: each mail goes to a file, its links to the console.

    python scripts/mail_sink.py --port 1025 --directory var/mail

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

LINK = re.compile(r"https?://\S*token=\S+")


class SaveToDirectory:
    """aiosmtpd handler: writes each mail as `<time>-<n>.eml` and prints who it is for and its links."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._numbers)}.eml"
        path.write_bytes(envelope.content)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} ({path})", flush=True)
        for link in LINK.findall(text):
            print(f"  {link}", flush=True)
        return "250 OK: kept in the sink"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--directory", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
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
