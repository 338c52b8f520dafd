"""Benchmark of the hot paths, run by hand: `make bench` (or `.venv/bin/python bench/run.py`).

It starts Redis and both services under gunicorn, loads them with wrk from a second
process on loopback, and prints one table. The machine is shared and small, so every
figure that is judged is a ratio of things measured side by side in this run: medians
of alternating rounds, with the CPU milliseconds per request that the services and
Redis spent (from /proc) next to the requests per second.

Beside the services, in the same rounds: a bare Flask app answering what /healthz answers
(bench/hello.py) and a flask-jwt-extended peer (bench/peer.py), both on the services' gunicorn
settings (bench/serve_app.py); the CPU of one RSA-2048 signature and of one Redis script call;
and as many Argon2id verifies as the round's logins, in the workers' processes and threads. The
issue-15 targets are printed as ratios of these, MET or NOT MET, with their range over rounds.

Settings (environment): BENCH_ROUNDS (4), BENCH_SECONDS (3), BENCH_WORKERS (2 gunicorn
workers per server), BENCH_CONNECTIONS (4 wrk connections); GUNICORN_THREADS and
GUNICORN_WORKER_CLASS as the services read them.
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
from urllib.parse import urlsplit

import redis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from auth_service.config import HashingConfig  # noqa: E402
from auth_service.passwords import PasswordHasher  # noqa: E402
from bench import peer as peer_app  # noqa: E402
from bench.serve_app import service_settings  # noqa: E402
from tests.conftest import RedisServer, free_port  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "4"))
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

# Logins go round the bench's accounts, as a service's logins do: one account logged in to
# thousands of times would spend every login past MAX_SESSIONS_PER_USER ending its oldest session.
WRK_LOGIN = """
local bodies = {}
for line in io.lines(os.getenv("BENCH_LOGIN_FILE")) do table.insert(bodies, line) end
local next_thread = 0
setup = function(thread)
  thread:set("at", next_thread * 7)
  next_thread = next_thread + 1
end
request = function()
  at = at + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[at % #bodies + 1])
end
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
    # A service's route: its requests are counted by the service's own metrics, which also
    # see the requests wrk left in flight when it stopped (a login's CPU is in the figure).
    route: str | None = None
    served_file: Path | None = None  # or a file that grows a byte per request answered (bench/hello.py)
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)


