"""The auth service's jti memory (shared/lua/dpop_jti.lua) on a real Redis: its clock, its expiry, its
one-winner SET NX under concurrency, and on a cluster."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from shared.dpop import ProofError, ProofVerifier, RedisReplayStore
from tests.dpop_forge import make_proof, new_key

URL = "http://auth.test/token"


def redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def test_fresh_then_replayed_by_the_store_clock(redis_client: redis.Redis) -> None:
    store = RedisReplayStore(redis_client)
    now = redis_now(redis_client)
    seen_at, verdict = store.check("dpop:jti:a", now, 60)
    assert verdict == "fresh" and abs(seen_at - now) < 5
    assert store.check("dpop:jti:a", now, 60)[1] == "replayed"
    assert store.check("dpop:jti:b", now - 61, 60)[1] == "outside"
    assert store.check("dpop:jti:c", now + 61, 60)[1] == "outside"
    assert not redis_client.exists("dpop:jti:b") and not redis_client.exists("dpop:jti:c")


def test_remembered_until_iat_plus_window(redis_client: redis.Redis) -> None:
    store = RedisReplayStore(redis_client)
    now = redis_now(redis_client)
    store.check("dpop:jti:future", now + 50, 60)  # dated 50 s ahead: acceptable until now + 110 s
    ttl_ms = redis_client.pttl("dpop:jti:future")
    assert 105_000 < ttl_ms <= 111_000
    store.check("dpop:jti:past", now - 50, 60)  # acceptable for 10 s more
    assert 5_000 < redis_client.pttl("dpop:jti:past") <= 11_000


def test_one_winner_among_parallel_uses_of_one_proof(redis_client: redis.Redis, redis_server) -> None:
    clients = [redis.Redis.from_url(redis_server.url) for _ in range(8)]
    verifiers = [ProofVerifier(RedisReplayStore(client)) for client in clients]
    proof = make_proof(new_key(), "POST", URL, iat=time.time())
    outcomes: list[str] = []
    barrier = threading.Barrier(len(verifiers))

    def use(verifier: ProofVerifier) -> None:
        barrier.wait()
        try:
            verifier.verify([proof], method="POST", url=URL)
            outcomes.append("ok")
        except ProofError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=use, args=(v,)) for v in verifiers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in clients:
        client.close()
    assert outcomes.count("ok") == 1
    assert all("used before" in o for o in outcomes if o != "ok")


def test_works_on_a_cluster(cluster_client: RedisCluster) -> None:
    verifier = ProofVerifier(RedisReplayStore(cluster_client))
    proof = make_proof(new_key(), "POST", URL, iat=time.time())
    verifier.verify([proof], method="POST", url=URL)
    with pytest.raises(ProofError, match="used before"):
        verifier.verify([proof], method="POST", url=URL)
