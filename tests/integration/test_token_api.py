"""POST /token (RFC 6749) and the server metadata (RFC 8414), through Flask's test client over a real Redis."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest

from auth_service.clients import ClientStore
from shared import redis_keys
from shared.errors import InvalidScopeError
from tests.conftest import dump_redis

PASSWORD = "correct horse battery"
ISSUER = "https://auth.example.com"
AUDIENCE = "resource-service"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def app(make_auth_app):
    return make_auth_app(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def clients(redis_client) -> ClientStore:
    return ClientStore(redis_client)


@pytest.fixture
def resource(make_resource_app):
    """The resource service trusting the auth service's key, over the same Redis."""
    return make_resource_app(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE).test_client()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def token(client, data: dict[str, str], headers: dict[str, str] | None = None):
    return client.post("/token", data=data, headers=headers or {})


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == code and response.json["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def assert_invalid_client(response) -> None:
    assert_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="api"'


def claims_of(access_token: str, rsa_private_key) -> dict:
    return jwt.decode(access_token, rsa_private_key.public_key(), algorithms=["RS256"], audience=AUDIENCE,
                      issuer=ISSUER)


def register(client, email="alice@example.com"):
    assert client.post("/register", json={"email": email, "password": PASSWORD}).status_code == 201


# client_credentials


def test_client_credentials_by_basic_answer_an_access_token_of_the_client(client, clients, rsa_private_key):
    made, secret = clients.create("billing", "users:read")
    response = token(client, {"grant_type": "client_credentials"}, basic(made.client_id, secret))
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # no refresh token (§4.4.3)
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 900, "users:read")
    assert response.headers["Cache-Control"] == "no-store"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and header["kid"]
    claims = claims_of(body["access_token"], rsa_private_key)
    assert claims["sub"] == claims["client_id"] == made.client_id
    assert claims["scope"] == "users:read" and claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert "sid" not in claims and "email" not in claims


def test_client_credentials_by_form_fields(client, clients, rsa_private_key):
    made, secret = clients.create("billing", "users:read users:write")
    response = token(client, {"grant_type": "client_credentials", "client_id": made.client_id,
                              "client_secret": secret})
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "users:read users:write"
    assert claims_of(response.json["access_token"], rsa_private_key)["sub"] == made.client_id


def test_basic_credentials_are_form_decoded_first(client, clients):
    # RFC 6749 §2.3.1: id and secret are form-encoded, then base64; `-` and `_` encode as themselves,
    # and a client that encodes them anyway (%2D) must still get in.
    made, secret = clients.create("billing", "users:read")
    encoded = secret.replace("-", "%2D").replace("_", "%5F")
    response = token(client, {"grant_type": "client_credentials"}, basic(made.client_id.replace("-", "%2D"), encoded))
    assert response.status_code == 200, response.json


def test_wrong_secret_unknown_client_and_no_credentials_are_invalid_client(client, clients):
    made, secret = clients.create("billing", "users:read")
    grant = {"grant_type": "client_credentials"}
    assert_invalid_client(token(client, grant, basic(made.client_id, secret[:-1] + "x")))
    assert_invalid_client(token(client, {**grant, "client_id": made.client_id, "client_secret": "nope"}))
    assert_invalid_client(token(client, grant, basic("svc-" + "0" * 32, secret)))
    assert_invalid_client(token(client, grant, basic("user:{x}", secret)))
    assert_invalid_client(token(client, grant))
    assert_invalid_client(token(client, grant, basic(made.client_id, "")))
    assert_invalid_client(token(client, grant, {"Authorization": "Basic %%%not-base64"}))
    assert_invalid_client(token(client, grant, {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}))
    # A header byte beyond ASCII (werkzeug reads header bytes as Latin-1): no base64 either, never a 500.
    assert_invalid_client(token(client, grant, {"Authorization": "Basic \u00e9"}))


def test_a_revoked_client_is_refused(client, clients):
    made, secret = clients.create("billing", "users:read")
    assert token(client, {"grant_type": "client_credentials"}, basic(made.client_id, secret)).status_code == 200
    assert clients.revoke(made.client_id) is True
    assert clients.revoke(made.client_id) is False
    assert_invalid_client(token(client, {"grant_type": "client_credentials"}, basic(made.client_id, secret)))


