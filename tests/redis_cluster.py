"""A Redis Cluster of the tests' own: three masters with one replica each, on free loopback ports."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.conftest import RedisServer, free_port

# Short enough that a killed master is replaced within seconds, long enough that a node
# slowed down by a busy machine is not taken for dead.
NODE_TIMEOUT_MS = 3000


def cluster_unsupported() -> str | None:
    """Why this machine cannot run the cluster tests, or None when it can."""
    if shutil.which("redis-server") is None:
        return None  # RedisServer fails with the way to install it
    found = re.search(r"v=(\d+)\.(\d+)", subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True).stdout)
    version = (int(found[1]), int(found[2])) if found else (0, 0)
    if version < (7, 0):
        # --cluster-port (7.0) lets each node's bus take a free port of its own.
        return f"Redis Cluster tests need redis-server 7.0 or later, found {version[0]}.{version[1]}"
    return None


class LocalCluster:
    """Six redis-server processes in cluster mode; `redis-cli --cluster create` pairs them up."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.nodes: list[RedisServer] = []
        self.url = ""

    def _start_node(self, i: int) -> RedisServer:
        # Ports are picked just before the node binds them; one taken meanwhile (by an outgoing
        # connection of this busy machine) costs a retry on new ports.
        for attempt in itertools.count():
            node = RedisServer(
                self.directory / f"node{i}-{attempt}", "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-port", str(free_port()),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not after 5 s
            )
            try:
                node.start()
                return node
            except RuntimeError:
                node.stop()
                if attempt == 2:
                    raise

    def start(self) -> None:
        """Start the nodes, make them one cluster, and wait until it serves every slot."""
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not installed (it comes with redis-server): apt-get install redis-tools")
        self.nodes = [self._start_node(i) for i in range(6)]
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:3]) + "/"
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{node.port}" for node in self.nodes),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        self.wait_healthy()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def client(self, node: RedisServer) -> redis.Redis:
        """A plain client of one node."""
        return redis.Redis(port=node.port, socket_timeout=5, decode_responses=True)

    def _ask(self, node: RedisServer, *command: str) -> str:
        with self.client(node) as client:
            return str(client.execute_command(*command))

    def replication(self, node: RedisServer) -> dict:
        """The node's INFO replication: role, master_port, master_link_status..."""
        with self.client(node) as client:
            return client.info("replication")

    def node_for_key(self, key: str) -> RedisServer:
        """The master serving `key`'s slot now."""
        live = [n for n in self.nodes if n.process and n.process.poll() is None]
        slot = int(self._ask(live[0], "CLUSTER", "KEYSLOT", key))
        with self.client(live[0]) as client:
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return next(n for n in self.nodes if n.port == int(master[1]))
        raise AssertionError(f"no node serves slot {slot}")

    def replica_of(self, master: RedisServer) -> RedisServer:
        """The node replicating `master`."""
        for node in self.nodes:
            if node is not master and node.process and node.process.poll() is None:
                if self.replication(node).get("master_port") == master.port:
                    return node
        raise AssertionError(f"no replica of 127.0.0.1:{master.port}")

    def wait_promoted(self, replica: RedisServer, timeout: float = 60) -> None:
        """Until `replica` serves as a master, and then until the cluster is healthy again."""
        deadline = time.monotonic() + timeout
        while self.replication(replica)["role"] != "master":
            if time.monotonic() > deadline:
                raise RuntimeError(f"127.0.0.1:{replica.port} was not promoted")
            time.sleep(0.05)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until every running node sees the cluster OK with three masters, and every replica is in sync."""
        live = [n for n in self.nodes if n.process and n.process.poll() is None]
        deadline = time.monotonic() + timeout
        states: list[str] = []
        while True:
            try:
                states = [self._ask(n, "CLUSTER", "INFO") for n in live]
                roles = [self.replication(n) for n in live]
                if (
                    all("cluster_state:ok" in s and f"cluster_known_nodes:{len(self.nodes)}" in s for s in states)
                    and sum(r["role"] == "master" for r in roles) == 3
                    and all(r["master_link_status"] == "up" for r in roles if r["role"] == "slave")
                ):
                    return
            except redis.exceptions.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not become healthy: {states}")
            time.sleep(0.1)
