"""The auth service under gunicorn (2 workers), over real HTTP."""

from __future__ import annotations

import threading
import time
import uuid

import redis
import requests

from tests.conftest import RedisServer, dump_redis

PASSWORD = "correct horse battery"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def signup_and_login(url: str, email: str | None = None) -> dict:
    email = email or new_email()
    assert requests.post(f"{url}/register", json={"email": email, "password": PASSWORD}, timeout=5).status_code == 201
    response = requests.post(f"{url}/login", json={"email": email, "password": PASSWORD}, timeout=5)
    assert response.status_code == 200
    return response.json()


def refresh(url: str, token: str) -> requests.Response:
    return requests.post(f"{url}/refresh", json={"refresh_token": token}, timeout=10)


def sessions(url: str, access_token: str) -> list[dict]:
    response = requests.get(f"{url}/sessions", headers={"Authorization": f"Bearer {access_token}"}, timeout=5)
    assert response.status_code == 200
    return response.json()["sessions"]


def test_rotation_grace_and_reuse_kill_the_family(auth):
    first = signup_and_login(auth.url)
    second = refresh(auth.url, first["refresh_token"]).json()
    # Within the grace: a parallel tab gets the very same pair's refresh token.
    again = refresh(auth.url, first["refresh_token"]).json()
    assert again["refresh_token"] == second["refresh_token"]
    third = refresh(auth.url, second["refresh_token"]).json()
    # An older token comes back: stolen. The whole session dies, the newest token with it.
    reuse = refresh(auth.url, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    killed = refresh(auth.url, third["refresh_token"])
    assert killed.status_code == 400 and killed.json()["error"] == "invalid_grant"
    # Its access tokens too, at the auth service's own endpoints.
    listing = requests.get(f"{auth.url}/sessions", headers={"Authorization": f"Bearer {third['access_token']}"},
                           timeout=5)
    assert listing.status_code == 401 and listing.json()["error"] == "invalid_token"


def test_twenty_threads_refreshing_one_token_share_one_new_session(auth):
    pair = signup_and_login(auth.url)
    barrier = threading.Barrier(20)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def spend() -> None:
        barrier.wait()
        response = refresh(auth.url, pair["refresh_token"])
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new_tokens = {a.json()["refresh_token"] for a in answers if a.status_code == 200}
    refused = [a for a in answers if a.status_code != 200]
    assert len(answers) == 20
    assert len(new_tokens) == 1, "a refresh token forked its session"
    assert all(a.status_code == 400 and a.json()["error"] == "invalid_grant" for a in refused)
    (new_token,) = new_tokens
    live = sessions(auth.url, answers[0].json()["access_token"] if answers[0].ok else pair["access_token"])
    assert len(live) == 1
    assert refresh(auth.url, new_token).status_code == 200


def test_idle_and_absolute_expiry(start_service, e2e_env):
    # Real time against the store's clock (Redis TIME: libfaketime cannot run redis-server, and
    # the store clock of tests/integration moves only in-process). So every step that must come
    # before a deadline has about 2 s to spare (0.6 s once, and it flaked), and every step that
    # must come after one only sleeps past it: a stall shorter than that cannot flip an answer.
    service = start_service("auth_service", {**e2e_env, "REFRESH_TOKEN_TTL": "4", "SESSION_MAX_AGE": "6"})
    idle = signup_and_login(service.url)
    active = signup_and_login(service.url)
    assert idle["refresh_expires_in"] == 4
    time.sleep(2.1)
    active = refresh(service.url, active["refresh_token"]).json()  # kept alive by use, 1.9 s to spare
    time.sleep(2.0)  # 4.1 s since the logins: past the idle deadline
    expired = refresh(service.url, idle["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    active = refresh(service.url, active["refresh_token"]).json()  # 2 s after its last use, 1.9 s to spare
    assert active["refresh_expires_in"] <= 1  # capped by the absolute deadline: later only lowers it
    time.sleep(1.9)
    # Used every 2 s, never idle for 4 s, yet past its 6 s of absolute life.
    assert refresh(service.url, active["refresh_token"]).status_code == 400


def test_logout_and_logout_all(auth):
    email = new_email()
    one = signup_and_login(auth.url, email)
    two = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5).json()
    three = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5).json()
    logout = requests.post(f"{auth.url}/logout", json={"refresh_token": one["refresh_token"]}, timeout=5)
    assert logout.status_code == 204
    assert refresh(auth.url, one["refresh_token"]).status_code == 400
    assert len(sessions(auth.url, two["access_token"])) == 2
    headers = {"Authorization": f"Bearer {two['access_token']}"}
    assert requests.post(f"{auth.url}/logout/all", headers=headers, timeout=5).status_code == 204
    for pair in (two, three):
        assert refresh(auth.url, pair["refresh_token"]).status_code == 400


def test_redis_holds_no_refresh_token_password_or_key(auth, redis_server, signing_key_file):
    password = "a very unusual passphrase 7421"
    email = new_email()
    requests.post(f"{auth.url}/register", json={"email": email, "password": password}, timeout=5)
    pair = requests.post(f"{auth.url}/login", json={"email": email, "password": password}, timeout=5).json()
    rotated = refresh(auth.url, pair["refresh_token"]).json()
    client = redis.Redis.from_url(redis_server.url)
    try:
        dump = dump_redis(client)
    finally:
        client.close()
    assert email.encode() in dump  # the dump did read this test's data
    for secret in (password, pair["refresh_token"].split(".")[2], rotated["refresh_token"].split(".")[2]):
        assert secret.encode() not in dump
    key_body = b"".join(signing_key_file.read_bytes().splitlines()[1:-1])
    assert key_body[:64] not in dump
    assert password not in auth.log() and pair["refresh_token"] not in auth.log()


def test_redis_restart_mid_test(start_service, e2e_env, tmp_path):
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    try:
        service = start_service("auth_service", {**e2e_env, "REDIS_URL": server.url})
        pair = signup_and_login(service.url)
        server.stop()
        down = refresh(service.url, pair["refresh_token"])
        assert down.status_code == 503 and down.json()["error"] == "temporarily_unavailable"
        assert down.elapsed.total_seconds() < 5  # refused at once, not after a hang
        assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 503
        assert requests.get(f"{service.url}/healthz", timeout=5).status_code == 200
        server.start()
        assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 200
        # The session survived the restart (append-only file) and the service reconnected by itself.
        assert refresh(service.url, pair["refresh_token"]).status_code == 200
    finally:
        server.stop()