def test_scope_narrows_and_cannot_widen(client, clients, rsa_private_key):
    made, secret = clients.create("reporting", "users:read users:write")
    auth = basic(made.client_id, secret)
    narrowed = token(client, {"grant_type": "client_credentials", "scope": "users:read"}, auth)
    assert narrowed.status_code == 200 and narrowed.json["scope"] == "users:read"
    assert claims_of(narrowed.json["access_token"], rsa_private_key)["scope"] == "users:read"

    reader, reader_secret = clients.create("reader", "users:read")
    reader_auth = basic(reader.client_id, reader_secret)
    assert_error(token(client, {"grant_type": "client_credentials", "scope": "users:write"}, reader_auth),
                 400, "invalid_scope")
    assert_error(token(client, {"grant_type": "client_credentials", "scope": "users:read admin"}, reader_auth),
                 400, "invalid_scope")


def test_clients_hold_known_scopes_only_and_redis_keeps_no_secret(clients, redis_client):
    for scope in ("", "admin", "users:read users:admin"):
        with pytest.raises(InvalidScopeError, match="scope"):
            clients.create("x", scope)
    made, secret = clients.create("billing", "users:write users:read")
    assert made.scope == "users:read users:write"
    assert secret.encode() not in dump_redis(redis_client)
    stored = redis_client.hget(redis_keys.client_key(made.client_id), "secret_hash")
    assert stored == hashlib.sha256(secret.encode()).hexdigest().encode()


# The protocol's refusals


@pytest.mark.parametrize(
    ("kwargs", "code", "says"),
    [
        ({}, "invalid_request", "form-encoded"),
        ({"json": {"grant_type": "password", "username": "a@example.com", "password": PASSWORD}},
         "invalid_request", "form-encoded"),
        ({"data": {"scope": "users:read"}}, "invalid_request", "grant_type is required"),
        ({"data": {"grant_type": ""}}, "invalid_request", "grant_type is required"),  # empty is absent (§3.2)
        ({"query_string": {"grant_type": "client_credentials"}, "data": {"scope": "users:read"}},
         "invalid_request", "grant_type is required"),  # parameters belong in the body
        ({"data": "grant_type=password&grant_type=client_credentials", "content_type": FORM},
         "invalid_request", "more than once"),
        ({"data": {"grant_type": "authorization_code", "code": "x"}}, "unsupported_grant_type", "client_credentials"),
        ({"data": {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}}, "unsupported_grant_type", ""),
        ({"data": {"grant_type": "password", "username": "a@example.com"}}, "invalid_request", "password is required"),
        ({"data": {"grant_type": "password", "password": PASSWORD}}, "invalid_request", "username is required"),
        ({"data": {"grant_type": "refresh_token"}}, "invalid_request", "refresh_token is required"),
    ],
)
def test_malformed_token_requests(client, kwargs, code, says):
    response = client.post("/token", **kwargs)
    assert_error(response, 400, code)
    assert says in response.json["error_description"]


def test_only_post(client):
    assert_error(client.get("/token"), 405, "method_not_allowed")


# password and refresh_token: /login and /refresh under their RFC names


