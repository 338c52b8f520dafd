"""The auth service's HTTP contract, through Flask's test client over a real Redis."""

from __future__ import annotations

import time

import pytest

from tests.conftest import RedisServer, write_private_key

PASSWORD = "correct horse battery"


@pytest.fixture
def key_file(tmp_path, rsa_private_key):
    return write_private_key(rsa_private_key, tmp_path / "k.pem")


@pytest.fixture
def client(make_auth_app):
    return make_auth_app().test_client()


def register(client, email="alice@example.com", password=PASSWORD, **extra):
    return client.post("/register", json={"email": email, "password": password, **extra})


def login(client, email="alice@example.com", password=PASSWORD):
    return client.post("/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == code
    assert isinstance(response.json["error_description"], str) and response.json["error_description"]


def test_register_answers_the_public_account(client):
    response = register(client, email="  Alice@Example.com ", name="Alice")
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "email", "name", "created_at"}
    assert body["email"] == "alice@example.com" and body["name"] == "Alice"
    assert body["created_at"].endswith("Z")


def test_emails_are_case_insensitive(client):
    register(client)
    assert_error(register(client, email="ALICE@example.com"), 409, "email_taken")
    assert login(client, email="Alice@EXAMPLE.com").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "alice@example.com"}, {"password": PASSWORD}, {"email": 5, "password": PASSWORD},
     {"email": "alice@example.com", "password": ["x"]}, {"email": "nope", "password": PASSWORD},
     {"email": "alice@example.com", "password": "short"},
     {"email": "alice@example.com", "password": "x" * 1025},
     {"email": "alice@example.com", "password": PASSWORD, "name": 7}],
)
def test_register_refuses_bad_bodies(client, body):
    assert_error(client.post("/register", json=body), 400, "invalid_request")


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"a string"', "{", "null"])
def test_bodies_that_are_no_json_object_are_invalid_requests(client, data):
    response = client.post("/login", data=data, content_type="application/json")
    assert_error(response, 400, "invalid_request")


