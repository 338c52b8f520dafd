"""CPU microseconds of each part of a request, measured one by one in this process.

Run by bench/run.py (`python bench/parts.py REDIS_URL REDIS_PID KEY_FILE`) in a process of its
own, since prometheus_client picks memory or files at its first import; prints one JSON object.
The framework's share (gunicorn + Flask) is bench/run.py's bare Flask app.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-parts-")


def cpu_us(action: Callable[[], object], seconds: float = 0.4, redis_pid: int | None = None) -> float:
    """CPU microseconds of one `action()`: this process, and Redis when `redis_pid` is given."""
    from bench.run import cpu_seconds

    action()
    count, start = 0, time.process_time()
    redis_before = cpu_seconds([redis_pid]) if redis_pid else 0.0
    while time.process_time() - start < seconds:
        for _ in range(20):
            action()
        count += 20
    spent = time.process_time() - start + (cpu_seconds([redis_pid]) - redis_before if redis_pid else 0.0)
    return spent * 1e6 / count


def main() -> None:
    redis_url, redis_pid, key_file = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    import logging.config

    from flask import Flask

    from auth_service.keys import load_key_ring
    from auth_service.tokens import AccessTokenIssuer
    from shared import observability
    from shared.directory import AccountDirectory
    from shared.jwt import StaticKeys, TokenVerifier
    from shared.logs import logging_config
    from shared.store import connect_redis

    config = logging_config("bench")
    config["handlers"]["stderr"]["stream"] = open(os.devnull, "w")  # noqa: SIM115
    logging.config.dictConfig(config)
    app = Flask(__name__)
    metrics = observability.init_observability(app)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    keys = load_key_ring((key_file.read_bytes(),))
    issuer = AccessTokenIssuer(keys, issuer="http://bench", audience="bench", ttl=900)
    token = issuer.issue(subject="0" * 32, email="a@example.com", scope="users:read", session_id="1" * 32)
    verifier = TokenVerifier(StaticKeys(keys.public_keys), issuer="http://bench", audience="bench")
    client = connect_redis(redis_url)
    users = AccountDirectory(client)
    parts: dict[str, float] = {}
    with app.test_request_context("/healthz"):
        from flask import g

        def new_request_id() -> None:
            g.pop("request_id", None)
            observability.request_id()

        parts["request id"] = cpu_us(new_request_id)
        response = app.make_response("ok")

        def hooks() -> None:
            observability._start_request()  # noqa: SLF001
            observability._finish_request(response)  # noqa: SLF001

        parts["log line + metrics + request id (the app's hooks)"] = cpu_us(hooks)
        parts["metrics (one request counted and timed)"] = cpu_us(
            lambda: metrics.observe_request("/healthz", "GET", 200, 0.0004))
    # Two tokens through a verifier that remembers one: each verify is a first one.
    other = issuer.issue(subject="2" * 32, email="b@example.com", scope="users:read", session_id="3" * 32)
    forgetful = TokenVerifier(StaticKeys(keys.public_keys), issuer="http://bench", audience="bench", remember=1)
    parts["access token verify, first use (PyJWT)"] = cpu_us(
        lambda: (forgetful.verify(token), forgetful.verify(other))) / 2
    parts["access token verify, remembered"] = cpu_us(lambda: verifier.verify(token))
    parts["access token signature (claims + RS256)"] = cpu_us(
        lambda: issuer.issue(subject="0" * 32, email="a@example.com", scope="users:read", session_id="1" * 32))
    parts["Redis round trip (PING, client + Redis)"] = cpu_us(client.ping, redis_pid=redis_pid)
    parts["page of 50 users (script + decoding, client + Redis)"] = cpu_us(
        lambda: users.list_page(50), redis_pid=redis_pid)
    print(json.dumps(parts))


if __name__ == "__main__":
    main()
