"""Where a path's time goes in a gunicorn worker under load: py-spy samples it while wrk runs.

`.venv/bin/python bench/profile.py /me` (or /healthz, /users, /refresh, hello, or any path of
the resource service). One worker per server, so every sample is of the one process serving
the path; py-spy (`pip install py-spy`, in the bench extra) reads its stacks from outside,
without code changes. Prints the functions by inclusive share of the worker's busy samples,
and by self share, and leaves the collapsed stacks (flamegraph.pl's format) in the file
named by BENCH_PROFILE_OUT when it is set.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import (  # noqa: E402
    PASSWORD,
    WRK_BEARER,
    WRK_REFRESH,
    post_json,
    process_tree,
    start_bench_app,
    start_services,
)

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
TOP = int(os.environ.get("BENCH_TOP", "40"))


def frame_name(frame: str) -> str:
    """'function (path/to/file.py:12)' -> 'file.py:function': one name per function, not per line."""
    function, _, where = frame.partition(" (")
    file = where.rpartition(":")[0]
    parts = Path(file).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{short}:{function}"


def report(collapsed: str) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():  # a wrapped line: py-spy's raw format has one per stack
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    print(f"{total} busy samples of the worker")
    print("\ninclusive (the function and what it calls):")
    for name, count in inclusive.most_common(TOP):
        print(f"  {100 * count / total:5.1f} %  {name}")
    print("\nself (the function's own lines):")
    for name, count in own.most_common(TOP):
        print(f"  {100 * count / total:5.1f} %  {name}")


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    for tool in ("wrk", "py-spy"):
        if shutil.which(tool) is None and not (Path(sys.executable).parent / tool).exists():
            print(f"{tool} is missing (apt-get install -y wrk; pip install py-spy)", file=sys.stderr)
            return 2
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-profile-")))
        services = start_services(stack, work, 1)
        auth, resource = services.auth, services.resource
        auth_port, resource_port, env = services.auth_port, services.resource_port, services.env
        emails = [f"profile-{i}@example.com" for i in range(60)]
        for email in emails:
            post_json(auth_port, "/register", {"email": email, "password": PASSWORD})
        token = post_json(auth_port, "/login", {"email": emails[0], "password": PASSWORD})["access_token"]
        script, server, threads, extra = WRK_BEARER, resource, 2, {"BENCH_TOKEN": token}
        url = f"http://127.0.0.1:{resource_port}{target}"
        if target == "hello":
            port, server = start_bench_app(stack, "bench.hello:app", env, work / "hello.log")
            url, script = f"http://127.0.0.1:{port}/healthz", ""
        elif target == "/refresh":
            tokens_file = work / "tokens.txt"
            tokens_file.write_text("\n".join(
                post_json(auth_port, "/login", {"email": e, "password": PASSWORD})["refresh_token"]
                for e in emails[1:5]) + "\n")
            script, server, threads = WRK_REFRESH, auth, 4
            url, extra = f"http://127.0.0.1:{auth_port}/refresh", {"BENCH_TOKENS_FILE": str(tokens_file)}
        worker = max(process_tree(server.pid)[1:])  # the one worker (the arbiter is the root)
        (work / "load.lua").write_text(script)
        load = subprocess.Popen(
            ["wrk", "-t", str(threads), "-c", "4", "-d", f"{SECONDS + 2}s", "-s", str(work / "load.lua"), url],
            env={**os.environ, **extra}, stdout=subprocess.PIPE, text=True)
        out = work / "stacks.txt"
        subprocess.run([py_spy, "record", "--pid", str(worker), "--format", "raw", "--rate", "250",
                        "--gil", "--nonblocking", "--duration", str(SECONDS), "--output", str(out)],
                       check=True, capture_output=True)
        wrk_out = load.communicate()[0]
        collapsed = out.read_text()
        if os.environ.get("BENCH_PROFILE_OUT"):
            Path(os.environ["BENCH_PROFILE_OUT"]).write_text(collapsed)
    print(f"{target}: {json.dumps(wrk_out.splitlines()[-3:])}")
    report(collapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