def wrk(target: Path_, script_dir: Path, measured_pids: Callable[[], list[int]]) -> dict[str, float]:
    """One wrk run against `target`; its rate, latency and the CPU it cost per request."""
    script = script_dir / f"{target.name.replace(' ', '_').replace('/', '')}.lua"
    script.write_text(target.script + WRK_REPORT)
    env = {**os.environ, **target.env, **(target.prepare() if target.prepare else {})}
    pids = measured_pids()
    served_before = served_by(target)
    before, redis_before = cpu_seconds(pids), cpu_seconds(pids[-1:])  # Redis is the last
    out = subprocess.run(
        ["wrk", "-t", str(target.threads), "-c", str(target.connections), "-d", f"{SECONDS}s",
         "-s", str(script), target.url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    settle(pids)
    cpu, redis_cpu = cpu_seconds(pids) - before, cpu_seconds(pids[-1:]) - redis_before
    report = json.loads(out.strip().splitlines()[-1])
    count = served_by(target) - served_before if target.route or target.served_file else report["requests"]
    requests = max(count, 1)
    return {
        "requests": count,
        "rps": report["requests"] / report["seconds"],
        "cpu_ms": cpu * 1000 / requests,
        "redis_ms": redis_cpu * 1000 / requests,
        "errors": report["errors"],
        "p50": report["p50"],
        "p99": report["p99"],
    }


def settle(pids: list[int], timeout: float = 10.0) -> None:
    """Wait until the servers are idle: the requests wrk left in flight are done."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(pids)
        if now - last <= 2 / TICKS:
            return
        last = now


def served_by(target: Path_) -> int:
    """How many requests the server of `target` says it answered, when it says (0 when not)."""
    if target.route:
        return served(target.url, target.route)
    if target.served_file:
        return target.served_file.stat().st_size if target.served_file.exists() else 0
    return 0


def served(url: str, route: str) -> int:
    """How many requests of `route` the service at `url` has answered (its /metrics, all workers)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    label = f'route="{route}"'
    return int(sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("http_requests_total{") and label in line))


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


REDIS_SCRIPT = """
-- Shaped like a refresh's rotation: 4 keys, 8 arguments, one hash read and written.
local s = redis.call('HMGET', KEYS[1], 'current', 'previous', 'nonce', 'idle_deadline')
redis.call('HSET', KEYS[1], 'current', ARGV[6], 'previous', ARGV[1], 'nonce', ARGV[5], 'idle_deadline', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'rotated', ARGV[5], ARGV[2], ARGV[3], 'someone@example.com', 'user'}
"""


def rsa_sign_cpu_ms(key: rsa.RSAPrivateKey, seconds: float = 0.5) -> float:
    """CPU ms of one RSA-2048 PKCS#1 v1.5 SHA-256 signature (RS256) with the service's key."""
    message = b"x" * 600
    count, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return (time.process_time() - start) * 1000 / count


def redis_script_cpu_ms(url: str, redis_pid: int, calls: int = 2000) -> float:
    """CPU ms of one Lua script call as the services make it: redis-py (with hiredis) and Redis itself."""
    client = redis.Redis.from_url(url)
    script = client.register_script(REDIS_SCRIPT)
    keys = [f"{{bench}}:k{i}" for i in range(4)]
    args = ["a" * 64, 1, 60000, 0, "n" * 64, "b" * 64, "s" * 32, 10]
    script(keys=keys, args=args)
    before, redis_before = time.process_time(), cpu_seconds([redis_pid])
    for _ in range(calls):
        script(keys=keys, args=args)
    cpu = time.process_time() - before + cpu_seconds([redis_pid]) - redis_before
    client.close()
    return cpu * 1000 / calls


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


def start_process(stack: ExitStack, command: list[str], env: dict[str, str], port: int,
                  log: Path) -> subprocess.Popen[bytes]:
    """Start a gunicorn server and wait until its /healthz answers."""
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

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
    raise RuntimeError(f"{command} did not start; see {log}")


def start_service(stack: ExitStack, module: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return start_process(stack, [sys.executable, "-m", module, "serve"], env, port, log)


def start_bench_app(stack: ExitStack, wsgi_app: str, env: dict[str, str],
                    log: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """A bench app on a free port with the services' gunicorn settings (bench/serve_app.py)."""
    port = free_port()
    command = [sys.executable, str(REPO / "bench" / "serve_app.py"), wsgi_app, str(port)]
    return port, start_process(stack, command, env, port, log)


@dataclass
class Services:
    """Redis and both services under gunicorn, started for a bench."""

    redis: RedisServer
    env: dict[str, str]  # the auth service's environment (the bench apps run on it too)
    key_file: Path
    auth_port: int
    resource_port: int
    auth: subprocess.Popen[bytes]
    resource: subprocess.Popen[bytes]


def start_services(stack: ExitStack, work: Path, workers: int, *redis_args: str) -> Services:
    """Start Redis (`redis_args` added), then the auth and resource services with `workers` gunicorn
    workers each, stopped when `stack` closes; logs and keys in `work`."""
    redis_server = RedisServer(work / "redis", *redis_args)
    redis_server.start()
    stack.callback(redis_server.stop)
    key_file, refresh_key = work / "key.pem", work / "refresh-token.key"
    for command, path in (("generate-key", key_file), ("generate-refresh-key", refresh_key)):
        subprocess.run([sys.executable, "-m", "auth_service", command, str(path)], check=True,
                       capture_output=True, cwd=REPO)
    auth_port, resource_port = free_port(), free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "AUTH_PORT": str(auth_port),
        "RESOURCE_PORT": str(resource_port),
        "JWT_ISSUER": f"http://127.0.0.1:{auth_port}",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "REFRESH_TOKEN_KEY_FILE": str(refresh_key),
        "WEB_CONCURRENCY": str(workers),
        # Every request comes from 127.0.0.1: the per-address limits would measure themselves.
        "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0", "REFRESH_ADDRESS_LIMIT": "0",
    }
    auth = start_service(stack, "auth_service", env, auth_port, work / "auth.log")
    resource_env = {k: v for k, v in env.items() if k not in ("JWT_PRIVATE_KEY_FILE", "REFRESH_TOKEN_KEY_FILE")}
    resource_env["JWKS_URL"] = f"http://127.0.0.1:{auth_port}/.well-known/jwks.json"
    resource = start_service(stack, "resource_service", resource_env, resource_port, work / "resource.log")
    return Services(redis_server, env, key_file, auth_port, resource_port, auth, resource)


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    cost = HashingConfig.from_env()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        services = start_services(stack, work, WORKERS, "--appendonly", "yes", "--appendfsync", "everysec")
        redis_server, env, auth, resource = services.redis, services.env, services.auth, services.resource
        auth_port, resource_port, key_file = services.auth_port, services.resource_port, services.key_file
        assert redis_server.process is not None
        redis_pid = redis_server.process.pid
        signing_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(signing_key, rsa.RSAPrivateKey)
        verifies_file = work / "verifies"
        hello_env = {**env, "BENCH_VERIFIES_FILE": str(verifies_file)}
        hello_port, hello = start_bench_app(stack, "bench.hello:app", hello_env, work / "hello.log")
        peer_port, peer = start_bench_app(stack, "bench.peer:create_app()", env, work / "peer.log")
        servers = [auth, resource, hello, peer]

        def measured() -> list[int]:
            return [pid for server in servers for pid in process_tree(server.pid)] + [redis_pid]

        print(f"setting up: 60 users, Argon2id m={cost.memory_kib} KiB t={cost.iterations} p={cost.lanes} ...",
              file=sys.stderr)
        emails = [f"bench-{i}@example.com" for i in range(60)]
        for email in emails:
            post_json(auth_port, "/register", {"email": email, "password": PASSWORD})
        hasher = PasswordHasher(cost)
        peer_store = redis.Redis.from_url(redis_server.url)
        peer_app.seed(peer_store, hasher, emails, PASSWORD)
        login_body = json.dumps({"email": emails[0], "password": PASSWORD})
        access_token = post_json(auth_port, "/login", json.loads(login_body))["access_token"]
        peer_access_token = post_json(peer_port, "/login", json.loads(login_body))["access_token"]
        tokens_file, peer_tokens_file = work / "tokens.txt", work / "peer-tokens.txt"
        logins_file = work / "logins.txt"
        logins_file.write_text("".join(json.dumps({"email": e, "password": PASSWORD}) + "\n" for e in emails))

        def fresh_refresh_tokens(port: int, path: Path) -> Callable[[], dict[str, str]]:
            def prepare() -> dict[str, str]:
                tokens = [post_json(port, "/login", {"email": e, "password": PASSWORD})["refresh_token"]
                          for e in emails[1 : 1 + CONNECTIONS]]
                path.write_text("\n".join(tokens) + "\n")
                return {}
            return prepare

        auth_url, resource_url = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{resource_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        bearer, peer_bearer = {"BENCH_TOKEN": access_token}, {"BENCH_TOKEN": peer_access_token}
        targets = [
            Path_("bare Flask", f"http://127.0.0.1:{hello_port}/healthz", ""),
            Path_("GET /healthz", f"{resource_url}/healthz", "", route="/healthz"),
            Path_("GET /me", f"{resource_url}/me", WRK_BEARER, bearer, route="/me"),
            Path_("GET /users", f"{resource_url}/users?limit=50", WRK_BEARER, bearer, route="/users"),
            Path_("peer /users", f"{peer_url}/users?limit=50", WRK_BEARER, peer_bearer),
            Path_("POST /refresh", f"{auth_url}/refresh", WRK_REFRESH, {"BENCH_TOKENS_FILE": str(tokens_file)},
                  threads=CONNECTIONS, prepare=fresh_refresh_tokens(auth_port, tokens_file), route="/refresh"),
            Path_("peer /refresh", f"{peer_url}/refresh", WRK_REFRESH,
                  {"BENCH_TOKENS_FILE": str(peer_tokens_file)},
                  threads=CONNECTIONS, prepare=fresh_refresh_tokens(peer_port, peer_tokens_file)),
            Path_("POST /login", f"{auth_url}/login", WRK_LOGIN, {"BENCH_LOGIN_FILE": str(logins_file)},
                  route="/login"),
            Path_("bare Argon2id", f"http://127.0.0.1:{hello_port}/verify", WRK_LOGIN,
                  {"BENCH_LOGIN_FILE": str(logins_file)}, served_file=verifies_file),
        ]
        anchors: dict[str, list[dict[str, float]]] = {"sign": [], "script": []}
        for round_number in range(ROUNDS):
            print(f"round {round_number + 1}/{ROUNDS}", file=sys.stderr)
            for target in targets:
                target.runs.append(wrk(target, work, measured))
            anchors["sign"].append({"cpu_ms": rsa_sign_cpu_ms(signing_key)})
            anchors["script"].append({"cpu_ms": redis_script_cpu_ms(redis_server.url, redis_pid)})

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
            if target.name not in plans:
                continue
            rate = max(1.0, min(200.0, target.median("rps") / 4))
            port, method, path, body, headers = plans[target.name]
            on_answer = follow_chain if target.name == "POST /refresh" else (lambda data: None)
            latencies = paced_latencies("127.0.0.1", port, method, path, body, headers, rate, SECONDS, on_answer)
            paced[target.name] = (rate, latencies)
        settings = service_settings()
        worker_class = settings.get("worker_class") or ("gthread" if settings["threads"] > 1 else "sync")
        parts = json.loads(subprocess.run(
            [sys.executable, str(REPO / "bench" / "parts.py"), redis_server.url, str(redis_pid), str(key_file)],
            check=True, capture_output=True, text=True, cwd=REPO).stdout)

    print_table(targets, paced, anchors, cost, worker_class)
    print_parts(targets, anchors, parts)
    return 0


def print_parts(targets: list[Path_], anchors: dict[str, list[dict[str, float]]], parts: dict[str, float]) -> None:
    """Where a request's CPU goes: the framework from the bare app, the rest measured alone."""
    bare = next(t for t in targets if t.name == "bare Flask").median("cpu_ms") * 1000
    rows = {
        "framework: gunicorn + Flask, a bare JSON answer (bare Flask above)": bare,
        **parts,
        "Redis script call, rotation-shaped (client + Redis)": statistics.median(
            a["cpu_ms"] for a in anchors["script"]) * 1000,
        "RSA-2048 signature alone": statistics.median(a["cpu_ms"] for a in anchors["sign"]) * 1000,
        "Argon2id verify, in a bare app (bare Argon2id above, less bare Flask)": (
            next(t for t in targets if t.name == "bare Argon2id").median("cpu_ms") * 1000 - bare),
    }
    print()
    print("CPU per part of a request, microseconds (each measured alone in this run):")
    for name, micros in rows.items():
        print(f"  {name:<66} {micros:>9,.0f}")


def per_round(values: list[float]) -> str:
    """A ratio's median over the rounds, with its range: how noisy the run was."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def print_table(targets: list[Path_], paced: dict[str, tuple[float, list[float]]],
                anchors: dict[str, list[dict[str, float]]], cost: HashingConfig, worker_class: str) -> None:
    by_name = {t.name: t for t in targets}
    rounds = range(len(anchors["sign"]))

    def cpu(name: str, i: int) -> float:
        return by_name[name].runs[i]["cpu_ms"]

    def rps(name: str, i: int) -> float:
        return by_name[name].runs[i]["rps"]

    def anchor(name: str, i: int) -> float:
        return anchors[name][i]["cpu_ms"]

    floor = [cpu("bare Flask", i) + anchor("sign", i) + anchor("script", i) for i in rounds]
    # (what, ratios per round, goal, what the ratio compares)
    verdicts = [
        ("GET /healthz", [cpu("GET /healthz", i) / cpu("bare Flask", i) for i in rounds], "<= 1.15",
         "x bare Flask CPU/req"),
        ("POST /refresh", [cpu("POST /refresh", i) / floor[i] for i in rounds], "<= 1.25",
         "x (bare Flask + RSA-2048 signature + Redis script) CPU/req"),
        ("POST /refresh", [rps("POST /refresh", i) / rps("peer /refresh", i) for i in rounds], ">= 2",
         "x the flask-jwt-extended peer's req/s"),
        ("GET /me", [rps("GET /me", i) / rps("GET /healthz", i) for i in rounds], ">= 0.9", "x /healthz req/s"),
        ("GET /users", [rps("GET /users", i) / rps("GET /healthz", i) for i in rounds], ">= 0.6",
         "x /healthz req/s"),
        ("POST /login", [cpu("POST /login", i) / cpu("bare Argon2id", i) for i in rounds], "<= 1.1",
         "x bare Flask + one Argon2id verify CPU/req (the same workers, threads, connections)"),
    ]
    median_anchor = {name: statistics.median(a["cpu_ms"] for a in values) for name, values in anchors.items()}
    print()
    print(f"{len(rounds)} alternating rounds of {SECONDS} s, wrk {CONNECTIONS} keep-alive connections, gunicorn "
          f"{WORKERS} {worker_class} workers x {service_settings()['threads']} threads per "
          f"server, {os.cpu_count()} cores; medians; CPU = the servers' processes and Redis, from /proc")
    print(f"anchors: RSA-2048 signature {median_anchor['sign'] * 1000:.0f} us CPU; Redis script call (redis-py + "
          f"Redis) {median_anchor['script'] * 1000:.0f} us CPU; Argon2id m={cost.memory_kib} KiB, "
          f"t={cost.iterations}, p={cost.lanes} (bare Argon2id: bench/hello.py's POST /verify)")
    print()
    header = (f"{'path':<14} {'req/s':>8} {'CPU ms/req':>10} {'of which Redis':>14} {'errors':>6}   "
              f"{'paced at':>9} {'p50 ms':>7} {'p99 ms':>7}")
    print(header)
    print("-" * len(header))
    for target in targets:
        line = (f"{target.name:<14} {target.median('rps'):>8,.0f} {target.median('cpu_ms'):>10.3f} "
                f"{target.median('redis_ms'):>14.3f} {int(sum(r['errors'] for r in target.runs)):>6}")
        if target.name in paced:
            rate, latencies = paced[target.name]
            line += f"   {rate:>7.0f}/s {percentile(latencies, 50):>7.2f} {percentile(latencies, 99):>7.2f}"
        print(line)
    print()
    print("targets (median ratio over the rounds, and its range):")
    for name, ratios, goal, what in verdicts:
        ratio = statistics.median(ratios)
        met = ratio >= float(goal[3:]) if goal.startswith(">=") else ratio <= float(goal[3:])
        print(f"  {name:<14} {per_round(ratios):>18} {what} (target {goal}): {'MET' if met else 'NOT MET'}")


if __name__ == "__main__":
    sys.exit(main())
