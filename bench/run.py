"""Benchmark of the hot paths, run by hand: `make bench` (or `.venv/bin/python bench/run.py`).

It starts Redis and both services under gunicorn, loads them with wrk from a second
process on loopback, and prints one table. The machine is shared and small, so every
figure that is judged is a ratio of things measured side by side in this run: medians
of alternating rounds, with the CPU milliseconds per request that the services and
Redis spent (from /proc) next to the requests per second.

Settings (environment): BENCH_ROUNDS (3), BENCH_SECONDS (3), BENCH_WORKERS (2 gunicorn
workers per service), BENCH_CONNECTIONS (4 wrk connections).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from auth_service.config import HashingConfig  # noqa: E402
from auth_service.passwords import PasswordHasher  # noqa: E402
from tests.conftest import RedisServer, free_port  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "4"))
PASSWORD = "correct horse battery staple"
TICKS = os.sysconf("SC_CLK_TCK")

# wrk prints one JSON line at the end of each run.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('{"requests": %d, "seconds": %f, "errors": %d, "p50": %f, "p99": %f}\\n',
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""

WRK_BEARER = """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
"""

WRK_LOGIN = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_LOGIN_BODY")
"""

# One connection per thread, so each thread's requests and answers alternate strictly
# and it can follow its own chain of single-use refresh tokens.
WRK_REFRESH = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do table.insert(tokens, line) end
local next_thread = 1
setup = function(thread)
  thread:set("token", tokens[next_thread])
  next_thread = next_thread + 1
end
request = function()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"refresh_token": "' .. token .. '"}')
end
response = function(status, headers, body)
  local new = body:match('"refresh_token":%s*"([^"]+)"')
  if new then token = new end
