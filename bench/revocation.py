"""Benchmark of the three revocation levels, run by hand: part of `make bench`
(or `.venv/bin/python bench/revocation.py`).

1. The revocation latency under REVOCATION_PUSH=redis: 100 logouts, each followed by
   GET /me polled until the resource service refuses the token; the time from the logout's
   answer (the session has ended) to the first refusal. One resource worker, so every poll
   asks the worker being measured.
2. The cost per request of each level: GET /me under wrk against the resource service
   started autonomous, with push, and with introspection (cached as configured by default,
   and uncached, INTROSPECTION_CACHE_TTL=0, which is what every new token costs once), with
   the CPU milliseconds per request that the services and Redis spent.

Settings: BENCH_ROUNDS (3), BENCH_SECONDS (3), BENCH_WORKERS (2), BENCH_CONNECTIONS (4),
BENCH_REVOCATIONS (100).
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import (  # noqa: E402
    PASSWORD,
    REPO,
    ROUNDS,
    SECONDS,
    WORKERS,
    WRK_BEARER,
    Path_,
    RedisServer,
    free_port,
    percentile,
    post_json,
    process_tree,
    start_service,
    wrk,
)

REVOCATIONS = int(os.environ.get("BENCH_REVOCATIONS", "100"))


def get_status(port: int, path: str, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    status = connection.getresponse().status
    connection.close()
    return status


def revocation_latencies(auth_port: int, resource_port: int, emails: list[str]) -> list[float]:
    """Milliseconds from each logout's 204 to the resource service's first 401 for its token."""
    latencies = []
    for i in range(REVOCATIONS):
        pair = post_json(auth_port, "/login", {"email": emails[i % len(emails)], "password": PASSWORD})
        assert get_status(resource_port, "/me", pair["access_token"]) == 200
        post_json(auth_port, "/logout", {"refresh_token": pair["refresh_token"]})
        ended = time.perf_counter()
        while get_status(resource_port, "/me", pair["access_token"]) != 401:
            if time.perf_counter() - ended > 5:
                raise RuntimeError("a revocation did not reach the resource service within 5 s")
        latencies.append((time.perf_counter() - ended) * 1000)
    return latencies


def main() -> int:
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-revocation-")))
        redis = RedisServer(work / "redis", "--appendonly", "yes", "--appendfsync", "everysec")
        redis.start()
        stack.callback(redis.stop)
        key = work / "key.pem"
        refresh_key = work / "refresh.key"
        for command, path in (("generate-key", key), ("generate-refresh-key", refresh_key)):
            subprocess.run([sys.executable, "-m", "auth_service", command, str(path)], check=True,
                           capture_output=True, cwd=REPO)
        auth_port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "AUTH_PORT": str(auth_port),
            "JWT_ISSUER": f"http://127.0.0.1:{auth_port}",
            "JWT_PRIVATE_KEY_FILE": str(key),
            "REFRESH_TOKEN_KEY_FILE": str(refresh_key),
            "WEB_CONCURRENCY": str(WORKERS),
            "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0", "REFRESH_ADDRESS_LIMIT": "0",
            "LOGIN_DELAY": "0",
        }
        auth = start_service(stack, "auth_service", env, auth_port, work / "auth.log")
        made = subprocess.run([sys.executable, "-m", "auth_service", "create-client", "bench", "--scope", "introspect"],
                              env=env, cwd=REPO, check=True, capture_output=True, text=True)
        gateway = json.loads(made.stdout)
        emails = [f"bench-{i}@example.com" for i in range(10)]
        for email in emails:
            post_json(auth_port, "/register", {"email": email, "password": PASSWORD})
        token = post_json(auth_port, "/login", {"email": emails[0], "password": PASSWORD})["access_token"]
        base = {k: v for k, v in env.items() if k not in ("JWT_PRIVATE_KEY_FILE", "REFRESH_TOKEN_KEY_FILE")}
        base["JWKS_URL"] = f"http://127.0.0.1:{auth_port}/.well-known/jwks.json"
        introspect = {"REVOCATION_CHECK": "introspect", "INTROSPECTION_CLIENT_ID": gateway["client_id"],
                      "INTROSPECTION_CLIENT_SECRET": gateway["client_secret"]}
        levels = {
            "autonomous": {},
            "push": {"REVOCATION_PUSH": "redis"},
            "introspect (5 s cache)": introspect,
            "introspect (no cache)": {**introspect, "INTROSPECTION_CACHE_TTL": "0"},
        }

        print(f"revocation latency: {REVOCATIONS} logouts against a push-mode resource service ...", file=sys.stderr)
        with ExitStack() as resource_stack:
            port = free_port()
            start_service(resource_stack, "resource_service",
                          {**base, "RESOURCE_PORT": str(port), "WEB_CONCURRENCY": "1", "REVOCATION_PUSH": "redis"},
                          port, work / "resource-latency.log")
            latencies = revocation_latencies(auth_port, port, emails)

        # Every level runs at once and the rounds alternate, so that the shared machine's noise
        # falls on all of them alike; the medians are printed.
        targets: dict[str, tuple[Path_, int]] = {}
        for name, extra in levels.items():
            port = free_port()
            resource = start_service(stack, "resource_service", {**base, "RESOURCE_PORT": str(port), **extra}, port,
                                     work / f"resource-{len(targets)}.log")
            targets[name] = (Path_(f"GET /me {name}", f"http://127.0.0.1:{port}/me", WRK_BEARER,
                                   {"BENCH_TOKEN": token}, route="/me"), resource.pid)
        for round_number in range(ROUNDS):
            print(f"GET /me, round {round_number + 1}/{ROUNDS}", file=sys.stderr)
            for target, resource_pid in targets.values():
                def measured(resource_pid: int = resource_pid) -> list[int]:
                    return process_tree(auth.pid) + process_tree(resource_pid) + [redis.process.pid]  # type: ignore[union-attr]

                target.runs.append(wrk(target, work, measured))
        results = {name: {key: target.median(key) for key in ("rps", "cpu_ms", "p50", "p99")}
                   | {"errors": sum(run["errors"] for run in target.runs)}
                   for name, (target, _) in targets.items()}

    print()
    print(f"Revocation latency under REVOCATION_PUSH=redis, {REVOCATIONS} logouts (from the logout's answer "
          f"to the first 401): median {statistics.median(latencies):.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
          f"worst {max(latencies):.1f} ms")
    print()
    print(f"GET /me, {ROUNDS} rounds of wrk {SECONDS} s, {WORKERS} workers per service, "
          f"{os.cpu_count()} cores; medians")
    header = f"{'level':<24} {'req/s':>8} {'CPU ms/req':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for name, run in results.items():
        print(f"{name:<24} {run['rps']:>8,.0f} {run['cpu_ms']:>10.2f} {run['p50']:>7.2f} {run['p99']:>7.2f} "
              f"{int(run['errors']):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
