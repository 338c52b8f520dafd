"""Issue 13.5: what someone who knows another user's `sid` and user id (both in access tokens and
logs) can do with them, through every endpoint that takes either: nothing to that user's sessions."""

from __future__ import annotations

import jwt
import pytest

PASSWORD = "correct horse battery"
ALICE, MALLORY = "198.51.100.10", "203.0.113.66"


@pytest.fixture
def client(make_auth_app):
    app = make_auth_app(REFRESH_ADDRESS_LIMIT="5", LOGIN_ADDRESS_LIMIT="0")
    client = app.test_client()
    for email in ("alice@example.com", "mallory@example.com"):
        assert client.post("/register", json={"email": email, "password": PASSWORD}).status_code == 201
    return client


def login(client, email: str, address: str) -> dict:
    response = client.post("/login", json={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200, response.json
    return response.json


def bearer(pair: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_a_known_sid_and_user_id_end_list_or_slow_no_one_elses_session(client):
    alice = login(client, "alice@example.com", ALICE)
    mallory = login(client, "mallory@example.com", MALLORY)
    claims = jwt.decode(alice["access_token"], options={"verify_signature": False})
    user_id, sid = claims["sub"], claims["sid"]
    as_mallory = {"environ_base": {"REMOTE_ADDR": MALLORY}}

    # Refresh tokens made up for her session: refused, and refused without revoking.
    for i in range(2):  # four refreshes: REFRESH_ADDRESS_LIMIT is 5 here
        forged = f"{user_id}.{sid}.{chr(65 + i) * 43}"
        assert client.post("/refresh", json={"refresh_token": forged}, **as_mallory).json["reason"] == "unknown"
        assert client.post("/token", data={"grant_type": "refresh_token", "refresh_token": forged},
                           **as_mallory).json["error"] == "invalid_grant"
        assert client.post("/logout", json={"refresh_token": forged}, **as_mallory).status_code == 204  # idempotent
    # Mallory's own token, naming Alice's session or account.
    assert client.delete(f"/sessions/{sid}", headers=bearer(mallory), **as_mallory).status_code == 404
    listed = client.get("/sessions", headers=bearer(mallory), **as_mallory).json["sessions"]
    assert sid not in [s["id"] for s in listed] and len(listed) == 1
    assert client.post("/logout/all", headers=bearer(mallory), **as_mallory).status_code == 204  # her own only
    # Mallory's refreshes count on her address: she is limited, Alice is not.
    statuses = [client.post("/refresh", json={"refresh_token": f"{user_id}.{sid}.{'Z' * 43}"},
                            **as_mallory).status_code for _ in range(5)]
    assert 429 in statuses

    sessions = client.get("/sessions", headers=bearer(alice), environ_base={"REMOTE_ADDR": ALICE}).json["sessions"]
    assert [s["id"] for s in sessions] == [sid]
    refreshed = client.post("/refresh", json={"refresh_token": alice["refresh_token"]},
                            environ_base={"REMOTE_ADDR": ALICE})
    assert refreshed.status_code == 200, refreshed.json


def test_failed_logins_as_her_email_do_not_slow_her_own_logins(client):
    # Any reader of /users sees every email: the email's throttle is public. Her known address is spared.
    login(client, "alice@example.com", ALICE)
    for _ in range(20):
        client.post("/login", json={"email": "alice@example.com", "password": "a guess"},
                    environ_base={"REMOTE_ADDR": MALLORY})
    assert client.post("/login", json={"email": "alice@example.com", "password": "a guess"},
                       environ_base={"REMOTE_ADDR": MALLORY}).status_code == 429
    for _ in range(5):
        login(client, "alice@example.com", ALICE)