end
"""


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


@dataclass
class Path_:
    name: str
    url: str
    script: str
    env: dict[str, str] = field(default_factory=dict)
    threads: int = 2
    connections: int = CONNECTIONS
    prepare: Callable[[], dict[str, str]] | None = None
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)


def wrk(target: Path_, script_dir: Path, measured_pids: Callable[[], list[int]]) -> dict[str, float]:
    """One wrk run against `target`; its rate, latency and the CPU it cost per request."""
    script = script_dir / f"{target.name.replace(' ', '_').replace('/', '')}.lua"
    script.write_text(target.script + WRK_REPORT)
    env = {**os.environ, **target.env, **(target.prepare() if target.prepare else {})}
    pids = measured_pids()
    before = cpu_seconds(pids)
    out = subprocess.run(
        ["wrk", "-t", str(target.threads), "-c", str(target.connections), "-d", f"{SECONDS}s",
         "-s", str(script), target.url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    cpu = cpu_seconds(pids) - before
    report = json.loads(out.strip().splitlines()[-1])
    requests = max(report["requests"], 1)
    return {
        "rps": report["requests"] / report["seconds"],
        "cpu_ms": cpu * 1000 / requests,
        "errors": report["errors"],
        "p50": report["p50"],
        "p99": report["p99"],
    }


def paced_latencies(host: str, port: int, method: str, path: str, make_body: Callable[[], str | None],
                    headers: dict[str, str], rate: float, seconds: float,
                    on_answer: Callable[[bytes], None] = lambda data: None) -> list[float]:
    """Latencies (ms) of requests sent at a fixed rate on one keep-alive connection;
    `on_answer` sees each answer's body (a refresh follows its token chain with it)."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    latencies = []
    start = time.perf_counter()
    for i in range(max(1, int(rate * seconds))):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = make_body()
        sent = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        latencies.append((time.perf_counter() - sent) * 1000)
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:200]!r}")
        on_answer(data)
    connection.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def rsa_sign_rate(seconds: float = 1.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 400
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


def argon2_verify_ms(cost: HashingConfig, samples: int = 15) -> float:
    """Median time of one Argon2id verify at `cost`."""
    hasher = PasswordHasher(cost)
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.verify(PASSWORD, stored)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def post_json(port: int, path: str, body: dict[str, str], headers: dict[str, str] | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, body=json.dumps(body),
                       headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"POST {path} answered {response.status}: {data[:200]!r}")
    return json.loads(data) if data else {}


def start_service(stack: ExitStack, module: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", module, "serve"], cwd=REPO, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)

    stack.callback(stop)
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{module} did not start; see {log}")


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    cost = HashingConfig.from_env()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        redis = RedisServer(work / "redis", "--appendonly", "yes", "--appendfsync", "everysec")
        redis.start()
        stack.callback(redis.stop)
        key = work / "key.pem"
        subprocess.run([sys.executable, "-m", "auth_service", "generate-key", str(key)], check=True,
                       capture_output=True, cwd=REPO)
        refresh_key = work / "refresh-token.key"
        subprocess.run([sys.executable, "-m", "auth_service", "generate-refresh-key", str(refresh_key)], check=True,
                       capture_output=True, cwd=REPO)
        auth_port, resource_port = free_port(), free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "AUTH_PORT": str(auth_port),
            "RESOURCE_PORT": str(resource_port),
            "JWT_ISSUER": f"http://127.0.0.1:{auth_port}",
            "JWT_PRIVATE_KEY_FILE": str(key),
            "REFRESH_TOKEN_KEY_FILE": str(refresh_key),
            "WEB_CONCURRENCY": str(WORKERS),
            "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "1"),
            # Every request comes from 127.0.0.1: the per-address limits would measure themselves.
            "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0", "REFRESH_ADDRESS_LIMIT": "0",
        }
        auth = start_service(stack, "auth_service", env, auth_port, work / "auth.log")
        resource_env = {k: v for k, v in env.items() if k not in ("JWT_PRIVATE_KEY_FILE", "REFRESH_TOKEN_KEY_FILE")}
        resource_env["JWKS_URL"] = f"http://127.0.0.1:{auth_port}/.well-known/jwks.json"
        resource = start_service(stack, "resource_service", resource_env, resource_port, work / "resource.log")

        def measured() -> list[int]:
            return process_tree(auth.pid) + process_tree(resource.pid) + [redis.process.pid]  # type: ignore[union-attr]

        print(f"setting up: 60 users, Argon2id m={cost.memory_kib} KiB t={cost.iterations} p={cost.lanes} ...",
              file=sys.stderr)
        emails = [f"bench-{i}@example.com" for i in range(60)]
        for email in emails:
            post_json(auth_port, "/register", {"email": email, "password": PASSWORD})
        login_body = json.dumps({"email": emails[0], "password": PASSWORD})
        access_token = post_json(auth_port, "/login", json.loads(login_body))["access_token"]
        tokens_file = work / "tokens.txt"

        def fresh_refresh_tokens() -> dict[str, str]:
            tokens = [post_json(auth_port, "/login", {"email": e, "password": PASSWORD})["refresh_token"]
                      for e in emails[1 : 1 + CONNECTIONS]]
            tokens_file.write_text("\n".join(tokens) + "\n")
            return {}

        auth_url, resource_url = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{resource_port}"
        bearer = {"BENCH_TOKEN": access_token}
        targets = [
            Path_("GET /healthz", f"{resource_url}/healthz", ""),
            Path_("GET /me", f"{resource_url}/me", WRK_BEARER, bearer),
            Path_("GET /users", f"{resource_url}/users?limit=50", WRK_BEARER, bearer),
            Path_("POST /refresh", f"{auth_url}/refresh", WRK_REFRESH, {"BENCH_TOKENS_FILE": str(tokens_file)},
                  threads=CONNECTIONS, prepare=fresh_refresh_tokens),
            Path_("POST /login", f"{auth_url}/login", WRK_LOGIN, {"BENCH_LOGIN_BODY": login_body}),
        ]
        sign_rates, argon2_ms = [], []
        for round_number in range(ROUNDS):
            print(f"round {round_number + 1}/{ROUNDS}", file=sys.stderr)
            for target in targets:
                target.runs.append(wrk(target, work, measured))
            sign_rates.append(rsa_sign_rate())
            argon2_ms.append(argon2_verify_ms(cost))

        # Latency at a fixed, moderate load: a quarter of the rate each path reached.
        refresh_chain = [post_json(auth_port, "/login", {"email": emails[0], "password": PASSWORD})["refresh_token"]]
        paced: dict[str, tuple[float, list[float]]] = {}
        plans = {
            "GET /healthz": (resource_port, "GET", "/healthz", lambda: None, {}),
            "GET /me": (resource_port, "GET", "/me", lambda: None, {"Authorization": f"Bearer {access_token}"}),
            "GET /users": (resource_port, "GET", "/users?limit=50", lambda: None,
                           {"Authorization": f"Bearer {access_token}"}),
            "POST /login": (auth_port, "POST", "/login", lambda: login_body, {"Content-Type": "application/json"}),
            "POST /refresh": (auth_port, "POST", "/refresh",
                              lambda: json.dumps({"refresh_token": refresh_chain[-1]}),
                              {"Content-Type": "application/json"}),
        }

        def follow_chain(data: bytes) -> None:
            refresh_chain.append(json.loads(data)["refresh_token"])

        for target in targets:
            rate = max(1.0, min(200.0, target.median("rps") / 4))
            port, method, path, body, headers = plans[target.name]
            on_answer = follow_chain if target.name == "POST /refresh" else (lambda data: None)
            latencies = paced_latencies("127.0.0.1", port, method, path, body, headers, rate, SECONDS, on_answer)
            paced[target.name] = (rate, latencies)

    print_table(targets, paced, statistics.median(sign_rates), statistics.median(argon2_ms), cost)
    return 0


def print_table(targets: list[Path_], paced: dict[str, tuple[float, list[float]]], sign_rate: float,
                argon2_ms: float, cost: HashingConfig) -> None:
    by_name = {t.name: t for t in targets}
    healthz = by_name["GET /healthz"].median("rps")
    cores = min(WORKERS, os.cpu_count() or 1)
    login_p50 = statistics.median(paced["POST /login"][1])
    verdicts = {
        "GET /me": (by_name["GET /me"].median("rps") / healthz, ">= 0.85", "of /healthz req/s"),
        "GET /users": (by_name["GET /users"].median("rps") / healthz, ">= 0.5", "of /healthz req/s"),
        "POST /refresh": (by_name["POST /refresh"].median("rps") / (sign_rate * cores), ">= 0.5",
                          f"of RSA-2048 signs/s x {cores} cores"),
        "POST /login": (login_p50 / argon2_ms, "<= 1.1", "x one Argon2id verify (median latency)"),
    }
    print()
    print(f"{ROUNDS} rounds of {SECONDS} s, wrk {CONNECTIONS} connections, gunicorn {WORKERS} "
          f"workers per service, {os.cpu_count()} cores; medians")
    print(f"RSA-2048 sign: {sign_rate:,.0f}/s on one core; Argon2id verify (m={cost.memory_kib} KiB, "
          f"t={cost.iterations}, p={cost.lanes}): {argon2_ms:.1f} ms")
    print()
    header = (f"{'path':<14} {'req/s':>8} {'CPU ms/req':>10} {'errors':>6}   {'paced at':>9} {'p50 ms':>7} "
              f"{'p99 ms':>7}   ratio")
    print(header)
    print("-" * len(header))
    for target in targets:
        rate, latencies = paced[target.name]
        line = (f"{target.name:<14} {target.median('rps'):>8,.0f} {target.median('cpu_ms'):>10.2f} "
                f"{int(sum(r['errors'] for r in target.runs)):>6}   {rate:>7.0f}/s "
                f"{percentile(latencies, 50):>7.2f} {percentile(latencies, 99):>7.2f}")
        if target.name in verdicts:
            ratio, goal, what = verdicts[target.name]
            met = ratio >= float(goal[3:]) if goal.startswith(">=") else ratio <= float(goal[3:])
            line += f"   {ratio:.2f} {what} (target {goal}: {'met' if met else 'NOT MET'})"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
