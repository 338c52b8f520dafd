"""Directory pages read from a replica of the cluster's `{accounts}` slot, against the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from shared.directory import AccountDirectory, new_user_id, users_index_key
from shared.store import connect_replica_reads
from tests.redis_cluster import LocalCluster

USERS = 120
PAGE = 50


@pytest.fixture
def replica_reads(redis_cluster: LocalCluster, cluster_client: RedisCluster) -> Iterator[RedisCluster]:
    client = connect_replica_reads(redis_cluster.url)
    assert client is not None
    # A cluster just made may not list the replica everywhere yet: wait until every node does
    # (a later read of the layout may ask any of them), then read the layout again.
    slot, deadline = client.keyslot(users_index_key()), time.monotonic() + 30
    while not all(serves_with_replica(redis_cluster, node, slot) for node in redis_cluster.nodes):
        assert time.monotonic() < deadline, "the cluster never listed a replica of the directory's slot"
        time.sleep(0.1)
    client.nodes_manager.initialize()
    assert len(client.nodes_manager.slots_cache[slot]) == 2
    yield client
    client.close()
    for node in client.get_nodes():
        if node.redis_connection:
            node.redis_connection.connection_pool.disconnect()


def serves_with_replica(cluster: LocalCluster, node, slot: int) -> bool:
    """Whether `node`'s CLUSTER SLOTS lists a replica beside the master of `slot`."""
    with cluster.client(node) as client:
        ranges = client.execute_command("CLUSTER", "SLOTS")
    return any(start <= slot <= end and len(nodes) >= 2 for start, end, *nodes in ranges)


def register(directory: AccountDirectory, count: int) -> None:
    for i in range(count):
        user_id = new_user_id()
        profile = {"id": user_id, "email": f"u{i}@example.com", "name": f"User {i}", "created_at": "2026-12-01"}
        assert directory.claim(f"u{i}@example.com", 1_800_000_000_000 + i, profile)


def caught_up(cluster: LocalCluster) -> None:
    """WAIT until the directory master's replica has every write made so far: WAIT counts the
    writes of its own connection, so it writes once itself, after the directory's writes."""
    master = cluster.node_for_key(users_index_key())
    with cluster.client(master) as client:
        client.set("{accounts}:test-wait", "1")
        assert client.execute_command("WAIT", 1, 10_000) >= 1


def all_pages(directory: AccountDirectory) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        profiles, cursor = directory.list_page(PAGE, cursor)
        pages.append(profiles)
        if cursor is None:
            return pages


def page_calls(cluster: LocalCluster, node) -> int:
    """How many read-only scripts (EVALSHA_RO and EVAL_RO) `node` has run to the end (a NOSCRIPT
    answer is a failed call)."""
    with cluster.client(node) as client:
        stats = client.info("commandstats")
    done = 0
    for name in ("evalsha_ro", "eval_ro"):
        counts = stats.get(f"cmdstat_{name}", {})
        done += counts.get("calls", 0) - counts.get("failed_calls", 0) - counts.get("rejected_calls", 0)
    return done


def test_pages_from_the_replica_are_the_primarys_once_it_caught_up(redis_cluster, cluster_client, replica_reads):
    on_primary = AccountDirectory(cluster_client)
    on_replica = AccountDirectory(cluster_client, replicas=replica_reads)
    register(on_primary, USERS)
    renamed_id = on_primary.list_page(1)[0][0].split('"id":"')[1].split('"')[0]
    renamed = on_replica.update_name(renamed_id, "Renamed")  # answered from the primary
    assert renamed is not None and '"name":"Renamed"' in renamed
    caught_up(redis_cluster)
    replica = redis_cluster.replica_of(redis_cluster.node_for_key(users_index_key()))
    before = page_calls(redis_cluster, replica)

    pages = all_pages(on_replica)

    assert pages == all_pages(on_primary)
    assert [len(page) for page in pages] == [50, 50, 20]
    assert pages[0][0] == renamed
    assert page_calls(redis_cluster, replica) - before == len(pages)  # the replica served every page


def test_a_replica_that_refuses_leaves_the_page_to_the_primary(redis_cluster, cluster_client, replica_reads):
    on_replica = AccountDirectory(cluster_client, replicas=replica_reads)
    register(on_replica, 3)
    caught_up(redis_cluster)
    primary = redis_cluster.node_for_key(users_index_key())
    replica = redis_cluster.replica_of(primary)
    with redis_cluster.client(primary) as client:
        before = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    with redis_cluster.client(replica) as client:
        # ACLs are not replicated: only the replica refuses the page script (NOPERM).
        client.execute_command("ACL", "SETUSER", "default", "-evalsha_ro", "-eval_ro")
        try:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command("EVAL_RO", "return 1", 0)
            profiles, cursor = on_replica.list_page(PAGE)
        finally:
            client.execute_command("ACL", "SETUSER", "default", "+@all")
    assert len(profiles) == 3 and cursor is None
    with redis_cluster.client(primary) as client:
        assert client.info("commandstats")["cmdstat_evalsha"]["calls"] == before + 1


def test_on_one_server_pages_need_no_replica(redis_server, redis_client):
    assert connect_replica_reads(redis_server.url) is None
    directory = AccountDirectory(redis_client, replicas=None)
    register(directory, 3)
    assert len(directory.list_page(PAGE)[0]) == 3
