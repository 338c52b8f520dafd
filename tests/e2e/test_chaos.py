"""Chaos: clients refresh through a proxy that loses and delays refresh answers, in front of two
auth replicas whose clocks differ by 5 s. No one is logged out by mistake; a thief is caught.

Short by default; longer with CHAOS_SECONDS (the honest clients' run), CHAOS_CLIENTS and
CHAOS_THEFTS, e.g. `CHAOS_SECONDS=60 CHAOS_CLIENTS=16 CHAOS_THEFTS=40 make test PYTEST_ARGS='-m chaos -s'`.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import NO_LIMITS, free_port
from tests.e2e.replicas import ChaosProxy, backoff, skewed_command

pytestmark = pytest.mark.chaos

SECONDS = float(os.environ.get("CHAOS_SECONDS", "3"))
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "6"))
THEFTS = int(os.environ.get("CHAOS_THEFTS", "8"))
PASSWORD = "correct horse battery"
GRACE = 1  # seconds (REFRESH_REUSE_GRACE)
TIMEOUT = 1.2  # the clients' timeout; a delayed answer comes later than that
DROP, DELAY = 0.2, 0.1  # shares of the refresh answers the proxy loses, and delays


@dataclass
class Tally:
    """What the clients saw, summed over threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refresh(url: str, token: str, tally: Tally, rng: random.Random) -> str:
    """One refresh as a careful client makes it: retried with backoff while no answer arrives;
    the new refresh token, or Refused with the reason."""
    for attempt in range(30):
        try:
            answer = requests.post(f"{url}/refresh", json={"refresh_token": token}, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout):
            tally.add("retries")
            time.sleep(backoff(attempt, rng))
            continue
        tally.add("answers")
        if answer.status_code >= 500:
            tally.add("5xx")
            tally.fail(f"{answer.status_code} {answer.text}")
            time.sleep(backoff(attempt, rng))
            continue
        if answer.status_code == 400 and answer.json().get("error") == "invalid_grant":
            raise Refused(answer.json()["reason"])
        assert answer.status_code == 200, answer.text
        return str(answer.json()["refresh_token"])
    raise AssertionError("no answer after 30 attempts")


def sign_up(url: str) -> str:
    """A new user's first refresh token, straight from a replica."""
    email = f"chaos-{uuid.uuid4().hex[:16]}@example.com"
    assert requests.post(f"{url}/register", json={"email": email, "password": PASSWORD}, timeout=10).status_code == 201
    answer = requests.post(f"{url}/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refresh_token"])


@pytest.fixture
def chaos(start_service, e2e_env):
    """Two replicas, 3 s ahead and 2 s behind, and the proxy in front of them."""
    env = {**e2e_env, **NO_LIMITS, "REFRESH_REUSE_GRACE": str(GRACE), "WEB_CONCURRENCY": "2"}
    ahead = start_service("auth_service", {**env, "AUTH_PORT": str(free_port())}, command=skewed_command(+3))
    behind = start_service("auth_service", {**env, "AUTH_PORT": str(free_port())}, command=skewed_command(-2))
    proxy = ChaosProxy([ahead.port, behind.port], drop=DROP, delay=DELAY, delay_seconds=TIMEOUT + 0.3)
    yield proxy, [ahead, behind]
    proxy.close()


