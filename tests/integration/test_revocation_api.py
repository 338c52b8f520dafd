"""POST /revoke (RFC 7009), POST /introspect (RFC 7662) and what every session end publishes,
through Flask's test client over a real Redis."""

from __future__ import annotations

import base64
import time

import pytest

from auth_service.clients import ClientStore
from shared import redis_keys
from shared.revocation import DenyList, parse_entry

PASSWORD = "correct horse battery"


@pytest.fixture
def app(make_auth_app):
    return make_auth_app()


@pytest.fixture
def client(app):
    return app.test_client()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture
def introspector(redis_client) -> dict[str, str]:
    service, secret = ClientStore(redis_client).create("gateway", "introspect")
    return basic(service.client_id, secret)


def log_in(client, email: str = "ada@example.com") -> dict[str, str]:
    client.post("/register", json={"email": email, "password": PASSWORD})
    response = client.post("/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    return response.json


def introspect(client, headers: dict[str, str], token: str):
    return client.post("/introspect", data={"token": token}, headers=headers)


def published(redis_client) -> list:
    """The revocations in the stream, oldest first."""
    return [parse_entry(i, f) for i, f in redis_client.xrange(redis_keys.revocations_key())]


def refused_by_push(redis_client, access_token_claims: dict) -> bool:
    deny = DenyList(leeway=30)
    for revocation in published(redis_client):
        deny.add(revocation)
    return deny.denies(access_token_claims)


def claims_of(client, headers, token):
    answer = introspect(client, headers, token).json
    assert answer["active"] is True
    return answer


def test_introspection_says_active_for_a_live_session(client, introspector) -> None:
    pair = log_in(client)
    answer = introspect(client, introspector, pair["access_token"])
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert body["active"] is True and body["token_type"] == "Bearer" and body["scope"] == "users:read"
    assert {"sub", "exp", "iat", "sid"} <= set(body)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 9000])
def test_introspection_of_no_token_of_ours_is_inactive(client, introspector, token: str) -> None:
    if not token:
        assert introspect(client, introspector, token).status_code == 400
        return
    response = introspect(client, introspector, token)
    assert response.status_code == 200 and response.json == {"active": False}


def test_introspection_needs_a_client_with_the_scope(client, redis_client, introspector) -> None:
    token = log_in(client)["access_token"]
    assert client.post("/introspect", data={"token": token}).status_code == 401
    assert client.post("/introspect", data={"token": token}, headers={"Authorization": f"Bearer {token}"}
                       ).json["error"] == "invalid_client"
    wrong = {"Authorization": introspector["Authorization"][:-4] + "AAA="}
    assert client.post("/introspect", data={"token": token}, headers=wrong).status_code == 401
    reader, secret = ClientStore(redis_client).create("reader", "users:read")
    refused = client.post("/introspect", data={"token": token}, headers=basic(reader.client_id, secret))
    assert refused.status_code == 403 and refused.json["error"] == "insufficient_scope"


@pytest.mark.parametrize("ending", ["logout", "logout_all", "delete", "revoke_refresh", "revoke_access",
                                    "password", "reuse"])
def test_every_way_a_session_ends_makes_its_token_inactive_and_is_pushed(
    make_auth_app, redis_client, introspector, ending: str
) -> None:
    client = make_auth_app(REFRESH_REUSE_GRACE="0").test_client()
    pair = log_in(client)
    token, refresh = pair["access_token"], pair["refresh_token"]
    claims = claims_of(client, introspector, token)
    bearer = {"Authorization": f"Bearer {token}"}
    if ending == "logout":
        assert client.post("/logout", json={"refresh_token": refresh}).status_code == 204
    elif ending == "logout_all":
        assert client.post("/logout/all", headers=bearer).status_code == 204
    elif ending == "delete":
        assert client.delete(f"/sessions/{claims['sid']}", headers=bearer).status_code == 204
    elif ending == "revoke_refresh":
        assert client.post("/revoke", data={"token": refresh, "token_type_hint": "refresh_token"}).status_code == 200
    elif ending == "revoke_access":
        assert client.post("/revoke", data={"token": token}, headers=bearer).status_code == 200
    elif ending == "password":
        other = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
        assert client.post("/password", headers={"Authorization": f"Bearer {other['access_token']}"},
                           json={"current_password": PASSWORD, "new_password": "a new passphrase"}).status_code == 204
        # The session that made the change goes on.
        assert introspect(client, introspector, other["access_token"]).json["active"] is True
        assert not refused_by_push(redis_client, claims_of(client, introspector, other["access_token"]))
    elif ending == "reuse":  # the successor was used, then the spent token came back
        successor = client.post("/refresh", json={"refresh_token": refresh}).json["refresh_token"]
        assert client.post("/refresh", json={"refresh_token": successor}).status_code == 200
        assert client.post("/refresh", json={"refresh_token": refresh}).json["reason"] == "reused"
    assert introspect(client, introspector, token).json == {"active": False}
    assert refused_by_push(redis_client, claims)


def test_revoking_an_unknown_or_spent_token_is_200(client) -> None:
    pair = log_in(client)
    for _ in range(2):  # the second time the session is already gone
        assert client.post("/revoke", data={"token": pair["refresh_token"]}).status_code == 200
    assert client.post("/revoke", data={"token": "no token of ours"}).status_code == 200
    assert client.post("/revoke", data={"token": "a" * 32 + "." + "b" * 32 + "." + "c" * 43}).status_code == 200
    assert client.post("/revoke", data={}).json["error"] == "invalid_request"
    assert client.post("/revoke", json={"token": "x"}).json["error"] == "invalid_request"  # not a form


