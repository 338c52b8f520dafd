"""Directory pages a second on the local cluster: read on the primary only, against read from
the replicas of the `{accounts}` slot. Run by hand:

    .venv/bin/python bench/directory_pages.py

It makes the tests' cluster (tests/redis_cluster.py: three masters, one replica each), adds
replicas to the directory's master until it has BENCH_REPLICAS (3), registers BENCH_USERS
(10,000), and then has BENCH_CLIENTS processes (4) walk the directory in pages of 50 for
BENCH_SECONDS (5) in each mode, through AccountDirectory as the resource service does. Beside
the pages a second it gives what each node spent: the CPU of its redis-server process (from
/proc) per page, and the script's own time per call (INFO commandstats). A node's ceiling is
one CPU second over its CPU per page; on a machine with fewer cores than nodes plus clients,
the measured rate is the machine's, the ceilings are the nodes'.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.directory import AccountDirectory, new_user_id, users_index_key  # noqa: E402
from shared.store import connect_redis, connect_replica_reads  # noqa: E402
from tests.conftest import RedisServer  # noqa: E402
from tests.redis_cluster import LocalCluster  # noqa: E402

REPLICAS = int(os.environ.get("BENCH_REPLICAS", "3"))
USERS = int(os.environ.get("BENCH_USERS", "10000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
PAGE = 50
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(node: RedisServer) -> float:
    assert node.process is not None
    fields = Path(f"/proc/{node.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def script_stats(cluster: LocalCluster, node: RedisServer) -> tuple[int, float]:
    """Calls and microseconds of the page script (EVALSHA or EVALSHA_RO) on `node`."""
    with cluster.client(node) as client:
        stats = client.info("commandstats")
    calls = usec = 0.0
    for name in ("cmdstat_evalsha", "cmdstat_evalsha_ro", "cmdstat_eval_ro"):
        calls += stats.get(name, {}).get("calls", 0) - stats.get(name, {}).get("failed_calls", 0)
        usec += stats.get(name, {}).get("usec", 0)
    return int(calls), usec


def add_replicas(cluster: LocalCluster, master: RedisServer, count: int) -> None:
    with cluster.client(master) as client:
        master_id = client.execute_command("CLUSTER", "MYID")
    for _ in range(count):
        node = cluster._start_node(len(cluster.nodes))
        subprocess.run(
            ["redis-cli", "--cluster", "add-node", f"127.0.0.1:{node.port}", f"127.0.0.1:{master.port}",
             "--cluster-slave", "--cluster-master-id", master_id],
            check=True, capture_output=True, timeout=60,
        )
        cluster.nodes.append(node)
    cluster.wait_healthy()
    slot_of = lambda client: client.execute_command("CLUSTER", "KEYSLOT", users_index_key())  # noqa: E731
    deadline = time.monotonic() + 60
    while True:  # until every node lists every replica of the directory's slot
        listed = []
        for node in cluster.nodes:
            with cluster.client(node) as client:
                slot = slot_of(client)
                for start, end, *nodes in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        listed.append(len(nodes) - 1)
        if min(listed) == count + 1:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"replicas listed per node: {listed}")
        time.sleep(0.2)


def walk(url: str, replicas: bool, seconds: float, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    client = connect_redis(url)
    directory = AccountDirectory(client, replicas=connect_replica_reads(url) if replicas else None)
    pages, cursor = 0, None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _, cursor = directory.list_page(PAGE, cursor)
        pages += 1
    results.put(pages)


def run(cluster: LocalCluster, replicas: bool) -> None:
    nodes = [n for n in cluster.nodes if n.process]
    cpu_before = {n.port: cpu_seconds(n) for n in nodes}
    stats_before = {n.port: script_stats(cluster, n) for n in nodes}
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [multiprocessing.Process(target=walk, args=(cluster.url, replicas, SECONDS, results))
               for _ in range(CLIENTS)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    pages = sum(results.get(timeout=SECONDS + 60) for _ in workers)
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    mode = f"replicas ({REPLICAS})" if replicas else "primary only"
    print(f"\n{mode}: {pages:,} pages in {elapsed:.1f} s = {pages / elapsed:,.0f} pages/s ({CLIENTS} clients)")
    print("  node          pages    CPU ms/page  script us/call  ceiling pages/s")
    for node in nodes:
        calls, usec = script_stats(cluster, node)
        calls -= stats_before[node.port][0]
        usec -= stats_before[node.port][1]
        if calls < pages / 100:
            continue
        cpu = cpu_seconds(node) - cpu_before[node.port]
        print(f"  {node.port:<12} {calls:>7,}  {1000 * cpu / calls:>10.3f}  {usec / calls:>14.1f}"
              f"  {calls / cpu if cpu else float('inf'):>15,.0f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        cluster = LocalCluster(Path(directory))
        cluster.start()
        try:
            master = cluster.node_for_key(users_index_key())
            add_replicas(cluster, master, REPLICAS - 1)
            client = connect_redis(cluster.url)
            users = AccountDirectory(client)
            for i in range(USERS):
                user_id = new_user_id()
                users.claim(f"user{i}@example.com", 1_800_000_000_000 + i, {
                    "id": user_id, "email": f"user{i}@example.com", "name": f"User number {i}",
                    "created_at": "2026-12-01T10:00:00Z"})
            print(f"{USERS:,} users; the directory's master 127.0.0.1:{master.port} has {REPLICAS} replicas; "
                  f"{os.cpu_count()} cores")
            for replicas in (False, True, False, True):
                run(cluster, replicas)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
