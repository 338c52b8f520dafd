"""Two auth replicas whose clocks are 5 s apart agree on which sessions live: the store's clock
decides. The listing on the fast one keeps a session its own clock would call expired, the slow
one refreshes it, and logout-all and a password change each end it."""

from __future__ import annotations

import time

import jwt
import requests

from tests.conftest import NO_LIMITS, free_port
from tests.e2e.replicas import skewed_command

PASSWORD = "correct horse battery"
IDLE = 4  # seconds: within the fast replica's 5 s lead, a fresh session looks expired to its own clock


def post(url: str, path: str, **kwargs) -> requests.Response:
    return requests.post(url + path, timeout=10, **kwargs)


def bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_replicas_five_seconds_apart_agree_on_live_sessions(start_service, e2e_env):
    env = {**e2e_env, **NO_LIMITS, "REFRESH_TOKEN_TTL": str(IDLE), "WEB_CONCURRENCY": "1"}
    fast = start_service("auth_service", {**env, "AUTH_PORT": str(free_port())}, command=skewed_command(+5))
    slow = start_service("auth_service", {**env, "AUTH_PORT": str(free_port())})
    email = "skew@example.com"
    assert post(slow.url, "/register", json={"email": email, "password": PASSWORD}).status_code == 201

    def login(replica) -> dict[str, str]:
        answer = post(replica.url, "/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return answer.json()

    # The fast replica's clock is really ahead: its access tokens are issued in our future.
    # (iat is whole seconds, floor of a clock 5 s ahead of `before`: at least int(before) + 5.)
    before = time.time()
    issued_at = jwt.decode(login(fast)["access_token"], options={"verify_signature": False})["iat"]
    assert issued_at >= int(before) + 4

    for end in ("logout_all", "password_change"):
        session = login(slow)
        listed = requests.get(fast.url + "/sessions", headers=bearer(session), timeout=10).json()["sessions"]
        ids = {s["id"] for s in listed}
        sid = session["refresh_token"].split(".")[1]
        assert sid in ids, "the fast replica's listing dropped a live session"
        refreshed = post(slow.url, "/refresh", json={"refresh_token": session["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        if end == "logout_all":
            assert post(fast.url, "/logout/all", headers=bearer(session)).status_code == 204
            expected = "revoked"
        else:
            here = login(fast)
            changed = post(fast.url, "/password", headers=bearer(here),
                           json={"current_password": PASSWORD, "new_password": PASSWORD + " 2"})
            assert changed.status_code == 204, changed.text
            expected = "password_changed"
        after = post(slow.url, "/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
        assert after.status_code == 400 and after.json()["reason"] == expected, after.text