def test_an_access_token_is_revoked_by_its_bearer_or_a_service_client(client, redis_client, introspector) -> None:
    ada, bob = log_in(client), log_in(client, "bob@example.com")
    # Neither without authentication nor with someone else's token; nothing ends.
    assert client.post("/revoke", data={"token": ada["access_token"]}).json["error"] == "invalid_client"
    assert client.post("/revoke", data={"token": ada["access_token"]},
                       headers={"Authorization": f"Bearer {bob['access_token']}"}).status_code == 401
    assert introspect(client, introspector, ada["access_token"]).json["active"] is True
    reader, secret = ClientStore(redis_client).create("reader", "users:read")
    assert client.post("/revoke", data={"token": ada["access_token"]},
                       headers=basic(reader.client_id, secret)).status_code == 200
    assert introspect(client, introspector, ada["access_token"]).json == {"active": False}
    # The refresh token of that session is dead too: revoking either kind ends the session.
    assert client.post("/refresh", json={"refresh_token": ada["refresh_token"]}).json["reason"] == "revoked"
    assert introspect(client, introspector, bob["access_token"]).json["active"] is True


def test_a_wrong_client_secret_is_refused_even_for_a_refresh_token(client, redis_client) -> None:
    pair = log_in(client)
    reader, _ = ClientStore(redis_client).create("reader", "users:read")
    response = client.post("/revoke", data={"token": pair["refresh_token"]}, headers=basic(reader.client_id, "wrong"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    assert client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200


def test_a_client_token_is_active_until_its_client_is_revoked(client, redis_client, introspector) -> None:
    store = ClientStore(redis_client)
    service, secret = store.create("billing", "users:read")
    token = client.post("/token", data={"grant_type": "client_credentials"},
                        headers=basic(service.client_id, secret)).json["access_token"]
    answer = introspect(client, introspector, token).json
    assert answer["active"] is True and answer["client_id"] == service.client_id and "sid" not in answer
    store.revoke(service.client_id)
    assert introspect(client, introspector, token).json == {"active": False}


def test_a_logout_all_cutoff_spares_a_new_login(client, redis_client, introspector) -> None:
    pair = log_in(client)
    client.post("/logout/all", headers={"Authorization": f"Bearer {pair['access_token']}"})
    fresh = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
    assert not refused_by_push(redis_client, claims_of(client, introspector, fresh["access_token"]))
    [revocation] = published(redis_client)
    assert revocation.user_id and revocation.not_before <= time.time()


def test_a_token_that_ends_nothing_publishes_nothing(client, redis_client) -> None:
    # Anyone can send well-formed refresh tokens: only a session that really ended is pushed,
    # so no stranger can fill the resource services' deny lists.
    for _ in range(3):
        client.post("/revoke", data={"token": "a" * 32 + "." + "b" * 32 + "." + "c" * 43})
        client.post("/logout", json={"refresh_token": "a" * 32 + "." + "b" * 32 + "." + "c" * 43})
    assert published(redis_client) == []


def test_the_metadata_lists_both_endpoints(client) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["revocation_endpoint"].endswith("/revoke")
    assert metadata["introspection_endpoint"].endswith("/introspect")


def test_a_password_reset_by_email_link_is_pushed(make_auth_app, redis_client, introspector) -> None:
    from auth_service.recovery import EmailTokenStore

    client = make_auth_app(EMAIL="on", SMTP_URL="smtp://127.0.0.1:1", MAIL_FROM="auth@example.test",
                           PUBLIC_URL="http://app.example.test").test_client()
    pair = log_in(client)
    claims = claims_of(client, introspector, pair["access_token"])
    link_token = EmailTokenStore(redis_client, reset_ttl=60, verify_ttl=60).issue("reset", claims["sub"])
    assert client.post("/password/reset", json={"token": link_token, "password": "a new passphrase"}).status_code == 204
    assert introspect(client, introspector, pair["access_token"]).json == {"active": False}
    assert refused_by_push(redis_client, claims)


def test_introspection_secrets_are_throttled_like_tokens(make_auth_app, redis_client) -> None:
    client = make_auth_app(LOGIN_FAILURES_BEFORE_DELAY="3", LOGIN_DELAY="60").test_client()
    service, secret = ClientStore(redis_client).create("gateway", "introspect")
    statuses = [client.post("/introspect", data={"token": "x"}, headers=basic(service.client_id, "wrong")).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = client.post("/introspect", data={"token": "x"}, headers=basic(service.client_id, secret))
    assert limited.status_code == 429 and limited.json["error"] == "rate_limited"  # the client id is locked


def test_a_session_evicted_by_a_newer_login_is_pushed(make_auth_app, redis_client, introspector) -> None:
    client = make_auth_app(MAX_SESSIONS_PER_USER="2").test_client()
    oldest = log_in(client)
    claims = claims_of(client, introspector, oldest["access_token"])
    second = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
    assert published(redis_client) == []  # room for two: nothing ended
    third = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
    assert introspect(client, introspector, oldest["access_token"]).json == {"active": False}
    [revocation] = published(redis_client)
    assert revocation.sids == (claims["sid"],) and refused_by_push(redis_client, claims)
    for pair in (second, third):
        assert not refused_by_push(redis_client, claims_of(client, introspector, pair["access_token"]))