def server_outcomes(replicas) -> Counter[str]:
    """auth_refreshes_total by outcome, summed over the replicas."""
    total: Counter[str] = Counter()
    for replica in replicas:
        for line in requests.get(f"{replica.url}/metrics", timeout=10).text.splitlines():
            if line.startswith("auth_refreshes_total{"):
                outcome = line.split('outcome="')[1].split('"')[0]
                total[outcome] += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_lost_and_late_answers_never_log_anyone_out_and_a_thief_is_always_caught(chaos, capsys):
    proxy, replicas = chaos
    tally = Tally()
    finals: list[str] = []

    def honest_client(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (chaos, not a secret)
        token = sign_up(replicas[seed % 2].url)
        deadline = time.monotonic() + SECONDS
        try:
            while time.monotonic() < deadline:
                token = refresh(proxy.url, token, tally, rng)
                tally.add("refreshes")
                time.sleep(rng.uniform(0, 0.05))
        except Refused as refused:
            tally.add("false logouts")
            tally.fail(f"client {seed} logged out: {refused.reason}")
            return
        # The client ends with a working token, on either replica.
        final = requests.post(f"{replicas[seed % 2].url}/refresh", json={"refresh_token": token}, timeout=10)
        if final.status_code != 200:
            tally.fail(f"client {seed} ended without a working token: {final.text}")
        finals.append(final.json().get("refresh_token", ""))

    threads = [threading.Thread(target=honest_client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    honest = dict(tally.counts)
    honest_proxy = dict(proxy.counts)

    # Thefts: two parties share one token; the first refreshes once or twice, the second (after the
    # grace) with the shared token; then both go on, in random turns. The session must end, as
    # reused, at the second party's first refresh or at the first party's next one: no later than
    # one rotation after the second party's first refresh.
    thefts = Tally()

    def caught(seed: int, refused: Refused, tokens: list[str], rng: random.Random) -> None:
        if refused.reason != "reused":
            thefts.fail(f"theft {seed}: refused as {refused.reason}, not reused")
        thefts.add("thefts detected")
        for token in tokens:  # over for both: every token of the session is refused
            with suppress(Refused):
                refresh(replicas[seed % 2].url, token, thefts, rng)
                thefts.fail(f"theft {seed}: a token of the revoked session still refreshed")

    def theft(seed: int) -> None:
        rng = random.Random(1000 + seed)  # noqa: S311 (chaos, not a secret)
        shared = sign_up(replicas[seed % 2].url)
        tokens = [shared, shared]  # [first party, second party]
        try:
            for _ in range(rng.choice((1, 2))):
                tokens[0] = refresh(proxy.url, tokens[0], thefts, rng)
            time.sleep(GRACE + 0.2)
            tokens[1] = refresh(proxy.url, tokens[1], thefts, rng)
            # The second party may go on alone for a while; the first party's next refresh is
            # the one rotation after which the session must be over.
            while rng.random() < 0.5:
                tokens[1] = refresh(proxy.url, tokens[1], thefts, rng)
                thefts.add("second party's rotations before the first party's next refresh")
            tokens[0] = refresh(proxy.url, tokens[0], thefts, rng)
        except Refused as refused:
            caught(seed, refused, tokens, rng)
            return
        thefts.fail(f"theft {seed}: not caught at the first party's next refresh")

    threads = [threading.Thread(target=theft, args=(i,)) for i in range(THEFTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    outcomes = server_outcomes(replicas)
    with capsys.disabled():
        print(f"\nchaos: {CLIENTS} clients for {SECONDS:.0f} s, 2 replicas 5 s apart: {honest.get('refreshes', 0)} "
              f"refreshes, {honest_proxy.get('dropped', 0)} answers dropped, {honest_proxy.get('delayed', 0)} "
              f"delayed, {honest.get('retries', 0)} retries, {honest.get('false logouts', 0)} false logouts, "
              f"{honest.get('5xx', 0)} 5xx; thefts: {thefts.counts['thefts detected']} of {THEFTS} detected; "
              f"server outcomes {dict(sorted(outcomes.items()))}")
    assert tally.failures == [] and thefts.failures == []
    assert len(finals) == CLIENTS and len(set(finals)) == CLIENTS
    assert thefts.counts["thefts detected"] == THEFTS
    # The run exercised what it is about: lost answers answered within and after the grace.
    assert honest_proxy.get("dropped", 0) > 0 and honest_proxy.get("delayed", 0) > 0
    assert outcomes["grace"] > 0 and outcomes["reissued"] > 0