def test_a_body_of_another_type_is_415(client):
    response = client.post("/login", data="email=a&password=b", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_a_body_over_64_kib_is_413(client):
    response = client.post("/register", data='{"email": "' + "a" * 70_000 + '"}', content_type="application/json")
    assert_error(response, 413, "request_too_large")


def test_unknown_routes_and_methods_answer_json(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    response = client.get("/login")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_a_bug_answers_json_500_without_detail(client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(client.application.extensions["auth"].accounts, "authenticate", explode)
    response = login(client)
    assert_error(response, 500, "server_error")
    assert "secret internal detail" not in response.get_data(as_text=True)


def test_login_answers_an_rfc6749_token_pair(client):
    register(client)
    response = login(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_expires_in"] == 1_209_600 and body["scope"] == "users:read"


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    register(client)
    wrong = login(client, password="wrong password")
    unknown = login(client, email="nobody@example.com")
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json == unknown.json


def test_an_unknown_email_costs_one_argon2_verify_too(client, monkeypatch):
    hasher = client.application.extensions["auth"].accounts._hasher
    verified = []
    real_verify = hasher.verify
    monkeypatch.setattr(hasher, "verify", lambda pw, h: verified.append(h) or real_verify(pw, h))
    login(client, email="nobody@example.com")
    login(client, email="nobody@example.com", password="short")
    assert verified == [None, None]


def test_refresh_rotates_and_the_old_token_is_spent(client):
    register(client)
    first = login(client).json
    second = client.post("/refresh", json={"refresh_token": first["refresh_token"]}).json
    assert second["refresh_token"] != first["refresh_token"]
    third = client.post("/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "0" * 32 + "." + "0" * 32 + "." + "A" * 43])
def test_unknown_refresh_tokens_are_invalid_grant(client, token):
    assert_error(client.post("/refresh", json={"refresh_token": token}), 400, "invalid_grant")


def test_refresh_without_a_token_is_invalid_request(client):
    assert_error(client.post("/refresh", json={"refresh_token": 5}), 400, "invalid_request")
    assert_error(client.post("/refresh", json={}), 400, "invalid_request")


def test_logout_revokes_the_session_and_is_idempotent(client):
    register(client)
    pair = login(client).json
    assert client.post("/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert client.post("/logout", json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert client.post("/logout", json={"refresh_token": "garbage"}).status_code == 204
    assert_error(client.post("/refresh", json={"refresh_token": pair["refresh_token"]}), 400, "invalid_grant")


def test_sessions_lists_and_deletes_the_owners_sessions(client):
    register(client)
    register(client, email="bob@example.com")
    phone = client.post("/login", json={"email": "alice@example.com", "password": PASSWORD},
                        headers={"User-Agent": "phone"}).json
    laptop = client.post("/login", json={"email": "alice@example.com", "password": PASSWORD},
                         headers={"User-Agent": "laptop"}).json
    bob = login(client, email="bob@example.com").json
    response = client.get("/sessions", headers=bearer(laptop["access_token"]))
    assert response.status_code == 200
    sessions = response.json["sessions"]
    assert [s["user_agent"] for s in sessions] == ["phone", "laptop"]
    assert [s["current"] for s in sessions] == [False, True]
    assert set(sessions[0]) == {"id", "created_at", "last_used_at", "user_agent", "current"}

    # Bob cannot delete Alice's session, even knowing its id.
    bob_view = client.delete(f"/sessions/{sessions[0]['id']}", headers=bearer(bob["access_token"]))
    assert_error(bob_view, 404, "not_found")
    assert client.delete(f"/sessions/{sessions[0]['id']}", headers=bearer(laptop["access_token"])).status_code == 204
    assert_error(client.post("/refresh", json={"refresh_token": phone["refresh_token"]}), 400, "invalid_grant")
    assert len(client.get("/sessions", headers=bearer(laptop["access_token"])).json["sessions"]) == 1


def test_logout_all_ends_every_session(client):
    register(client)
    pairs = [login(client).json for _ in range(3)]
    assert client.post("/logout/all", headers=bearer(pairs[0]["access_token"])).status_code == 204
    for pair in pairs:
        assert_error(client.post("/refresh", json={"refresh_token": pair["refresh_token"]}), 400, "invalid_grant")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}])
def test_bearer_endpoints_refuse_missing_or_bad_tokens(client, headers):
    for response in (client.get("/sessions", headers=headers), client.post("/logout/all", headers=headers)):
        assert_error(response, 401, "invalid_token")
        # The contract's exact form.
        assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", error_description="')


def test_jwks_lists_every_verifying_key(
    tmp_path, rsa_private_key, other_rsa_private_key, make_auth_app
):
    new = write_private_key(other_rsa_private_key, tmp_path / "new.pem")
    old = write_private_key(rsa_private_key, tmp_path / "old.pem")
    client = make_auth_app(JWT_PRIVATE_KEY_FILE=f"{new},{old}").test_client()
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert len(keys) == 2
    for key in keys:
        assert {"kid", "kty", "alg", "use", "n", "e"} <= set(key)
        assert "d" not in key and "p" not in key
    register(client)
    # A token signed by the new key, and one the old key signed before the rotation, both verify here.
    new_token = login(client).json["access_token"]
    old_client = make_auth_app(JWT_PRIVATE_KEY_FILE=str(old)).test_client()
    old_token = login(old_client).json["access_token"]
    for token in (new_token, old_token):
        assert client.get("/sessions", headers=bearer(token)).status_code == 200


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_a_redis_outage_is_503_and_heals_by_itself(tmp_path, make_auth_app):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        client = make_auth_app(REDIS_URL=server.url).test_client()
        register(client)
        pair = login(client).json
        server.stop()
        started = time.monotonic()
        for response in (login(client), register(client, email="bob@example.com"),
                         client.post("/refresh", json={"refresh_token": pair["refresh_token"]}),
                         client.get("/readyz")):
            assert_error(response, 503, "temporarily_unavailable")
        assert time.monotonic() - started < 5  # refused at once: no request waits for Redis
        assert client.get("/healthz").status_code == 200
        server.start()
        assert client.get("/readyz").status_code == 200
        assert login(client, email="alice@example.com").status_code in (200, 401)
    finally:
        server.stop()


def test_a_refused_refresh_says_why(make_auth_app, caplog):
    client = make_auth_app(REFRESH_REUSE_GRACE="0").test_client()
    register(client)
    first = login(client).json
    second = client.post("/refresh", json={"refresh_token": first["refresh_token"]}).json
    client.post("/refresh", json={"refresh_token": second["refresh_token"]})  # the successor used
    with caplog.at_level("WARNING", logger="auth_service.security"):
        reuse = client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reuse, 400, "invalid_grant")
    assert reuse.json["reason"] == "reused"
    (event,) = [r for r in caplog.records if r.name == "auth_service.security"]
    fields = event.fields  # what the JSON log line carries beside the message
    assert fields["event"] == "refresh_token_reuse" and fields["session_id"] == second["refresh_token"].split(".")[1]
    assert fields["client"] == "127.0.0.1"
    assert first["refresh_token"] not in caplog.text and second["refresh_token"] not in caplog.text
    after = client.post("/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.json["reason"] == "reused" and len(caplog.records) == 1
    assert client.post("/refresh", json={"refresh_token": "nope"}).json["reason"] == "unknown"


def test_change_password_ends_the_other_sessions(client):
    register(client)
    here, elsewhere = login(client).json, login(client).json
    body = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    assert client.post("/password", json=body, headers=bearer(here["access_token"])).status_code == 204
    assert client.post("/refresh", json={"refresh_token": here["refresh_token"]}).status_code == 200
    ended = client.post("/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert_error(ended, 400, "invalid_grant")
    assert ended.json["reason"] == "password_changed"
    assert_error(login(client), 401, "invalid_credentials")
    assert login(client, password="a brand new passphrase").status_code == 200


def test_change_password_can_keep_the_other_sessions(client):
    register(client)
    here, elsewhere = login(client).json, login(client).json
    body = {"current_password": PASSWORD, "new_password": "a brand new passphrase", "revoke_other_sessions": False}
    assert client.post("/password", json=body, headers=bearer(here["access_token"])).status_code == 204
    assert client.post("/refresh", json={"refresh_token": elsewhere["refresh_token"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({"current_password": "wrong password", "new_password": "a brand new passphrase"}, 401, "invalid_credentials"),
     ({"current_password": PASSWORD, "new_password": "short"}, 400, "invalid_request"),
     ({"current_password": PASSWORD}, 400, "invalid_request"),
     ({"current_password": PASSWORD, "new_password": "a brand new passphrase", "revoke_other_sessions": "no"},
      400, "invalid_request")],
)
def test_change_password_refusals_change_nothing(client, body, status, code):
    register(client)
    pair = login(client).json
    assert_error(client.post("/password", json=body, headers=bearer(pair["access_token"])), status, code)
    assert login(client).status_code == 200


def test_change_password_needs_a_token(client):
    response = client.post("/password", json={"current_password": PASSWORD, "new_password": "x" * 12})
    assert_error(response, 401, "invalid_token")


def test_guessing_the_current_password_is_throttled_like_a_login(client):
    register(client)
    pair = login(client).json
    body = {"current_password": "wrong password", "new_password": "a brand new passphrase"}
    answers = [client.post("/password", json=body, headers=bearer(pair["access_token"])) for _ in range(7)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert_error(answers[-1], 429, "rate_limited")
    right = client.post("/password", json={**body, "current_password": PASSWORD}, headers=bearer(pair["access_token"]))
    assert_error(right, 429, "rate_limited")


def test_deleting_a_session_takes_a_session_id_and_nothing_else(client):
    register(client)
    pair = login(client).json
    session_id = pair["refresh_token"].split(".")[1]
    client.application.extensions["auth"].sessions.rotate(pair["refresh_token"])  # a spent-token set exists
    for bad in (f"{session_id}:spent", session_id.upper(), "x" * 32, f"{session_id}%0a"):
        assert_error(client.delete(f"/sessions/{bad}", headers=bearer(pair["access_token"])), 404, "not_found")
    assert client.delete(f"/sessions/{session_id}", headers=bearer(pair["access_token"])).status_code == 204


def test_a_current_password_over_1024_bytes_is_wrong_without_hashing_it_whole(client, monkeypatch):
    register(client)
    pair = login(client).json
    hasher = client.application.extensions["auth"].accounts._hasher
    seen = []
    real_verify = hasher.verify
    monkeypatch.setattr(hasher, "verify", lambda pw, h: seen.append(len(pw)) or real_verify(pw, h))
    body = {"current_password": PASSWORD + "x" * 60_000, "new_password": "a brand new passphrase"}
    assert_error(client.post("/password", json=body, headers=bearer(pair["access_token"])), 401, "invalid_credentials")
    assert seen and max(seen) <= 1024