def test_password_grant_answers_the_same_pair_as_login(client, rsa_private_key):
    register(client)
    response = token(client, {"grant_type": "password", "username": "Alice@Example.com", "password": PASSWORD})
    assert response.status_code == 200, response.json
    login = client.post("/login", json={"email": "alice@example.com", "password": PASSWORD})
    assert set(response.json) == set(login.json)
    assert response.json["scope"] == "users:read" and response.headers["Cache-Control"] == "no-store"
    claims = claims_of(response.json["access_token"], rsa_private_key)
    assert claims["email"] == "alice@example.com" and claims["sid"]
    sessions = client.get("/sessions", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert len(sessions.json["sessions"]) == 2  # one from /token, one from /login: one store


def test_wrong_password_is_invalid_grant_on_token_and_invalid_credentials_on_login(client):
    register(client)
    for username in ("alice@example.com", "nobody@example.com"):
        assert_error(token(client, {"grant_type": "password", "username": username, "password": "wrong password"}),
                     400, "invalid_grant")
    assert_error(client.post("/login", json={"email": "alice@example.com", "password": "wrong password"}),
                 401, "invalid_credentials")


def test_refresh_token_grant_shares_rotation_with_refresh(client):
    register(client)
    first = token(client, {"grant_type": "password", "username": "alice@example.com", "password": PASSWORD}).json
    rotated = token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["refresh_token"] != first["refresh_token"]
    # The same token again, now on /refresh, within the grace: the same successor, one session.
    again = client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.json["refresh_token"] == rotated.json["refresh_token"]
    assert_error(token(client, {"grant_type": "refresh_token", "refresh_token": "not-a-token"}), 400, "invalid_grant")


def test_user_grants_check_a_client_secret_when_one_is_sent(client, clients):
    register(client)
    made, secret = clients.create("web", "users:read")
    grant = {"grant_type": "password", "username": "alice@example.com", "password": PASSWORD}
    assert token(client, grant, basic(made.client_id, secret)).status_code == 200
    assert token(client, {**grant, "client_id": "public-app"}).status_code == 200  # a public client names itself
    assert token(client, grant, basic("public-app", "")).status_code == 200
    assert_invalid_client(token(client, grant, basic(made.client_id, "wrong")))
    assert_invalid_client(token(client, {**grant, "client_id": made.client_id, "client_secret": "wrong"}))
    assert_error(token(client, {**grant, "client_secret": secret}, basic(made.client_id, secret)),
                 400, "invalid_request")


# The resource service takes a client's token


def test_resource_service_accepts_a_client_token(client, clients, resource):
    register(client)
    reader, secret = clients.create("directory-sync", "users:read")
    access = token(client, {"grant_type": "client_credentials"}, basic(reader.client_id, secret)).json["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    me = resource.get("/me", headers=headers)
    assert me.status_code == 200
    assert me.json == {"id": reader.client_id, "email": None, "scope": "users:read"}
    users = resource.get("/users", headers=headers)
    assert users.status_code == 200 and [u["email"] for u in users.json["users"]] == ["alice@example.com"]
    user_id = users.json["users"][0]["id"]
    denied = resource.patch(f"/users/{user_id}", json={"name": "x"}, headers=headers)
    assert denied.status_code == 403 and denied.json["error"] == "insufficient_scope"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/sessions", None),
    ("DELETE", "/sessions/" + "f" * 32, None),
    ("POST", "/logout/all", None),
    ("POST", "/password", {"current_password": PASSWORD, "new_password": "another long password"}),
])
def test_the_account_endpoints_refuse_a_client_token(client, clients, method, path, body):
    # A service client has no sessions and no password; before, /sessions answered it 200 {"sessions": []}.
    made, secret = clients.create("billing", "users:read users:write")
    access = token(client, {"grant_type": "client_credentials"}, basic(made.client_id, secret)).json["access_token"]
    response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {access}"})
    assert_error(response, 403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert "client" in response.json["error_description"]


# RFC 8414 metadata


def test_metadata_describes_the_token_endpoint(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.json == {
        "issuer": ISSUER,
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
        "scopes_supported": ["users:read", "users:write", "introspect"],
        "response_types_supported": [],
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint": f"{ISSUER}/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": f"{ISSUER}/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "access_token_signing_alg_values_supported": ["RS256"],
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "RS256", "PS256"],
    }
    jwks = client.get("/.well-known/jwks.json").json
    assert {key["alg"] for key in jwks["keys"]} == {"RS256"}


def test_wrong_client_secrets_are_throttled_per_client_and_per_address(client, clients, app):
    """Issue 13.3: 40 wrong secrets in a row were 40 × 401, no 429."""
    made, secret = clients.create("billing", "users:read")
    grant = {"grant_type": "client_credentials"}
    statuses = [token(client, grant, basic(made.client_id, f"wrong-{i}")).status_code for i in range(40)]
    assert statuses[:5] == [401] * 5 and statuses.count(429) == 35  # LOGIN_FAILURES_BEFORE_DELAY, then locked
    limited = token(client, grant, basic(made.client_id, "wrong"))
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # The id's lock holds for addresses that never authenticated as it, the right secret included ...
    assert token(client, grant, basic(made.client_id, secret)).status_code == 429
    # ... and the address's own failures are counted across client ids: spraying ids gains nothing.
    other, other_secret = clients.create("other", "users:read")
    sprayed = [token(client, grant, basic(other.client_id, f"wrong-{i}"),
                     ).status_code for i in range(30)]
    assert sprayed.count(429) > 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'rate_limited_total{scope="client_auth_id"}' in metrics
    assert 'rate_limited_total{scope="client_auth"}' in metrics


def test_a_client_that_authenticated_from_its_address_is_not_locked_out_by_others(client, clients):
    made, secret = clients.create("billing", "users:read")
    grant = {"grant_type": "client_credentials"}
    service, attacker = {"REMOTE_ADDR": "198.51.100.20"}, {"REMOTE_ADDR": "203.0.113.66"}
    assert client.post("/token", data=grant, headers=basic(made.client_id, secret),
                       environ_base=service).status_code == 200
    for i in range(20):
        client.post("/token", data=grant, headers=basic(made.client_id, f"wrong-{i}"), environ_base=attacker)
    assert client.post("/token", data=grant, headers=basic(made.client_id, "wrong"),
                       environ_base=attacker).status_code == 429
    for _ in range(10):
        assert client.post("/token", data=grant, headers=basic(made.client_id, secret),
                           environ_base=service).status_code == 200
