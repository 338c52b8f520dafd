"""The auth service's account endpoints refuse an access token whose session has ended, however it
ended, while a live session's token (one within its reuse grace too) goes on working; Flask's test
client over a real Redis."""

from __future__ import annotations

import jwt
import pytest

from auth_service.clients import ClientStore
from tests.conftest import RedisServer

PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"


def log_in(client) -> dict[str, str]:
    response = client.post("/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    return response.json


def bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def sid_of(pair: dict[str, str]) -> str:
    return jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]


def assert_refused(response) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def listed(client, pair: dict[str, str]) -> list[str]:
    response = client.get("/sessions", headers=bearer(pair))
    assert response.status_code == 200, response.get_data(as_text=True)
    return [session["id"] for session in response.json["sessions"]]


@pytest.mark.parametrize("ending", ["logout", "reuse", "deleted_by_owner", "logout_all", "password_changed",
                                    "evicted"])
def test_a_stolen_token_cannot_manage_the_account_once_its_session_ended(make_auth_app, ending: str) -> None:
    client = make_auth_app(MAX_SESSIONS_PER_USER="3").test_client()
    client.post("/register", json={"email": EMAIL, "password": PASSWORD})
    stolen, owner = log_in(client), log_in(client)
    if ending == "logout":
        assert client.post("/logout", json={"refresh_token": stolen["refresh_token"]}).status_code == 204
    elif ending == "reuse":  # the successor was used, then the spent token came back: the family dies
        successor = client.post("/refresh", json={"refresh_token": stolen["refresh_token"]}).json
        assert client.post("/refresh", json={"refresh_token": successor["refresh_token"]}).status_code == 200
        assert client.post("/refresh", json={"refresh_token": stolen["refresh_token"]}).json["reason"] == "reused"
    elif ending == "deleted_by_owner":
        assert client.delete(f"/sessions/{sid_of(stolen)}", headers=bearer(owner)).status_code == 204
    elif ending == "logout_all":
        assert client.post("/logout/all", headers=bearer(owner)).status_code == 204
        owner = log_in(client)  # the owner's new session
    elif ending == "password_changed":
        body = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        assert client.post("/password", json=body, headers=bearer(owner)).status_code == 204
    elif ending == "evicted":  # MAX_SESSIONS_PER_USER: the oldest session makes room
        log_in(client)
        log_in(client)
        assert sid_of(stolen) not in listed(client, owner)

    assert_refused(client.get("/sessions", headers=bearer(stolen)))
    assert_refused(client.delete(f"/sessions/{sid_of(owner)}", headers=bearer(stolen)))
    assert_refused(client.post("/logout/all", headers=bearer(stolen)))
    assert_refused(client.post("/password", headers=bearer(stolen),
                               json={"current_password": "anything at all", "new_password": "the thief's own"}))
    # Nothing the thief tried reached the owner's session.
    assert sid_of(owner) in listed(client, owner)
    assert client.post("/refresh", json={"refresh_token": owner["refresh_token"]}).status_code == 200


def test_a_session_within_its_reuse_grace_is_live(make_auth_app) -> None:
    client = make_auth_app(REFRESH_REUSE_GRACE="10").test_client()
    client.post("/register", json={"email": EMAIL, "password": PASSWORD})
    first = log_in(client)
    rotated = client.post("/refresh", json={"refresh_token": first["refresh_token"]}).json
    again = client.post("/refresh", json={"refresh_token": first["refresh_token"]}).json  # a parallel tab
    assert again["refresh_token"] == rotated["refresh_token"]
    for pair in (first, rotated, again):  # every access token of the session, old ones too
        assert listed(client, pair) == [sid_of(first)]


def test_a_client_token_is_not_taken_for_a_session(make_auth_app, redis_client) -> None:
    client = make_auth_app().test_client()
    service, secret = ClientStore(redis_client).create("billing", "users:read")
    token = client.post("/token", data={"grant_type": "client_credentials"},
                        auth=(service.client_id, secret)).json["access_token"]
    # The account endpoints want a user (403), not a live session of this client's (401).
    response = client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json["error"] == "insufficient_scope"


def test_with_redis_down_the_account_endpoints_answer_503_and_the_check_holds_after(tmp_path, make_auth_app) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        client = make_auth_app(REDIS_URL=server.url).test_client()
        client.post("/register", json={"email": EMAIL, "password": PASSWORD})
        pair = log_in(client)
        server.stop()
        for response in (client.get("/sessions", headers=bearer(pair)),
                         client.delete(f"/sessions/{sid_of(pair)}", headers=bearer(pair)),
                         client.post("/logout/all", headers=bearer(pair))):
            assert response.status_code == 503 and response.json["error"] == "temporarily_unavailable"
        server.start()  # empty (no persistence): it knows no session, and the check says so
        assert_refused(client.get("/sessions", headers=bearer(pair)))
    finally:
        server.stop()
