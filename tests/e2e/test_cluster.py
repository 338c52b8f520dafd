"""Scale-out: two replicas of each service over a Redis Cluster, and a master failing over under load."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from shared import directory, redis_keys
from tests.conftest import NO_LIMITS, write_public_key
from tests.e2e.conftest import Service, base_env
from tests.redis_cluster import LocalCluster

PASSWORD = "correct horse battery"
ISSUER = "http://auth.cluster.test"  # every auth replica signs as the same issuer
THREADS = 6
SESSIONS_HELD = 3  # live sessions each load thread keeps before logging the oldest out


@dataclass
class Replicas:
    """Two auth and two resource processes over one cluster; requests go to each in turn, as a balancer would."""

    auth: list[Service]
    resource: list[Service]
    _turn: Iterator[int] = field(default_factory=itertools.count)

    def auth_url(self) -> str:
        return self.auth[next(self._turn) % 2].url

    def resource_url(self) -> str:
        return self.resource[next(self._turn) % 2].url


@pytest.fixture(scope="module")
def replicas(redis_cluster: LocalCluster, signing_key_file: Path, rsa_private_key,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    logs = tmp_path_factory.mktemp("replicas")
    public_key = write_public_key(rsa_private_key, logs / "public.pem")
    with ExitStack() as stack:
        services: dict[str, list[Service]] = {"auth_service": [], "resource_service": []}
        for i, module in enumerate(["auth_service", "resource_service"] * 2):
            env = {**base_env(redis_cluster.url, signing_key_file), **NO_LIMITS, "JWT_ISSUER": ISSUER}
            if module == "resource_service":
                del env["JWT_PRIVATE_KEY_FILE"]
                env["JWT_PUBLIC_KEY_FILE"] = str(public_key)
            service = Service(module, env, logs / f"{module}-{i}.log")
            stack.callback(service.stop)
            services[module].append(service.start())
        yield Replicas(services["auth_service"], services["resource_service"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_and_login(replicas: Replicas, name: str = "") -> dict:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": name}
    registered = requests.post(f"{replicas.auth_url()}/register", json=body, timeout=10)
    assert registered.status_code == 201, registered.text
    login = requests.post(f"{replicas.auth_url()}/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    return {**registered.json(), **login.json()}


def walk_directory(replicas: Replicas, token: str, limit: int) -> list[dict]:
    """Every page of /users, each page from the next resource replica."""
    users: list[dict] = []
    cursor = None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{replicas.resource_url()}/users", params=params, headers=bearer(token), timeout=10)
        assert page.status_code == 200, page.text
        assert len(page.json()["users"]) <= limit
        users += page.json()["users"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return users


def test_any_replica_serves_any_request(replicas: Replicas, cluster_client):
    first = register_and_login(replicas, "first")
    # A token pair from one auth replica refreshes and logs out at the other: no sticky sessions.
    refreshed = requests.post(f"{replicas.auth[1].url}/refresh", json={"refresh_token": first["refresh_token"]},
                              timeout=10)
    assert refreshed.status_code == 200
    again = requests.post(f"{replicas.auth[0].url}/refresh", json={"refresh_token": first["refresh_token"]},
                          timeout=10)
    assert again.json()["refresh_token"] == refreshed.json()["refresh_token"]  # the grace, across replicas
    sessions = requests.get(f"{replicas.auth[0].url}/sessions", headers=bearer(refreshed.json()["access_token"]),
                            timeout=10)
    assert [s["id"] for s in sessions.json()["sessions"]] == [refreshed.json()["refresh_token"].split(".")[1]]
    out = requests.post(f"{replicas.auth[1].url}/logout/all", headers=bearer(refreshed.json()["access_token"]),
                        timeout=10)
    assert out.status_code == 204
    dead = requests.post(f"{replicas.auth[0].url}/refresh", json={"refresh_token": refreshed.json()["refresh_token"]},
                         timeout=10)
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


def test_directory_pages_and_renames_over_the_cluster(replicas: Replicas, cluster_client):
    users = [register_and_login(replicas, f"user {n}") for n in range(23)]
    token = users[0]["access_token"]
    listed = walk_directory(replicas, token, limit=5)
    assert [u["id"] for u in listed] == [u["id"] for u in users]
    assert listed[3] == {"id": users[3]["id"], "email": users[3]["email"], "name": "user 3",
                         "created_at": users[3]["created_at"]}
    # The profiles live beside the index, in the {accounts} slot; the sign-in records in each user's.
    assert cluster_client.keyslot(directory.profiles_key()) == cluster_client.keyslot(directory.users_index_key())
    assert len({cluster_client.keyslot(redis_keys.user_key(u["id"])) for u in users}) > 1

    renamed = requests.patch(f"{replicas.resource[0].url}/users/{users[5]['id']}", json={"name": "Renamed"},
                             headers=bearer(users[5]["access_token"]), timeout=10)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    fetched = requests.get(f"{replicas.resource[1].url}/users/{users[5]['id']}", headers=bearer(token), timeout=10)
    assert fetched.json()["name"] == "Renamed"
    assert [u["name"] for u in walk_directory(replicas, token, limit=200)][4:7] == ["user 4", "Renamed", "user 6"]


@dataclass
class Answer:
    step: str
    started: float  # time.monotonic() when the request went out
    finished: float  # and when its answer came
    status: int  # 0: no HTTP answer at all


class LoadRun:
    """THREADS threads, each looping register -> login -> list users -> refresh -> log out an older session.

    Each thread keeps its last SESSIONS_HELD sessions alive, so that live sessions straddle the
    failover; what the services acknowledged (201, 200, 204) is recorded, to be checked afterwards.
    """

    def __init__(self, replicas: Replicas) -> None:
        self.replicas = replicas
        self.answers: list[Answer] = []
        self.registered: list[str] = []  # emails whose registration was acknowledged
        self.held: list[str] = []  # the newest refresh token of each acknowledged live session, at the end
        self.logged_out: list[str] = []  # refresh tokens of sessions whose logout was acknowledged
        self.rounds = [0] * THREADS  # completed loops, per thread
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(THREADS)]

    def _call(self, step: str, method: str, url: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = requests.request(method, url, timeout=30, **kwargs)
        except requests.RequestException:
            response = None
        with self._lock:
            status = response.status_code if response is not None else 0
            self.answers.append(Answer(step, started, time.monotonic(), status))
        if not 200 <= status < 300:
            time.sleep(0.2)  # a client backing off (the 503 says Retry-After: 1) before its next try
        return response

    def _loop(self, i: int) -> None:
        held: deque[str] = deque()
        while not self._stop.is_set():
            email = f"load-{uuid.uuid4().hex[:12]}@example.com"
            credentials = {"email": email, "password": PASSWORD}
            r = self._call("register", "POST", f"{self.replicas.auth_url()}/register", json=credentials)
            if r is None or r.status_code != 201:
                continue
            with self._lock:
                self.registered.append(email)
            r = self._call("login", "POST", f"{self.replicas.auth_url()}/login", json=credentials)
            if r is None or r.status_code != 200:
                continue
            held.append(r.json()["refresh_token"])
            r = self._call("list", "GET", f"{self.replicas.resource_url()}/users", params={"limit": 20},
                           headers=bearer(r.json()["access_token"]))
            if r is None or r.status_code != 200:
                continue
            # Unanswered, the rotation may or may not have happened: that session is no longer tracked.
            r = self._call("refresh", "POST", f"{self.replicas.auth_url()}/refresh",
                           json={"refresh_token": held.pop()})
            if r is None or r.status_code != 200:
                continue
            held.append(r.json()["refresh_token"])
            if len(held) > SESSIONS_HELD:
                oldest = held.popleft()
                r = self._call("logout", "POST", f"{self.replicas.auth_url()}/logout",
                               json={"refresh_token": oldest})
                if r is None or r.status_code != 204:
                    continue
                with self._lock:
                    self.logged_out.append(oldest)
            self.rounds[i] += 1
        with self._lock:
            self.held += held

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_rounds(self, rounds: int, timeout: float = 120) -> None:
        """Until every thread has completed `rounds` more loops (a generous bound catches a hang)."""
        target = [n + rounds for n in self.rounds]
        deadline = time.monotonic() + timeout
        while any(n < t for n, t in zip(self.rounds, target, strict=True)):
            assert time.monotonic() < deadline, f"the load stalled: {self.rounds} of {target} loops"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def check_acknowledged(self) -> dict[str, int]:
        """What of the acknowledged writes is gone: registrations, live sessions, logouts undone."""
        auth = self.replicas.auth_url()

        def login_fails(email: str) -> bool:
            body = {"email": email, "password": PASSWORD}
            return requests.post(f"{auth}/login", json=body, timeout=30).status_code != 200

        def refresh_status(token: str) -> int:
            return requests.post(f"{auth}/refresh", json={"refresh_token": token}, timeout=30).status_code

        with ThreadPoolExecutor(THREADS) as pool:
            lost_registrations = sum(pool.map(login_fails, self.registered))
            lost_sessions = sum(status != 200 for status in pool.map(refresh_status, self.held))
            undone_logouts = sum(status != 400 for status in pool.map(refresh_status, self.logged_out))
        return {"registrations": lost_registrations, "sessions": lost_sessions, "logouts": undone_logouts}


def count(answers: list[Answer]) -> Counter[str]:
    """Answers by step and status: {'refresh 200': 40, 'list 503': 3, ...}."""
    return Counter(f"{a.step} {a.status}" for a in answers)


@pytest.fixture
def load(replicas: Replicas) -> Iterator[LoadRun]:
    run = LoadRun(replicas)
    run.start()
    yield run
    run.stop()


def by_phase(run: LoadRun, switch_started: float, switch_done: float) -> dict[str, list[Answer]]:
    """The answers to requests answered before the switch of masters, in flight during it, sent after it."""
    return {
        "before": [a for a in run.answers if a.finished < switch_started],
        "during": [a for a in run.answers if a.finished >= switch_started and a.started < switch_done],
        "after": [a for a in run.answers if a.started >= switch_done],
    }


def report(title: str, phases: dict[str, list[Answer]], lost: dict[str, int], switch_seconds: float) -> None:
    """The figures of a failover, shown with `pytest -s` (or in the output of a failing test)."""
    print(f"\n{title}: the switch took {switch_seconds:.1f} s; lost after acknowledgement: {lost}")
    for phase, answers in phases.items():
        slowest = max((a.finished - a.started for a in answers), default=0)
        print(f"  {phase}: {len(answers)} answers (slowest {slowest:.2f} s), {dict(sorted(count(answers).items()))}")


def is_2xx(answer: Answer) -> bool:
    return 200 <= answer.status < 300


def test_failover_by_hand_under_load_loses_nothing(redis_cluster: LocalCluster, load: LoadRun):
    load.wait_rounds(3)
    # The master of the directory: registrations and listings all go through it.
    master = redis_cluster.node_for_key(directory.users_index_key())
    replica = redis_cluster.replica_of(master)
    switch_started = time.monotonic()
    # The replica catches up with its master, which holds its clients meanwhile, then takes over.
    with redis_cluster.client(replica) as client:
        client.execute_command("CLUSTER", "FAILOVER")
    redis_cluster.wait_promoted(replica)
    switch_done = time.monotonic()
    assert redis_cluster.replication(master)["role"] == "slave"
    load.wait_rounds(3)
    load.stop()

    phases = by_phase(load, switch_started, switch_done)
    lost = load.check_acknowledged()
    report("manual failover", phases, lost, switch_done - switch_started)
    assert all(is_2xx(a) for a in phases["before"] + phases["after"]), count(phases["before"] + phases["after"])
    # In the switch, at most 503 temporarily_unavailable, never a 500 or a wrong answer.
    assert all(is_2xx(a) or a.status == 503 for a in phases["during"]), count(phases["during"])
    assert lost == {"registrations": 0, "sessions": 0, "logouts": 0}
    assert len(load.registered) >= THREADS * 6 and load.held and load.logged_out


def test_failover_of_a_killed_master_under_load_recovers(redis_cluster: LocalCluster, load: LoadRun):
    load.wait_rounds(3)
    master = redis_cluster.node_for_key(directory.users_index_key())
    replica = redis_cluster.replica_of(master)
    switch_started = time.monotonic()
    assert master.process is not None
    master.process.kill()
    master.process.wait()
    try:
        # The other masters see it fail after the node timeout, and its replica wins an election.
        redis_cluster.wait_promoted(replica)
        switch_done = time.monotonic()
        load.wait_rounds(3)
        load.stop()

        phases = by_phase(load, switch_started, switch_done)
        # Replication is asynchronous: what the master acknowledged in its last moments, before
        # its replica received it, may be gone. The figures are reported, not asserted.
        lost = load.check_acknowledged()
        report("killed master", phases, lost, switch_done - switch_started)
        assert all(is_2xx(a) for a in phases["before"]), count(phases["before"])
        assert all(is_2xx(a) or a.status == 503 for a in phases["during"]), count(phases["during"])
        assert any(a.status == 503 for a in phases["during"])  # the directory was away for a while
        # Recovered without a restart: after the switch, every answer is a success again, except
        # that a refresh finds no session if its login was among the master's last, lost, writes.
        assert all(is_2xx(a) or (a.step, a.status) == ("refresh", 400) for a in phases["after"]), count(
            phases["after"])
    finally:
        master.start()  # back as a replica of the promoted node, for the tests that follow
        redis_cluster.wait_healthy()
