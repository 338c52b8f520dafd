"""What DPoP costs per request, in-process: `.venv/bin/python bench/dpop.py` (run by hand).

Both apps over a real redis-server (the tests' fixture class), driven through Flask's test
client, so that the figures are the services' own work without HTTP or gunicorn around it.
Each pair (GET /me as Bearer and as DPoP; POST /refresh without and with a proof) runs in
alternating rounds and the medians are compared; the proofs are made before the clock starts
(a client's cost, printed apart). BENCH_ROUNDS (5), BENCH_REQUESTS (400 per round).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from auth_service import create_app as create_auth_app  # noqa: E402
from auth_service.config import AuthConfig  # noqa: E402
from resource_service import create_app as create_resource_app  # noqa: E402
from resource_service.config import ResourceConfig  # noqa: E402
from shared.dpop import MemoryReplayStore, ProofVerifier  # noqa: E402
from tests.conftest import (  # noqa: E402
    CHEAP_ARGON2_ENV,
    NO_LIMITS,
    RedisServer,
    refresh_key_env,
    write_private_key,
    write_public_key,
)
from tests.dpop_forge import make_proof, new_key  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
ISSUER = "http://auth.bench"
RESOURCE = "http://api.bench"
PASSWORD = "correct horse battery staple"


def per_request_us(run: Callable[[int], None]) -> tuple[float, float]:
    """Wall and CPU (this process's) microseconds per request of `run(n)` over REQUESTS requests.
    The CPU figure leaves out the waits for Redis, which a loaded machine stretches the most."""
    start, cpu = time.perf_counter(), time.process_time()
    run(REQUESTS)
    return (time.perf_counter() - start) / REQUESTS * 1e6, (time.process_time() - cpu) / REQUESTS * 1e6


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp) / "redis")
        redis_server.start()
        try:
            return measure(redis_server, Path(tmp))
        finally:
            redis_server.stop()


def measure(redis_server: RedisServer, tmp: Path) -> int:
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    env = {"REDIS_URL": redis_server.url, "JWT_ISSUER": ISSUER, **CHEAP_ARGON2_ENV, **NO_LIMITS}
    auth = create_auth_app(AuthConfig.from_env({
        **env, "JWT_PRIVATE_KEY_FILE": str(write_private_key(signing, tmp / "signing.pem")), **refresh_key_env(tmp),
    })).test_client()
    resource = create_resource_app(ResourceConfig.from_env({
        **env, "JWT_PUBLIC_KEY_FILE": str(write_public_key(signing, tmp / "public.pem")),
        "RESOURCE_PUBLIC_URL": RESOURCE,
    })).test_client()
    credentials = {"email": "bench@example.com", "password": PASSWORD}
    auth.post("/register", json=credentials)
    key = new_key()
    bearer = auth.post("/login", json=credentials).json
    bound = auth.post("/login", json=credentials, headers={"DPoP": make_proof(key, "POST", f"{ISSUER}/login")}).json
    assert bound["token_type"] == "DPoP"
    chains = {"bearer": bearer["refresh_token"], "dpop": bound["refresh_token"]}

    def me_bearer(n: int) -> None:
        headers = {"Authorization": f"Bearer {bearer['access_token']}"}
        for _ in range(n):
            assert resource.get("/me", headers=headers).status_code == 200

    def me_dpop(n: int) -> None:
        token = bound["access_token"]
        proofs = me_dpop.proofs  # type: ignore[attr-defined]
        for i in range(n):
            response = resource.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proofs[i]})
            assert response.status_code == 200

    def refresh(kind: str) -> Callable[[int], None]:
        def run(n: int) -> None:
            proofs = run.proofs  # type: ignore[attr-defined]
            for i in range(n):
                headers = {"DPoP": proofs[i]} if kind == "dpop" else {}
                response = auth.post("/refresh", json={"refresh_token": chains[kind]}, headers=headers)
                assert response.status_code == 200, response.json
                chains[kind] = response.json["refresh_token"]
        return run

    refresh_bearer, refresh_dpop = refresh("bearer"), refresh("dpop")
    results: dict[str, list[tuple[float, float]]] = {
        name: [] for name in ("me_bearer", "me_dpop", "refresh", "refresh_dpop")
    }
    for _ in range(ROUNDS):
        # Proofs are a client's work: made before the clock starts, fresh for each round.
        me_dpop.proofs = [make_proof(key, "GET", f"{RESOURCE}/me", access_token=bound["access_token"])  # type: ignore[attr-defined]
                          for _ in range(REQUESTS)]
        refresh_dpop.proofs = [make_proof(key, "POST", f"{ISSUER}/refresh") for _ in range(REQUESTS)]  # type: ignore[attr-defined]
        refresh_bearer.proofs = []  # type: ignore[attr-defined]
        results["me_bearer"].append(per_request_us(me_bearer))
        results["me_dpop"].append(per_request_us(me_dpop))
        results["refresh"].append(per_request_us(refresh_bearer))
        results["refresh_dpop"].append(per_request_us(refresh_dpop))

    verifier = ProofVerifier(MemoryReplayStore())
    proofs = [make_proof(key, "GET", f"{RESOURCE}/me", access_token="t") for _ in range(2000)]
    start = time.perf_counter()
    for proof in proofs:
        verifier.verify([proof], method="GET", url=f"{RESOURCE}/me", access_token="t")
    verify_us = (time.perf_counter() - start) / len(proofs) * 1e6
    start = time.perf_counter()
    for _ in range(2000):
        make_proof(key, "GET", f"{RESOURCE}/me", access_token="t")
    sign_us = (time.perf_counter() - start) / 2000 * 1e6

    print(f"{ROUNDS} rounds of {REQUESTS} requests, in-process (Flask test client), real Redis; median µs/request")
    print(f"{'path':<16}{'':<6}{'without':>10}{'with DPoP':>12}{'cost':>10}{'ratio':>8}")
    for path, without, with_dpop in (("GET /me", "me_bearer", "me_dpop"), ("POST /refresh", "refresh", "refresh_dpop")):
        for column, label in ((0, "wall"), (1, "CPU")):
            a = statistics.median(run[column] for run in results[without])
            b = statistics.median(run[column] for run in results[with_dpop])
            print(f"{path:<16}{label:<6}{a:>10.0f}{b:>12.0f}{b - a:>+10.0f}{b / a:>8.2f}")
    print(f"ES256 proof check alone (shared.dpop, memory jti store): {verify_us:.0f} µs; "
          f"making one (client side, PyJWT): {sign_us:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
