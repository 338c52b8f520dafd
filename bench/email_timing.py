"""Timing of POST /password/forgot, run by hand: `.venv/bin/python bench/email_timing.py`.

Starts Redis, the auth service under gunicorn (EMAIL=on, limits off), the mailer and an SMTP
server (aiosmtpd) of its own, then:

1. known against unknown addresses: BENCH_SAMPLES (50) requests each, interleaved in a
   random order, timed from this process over loopback; medians and spread. The answers
   must not tell the two apart (contract: no enumeration).
2. an SMTP outage: the SMTP server stopped, BENCH_SAMPLES requests more, timed the same way;
   then the server comes back, and the time until the queued mail arrives.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import CHEAP_ARGON2_ENV, RedisServer, free_port, write_private_key  # noqa: E402
from tests.smtp import SmtpSink  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "50"))


def post(port: int, path: str, body: dict[str, str]) -> tuple[float, int, bytes]:
    """(milliseconds, status, body) of one JSON POST on a new connection, as a browser's first request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.perf_counter()
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = connection.getresponse()
    content = answer.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return elapsed, answer.status, content


def summary(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=10)
    return (f"{name:<22} n={len(values):<3} median {statistics.median(values):6.2f} ms   p10 {q[0]:6.2f}   "
            f"p90 {q[-1]:6.2f}   mean {statistics.fmean(values):6.2f}")


def reset_recipients(sink: SmtpSink) -> set[str]:
    return {to for m in sink.mails if m.subject.startswith("Reset") for to in m.envelope_to}


def wait_for_health(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the auth service did not start")


def main() -> int:
    from cryptography.hazmat.primitives.asymmetric import rsa

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="email-bench-")))
        redis_server = RedisServer(work / "redis")
        redis_server.start()
        stack.callback(redis_server.stop)
        sink = SmtpSink().start()
        stack.callback(sink.stop)
        key = write_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048), work / "key.pem")
        port = free_port()
        env = {**os.environ, **CHEAP_ARGON2_ENV, "REDIS_URL": redis_server.url, "AUTH_PORT": str(port),
               "JWT_ISSUER": f"http://127.0.0.1:{port}", "JWT_PRIVATE_KEY_FILE": str(key), "WEB_CONCURRENCY": "2",
               "EMAIL": "on", "SMTP_URL": sink.url, "MAIL_FROM": "auth@example.test",
               "PUBLIC_URL": "http://app.example.test", "MAIL_EMAIL_LIMIT": "0", "MAIL_ADDRESS_LIMIT": "0",
               "REGISTER_ADDRESS_LIMIT": "0"}
        processes = []
        for command in (["serve"], ["mailer"]):
            log = open(work / f"{command[0]}.log", "wb")  # noqa: SIM115 (closed with the stack)
            stack.callback(log.close)
            process = subprocess.Popen([sys.executable, "-m", "auth_service", *command], cwd=REPO, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
            processes.append(process)
            stack.callback(lambda p=process: (p.send_signal(signal.SIGTERM), p.wait(timeout=15)))
        wait_for_health(port, processes[0])

        known = [f"known-{uuid.uuid4().hex[:10]}@example.com" for _ in range(SAMPLES)]
        for email in known:
            assert post(port, "/register", {"email": email, "password": "correct horse battery"})[1] == 201
        unknown = [f"unknown-{uuid.uuid4().hex[:10]}@example.com" for _ in range(SAMPLES)]
        for _ in range(10):  # warm-up: connections, imports, script loads
            post(port, "/password/forgot", {"email": random.choice(known + unknown)})
        order = [("known", e) for e in known] + [("unknown", e) for e in unknown]
        random.shuffle(order)
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        answers: dict[str, set[tuple[int, bytes]]] = {"known": set(), "unknown": set()}
        for kind, email in order:
            elapsed, status, body = post(port, "/password/forgot", {"email": email})
            times[kind].append(elapsed)
            answers[kind].add((status, body))
        print(f"POST /password/forgot, {SAMPLES} known and {SAMPLES} unknown addresses, random order, 2 workers")
        print(summary("known address", times["known"]))
        print(summary("unknown address", times["unknown"]))
        difference = statistics.median(times["known"]) - statistics.median(times["unknown"])
        print(f"difference of medians: {difference:+.3f} ms; answers: known {answers['known']}, "
              f"unknown {answers['unknown']}")
        deadline = time.monotonic() + 30
        while not set(known) <= reset_recipients(sink):
            assert time.monotonic() < deadline, "not every known address got its mail"
            time.sleep(0.05)
        time.sleep(1)
        strays = [m for m in sink.mails if set(m.envelope_to) & set(unknown)]
        print(f"mails: every known address got its reset mail, {len(strays)} mails to unknown addresses")

        sink.stop()
        outage = [f"outage-{uuid.uuid4().hex[:10]}@example.com" for _ in range(SAMPLES)]
        for email in outage:
            post(port, "/register", {"email": email, "password": "correct horse battery"})
        time.sleep(3)  # the mailer's first attempts at the registrations' mails fail and back off
        during = [post(port, "/password/forgot", {"email": email}) for email in outage]
        print(summary("SMTP down", [t for t, _, _ in during]) + f"   statuses {sorted({s for _, s, _ in during})}")
        time.sleep(3)  # the mailer meets the outage and backs off
        sink.start()
        back = time.monotonic()
        while not set(outage) <= reset_recipients(sink):
            assert time.monotonic() - back < 300, "the queued mails did not go out"
            time.sleep(0.05)
        delivered = time.monotonic() - back
        time.sleep(2)
        resets = [m for m in sink.mails if set(m.envelope_to) & set(outage) and m.subject.startswith("Reset")]
        print(f"SMTP back: the {SAMPLES} queued reset mails arrived within {delivered:.1f} s; "
              f"{len(resets)} reset mails to those addresses in all (each once: {len(resets) == SAMPLES})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
