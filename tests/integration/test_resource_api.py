"""The resource service's HTTP contract, through Flask's test client over a real Redis."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis

from shared import directory, redis_keys
from tests.conftest import RedisServer
from tests.jwt_forge import make_claims, sign

PUBLIC_FIELDS = {"id", "email", "name", "created_at"}
BASE_MS = 1_780_000_000_000


@pytest.fixture
def client(make_resource_app):
    return make_resource_app().test_client()


@pytest.fixture
def auth(rsa_private_key):
    """`auth(user_id, scope)`: an Authorization header with a token for that user."""
    def headers(user_id: str = "0" * 32, scope: str = "users:read", **claims) -> dict[str, str]:
        token = sign(rsa_private_key, make_claims(sub=user_id, scope=scope, **claims))
        return {"Authorization": f"Bearer {token}"}
    return headers


def add_user(client: redis.Redis, created_ms: int, name: str = "", role: str = "user") -> str:
    """Write an account the way the auth service does: the sign-in record, the profile, the index member."""
    user_id = uuid.uuid4().hex
    email = f"{user_id[:8]}@example.com"
    client.hset(redis_keys.user_key(user_id), mapping={
        "id": user_id, "email": email, "role": role,
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
    })
    client.hset(directory.profiles_key(), user_id, directory.profile_json({
        "id": user_id, "email": email, "name": name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created_ms // 1000)),
    }))
    client.zadd(directory.users_index_key(), {directory.index_member(created_ms, user_id): 0})
    return user_id


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == code
    assert response.json["error_description"]


def walk(client, headers, limit: int, between_pages=None) -> list[str]:
    """The ids of every page of /users, in order."""
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/users", query_string=query, headers=headers)
        assert response.status_code == 200, response.json
        assert len(response.json["users"]) <= limit
        for user in response.json["users"]:
            assert set(user) == PUBLIC_FIELDS
        ids += [user["id"] for user in response.json["users"]]
        cursor = response.json["next_cursor"]
        pages += 1
        if cursor is None:
            return ids
        if between_pages:
            between_pages(pages)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_list_users_shows_public_fields_in_registration_order(client, redis_client, auth):
    ids = [add_user(redis_client, BASE_MS + n, name=f"user {n}") for n in range(3)]
    response = client.get("/users", headers=auth())
    assert response.status_code == 200
    assert response.json["next_cursor"] is None
    assert [u["id"] for u in response.json["users"]] == ids
    assert response.json["users"][0] == {
        "id": ids[0], "email": f"{ids[0][:8]}@example.com", "name": "user 0",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_MS // 1000)),
    }
    assert "password_hash" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_empty_directory(client, redis_client, auth):
    response = client.get("/users", headers=auth())
    assert response.json == {"users": [], "next_cursor": None}


@pytest.mark.parametrize("count,limit", [(25, 10), (20, 10), (10, 10), (9, 10), (1, 1), (7, 1)])
def test_pagination_visits_every_user_once(client, redis_client, auth, count, limit):
    ids = [add_user(redis_client, BASE_MS + n) for n in range(count)]
    assert walk(client, auth(), limit) == ids


def test_users_registering_between_pages_are_seen_once(client, redis_client, auth):
    ids = [add_user(redis_client, BASE_MS + 10 * n) for n in range(25)]
    late: list[str] = []

    def register_more(page: int) -> None:
        # Later registrations, one sharing its millisecond with an existing user.
        late.append(add_user(redis_client, BASE_MS + 1000 + page))
        late.append(add_user(redis_client, BASE_MS + 10 * 24))

    seen = walk(client, auth(), 10, register_more)
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)
    assert set(seen) <= set(ids) | set(late)
    # Everything registered after the page that holds its place in the order is seen.
    assert late[::2] == [i for i in seen if i in late[::2]]


def test_default_and_maximum_page_sizes(client, redis_client, auth):
    for n in range(205):
        add_user(redis_client, BASE_MS + n)
    response = client.get("/users", headers=auth())
    assert len(response.json["users"]) == 50 and response.json["next_cursor"]
    response = client.get("/users?limit=200", headers=auth())
    assert len(response.json["users"]) == 200 and response.json["next_cursor"]
    response = client.get("/users?limit=200&cursor=" + response.json["next_cursor"], headers=auth())
    assert len(response.json["users"]) == 5 and response.json["next_cursor"] is None


def test_a_user_deleted_between_pages_is_skipped(client, redis_client, auth):
    ids = [add_user(redis_client, BASE_MS + n) for n in range(5)]
    redis_client.hdel(directory.profiles_key(), ids[1])
    response = client.get("/users", headers=auth())
    assert [u["id"] for u in response.json["users"]] == [ids[0], *ids[2:]]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "", "1.5", "1e2", " 5", "٣", "+5"])
def test_bad_limit_is_400(client, redis_client, auth, limit):
    assert_error(client.get("/users", query_string={"limit": limit}, headers=auth()), 400,
                 "invalid_request")


@pytest.mark.parametrize("cursor", [
    "", "abc", "-", "+", "[", "(", "0" * 13, "0" * 13 + ":", "0" * 12 + ":" + "a" * 32,
    "0" * 13 + ":" + "A" * 32, "0" * 13 + ":" + "a" * 33, "(" + "0" * 13 + ":" + "a" * 32,
    "0" * 13 + ":" + "a" * 32 + "\n", "\xff" * 10,
])
def test_bad_cursor_is_400(client, redis_client, auth, cursor):
    assert_error(client.get("/users", query_string={"cursor": cursor}, headers=auth()), 400,
                 "invalid_request")


def test_listing_needs_users_read(client, redis_client, auth):
    response = client.get("/users", headers=auth(scope="profile"))
    assert_error(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="users:read"' in response.headers["WWW-Authenticate"]
    assert_error(client.get("/users/" + "a" * 32, headers=auth(scope="")), 403, "insufficient_scope")
    assert_error(client.get("/users"), 401, "invalid_token")


def test_get_one_user(client, redis_client, auth):
    user_id = add_user(redis_client, BASE_MS, name="Ann")
    response = client.get(f"/users/{user_id}", headers=auth())
    assert response.status_code == 200
    assert set(response.json) == PUBLIC_FIELDS and response.json["name"] == "Ann"


@pytest.mark.parametrize("user_id", ["a" * 32, "nope", "A" * 32, "a" * 33, "{x}", "%00"])
def test_unknown_user_is_404(client, redis_client, auth, user_id):
    assert_error(client.get(f"/users/{user_id}", headers=auth()), 404, "not_found")


def test_me_comes_from_the_token(client, redis_client, auth):
    response = client.get("/me", headers=auth("c" * 32, "users:read users:write", email="c@x.org"))
    assert response.status_code == 200
    assert response.json == {"id": "c" * 32, "email": "c@x.org", "scope": "users:read users:write"}


def test_patch_own_name(client, redis_client, auth):
    user_id = add_user(redis_client, BASE_MS, name="Old")
    response = client.patch(f"/users/{user_id}", json={"name": "  New Name  "},
                            headers=auth(user_id))
    assert response.status_code == 200, response.json
    assert response.json["name"] == "New Name" and set(response.json) == PUBLIC_FIELDS
    assert json.loads(redis_client.hget(directory.profiles_key(), user_id))["name"] == "New Name"
    record = redis_client.hgetall(redis_keys.user_key(user_id))
    assert record[b"password_hash"].startswith(b"$argon2id$") and record[b"role"] == b"user"
    assert client.get(f"/users/{user_id}", headers=auth()).json["name"] == "New Name"


def test_patch_someone_else_without_write_is_403(client, redis_client, auth):
    me = add_user(redis_client, BASE_MS)
    other = add_user(redis_client, BASE_MS + 1, name="Other")
    for target in (other, "f" * 32, "bad-id"):
        response = client.patch(f"/users/{target}", json={"name": "x"}, headers=auth(me))
        assert_error(response, 403, "insufficient_scope")
        challenge = response.headers["WWW-Authenticate"]
        assert challenge == 'Bearer error="insufficient_scope", scope="users:write"'
    assert json.loads(redis_client.hget(directory.profiles_key(), other))["name"] == "Other"


def test_admin_patches_anyone(client, redis_client, auth):
    admin = add_user(redis_client, BASE_MS, role="admin")
    other = add_user(redis_client, BASE_MS + 1, name="Other")
    response = client.patch(f"/users/{other}", json={"name": "Renamed"},
                            headers=auth(admin, "users:read users:write"))
    assert response.status_code == 200 and response.json["name"] == "Renamed"


def test_patch_unknown_id_is_404_and_creates_nothing(client, redis_client, auth):
    unknown = uuid.uuid4().hex
    admin = auth("a" * 32, "users:read users:write")
    assert_error(client.patch(f"/users/{unknown}", json={"name": "x"}, headers=admin), 404,
                 "not_found")
    assert_error(client.patch(f"/users/{unknown}", json={"name": "x"}, headers=auth(unknown)), 404,
                 "not_found")
    assert_error(client.patch("/users/not-an-id", json={"name": "x"}, headers=admin), 404,
                 "not_found")
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("body", [
    {"name": "x", "email": "evil@example.com"}, {"name": "x", "role": "admin"},
    {"role": "admin"}, {}, {"name": None}, {"name": 5}, {"name": ["x"]}, {"name": "x" * 201},
    {"name": "bad\x00name"}, {"name": "tab\tname"}, ["name"], "name", 5, True,
])
def test_patch_bad_body_is_400(client, redis_client, auth, body):
    user_id = add_user(redis_client, BASE_MS, name="Kept")
    response = client.patch(f"/users/{user_id}", json=body, headers=auth(user_id))
    assert_error(response, 400, "invalid_request")
    assert json.loads(redis_client.hget(directory.profiles_key(), user_id))["name"] == "Kept"
    assert redis_client.hget(redis_keys.user_key(user_id), "role") == b"user"


def test_patch_needs_json(client, redis_client, auth):
    user_id = add_user(redis_client, BASE_MS)
    headers = auth(user_id)
    assert_error(client.patch(f"/users/{user_id}", data='{"name": "x"}', headers=headers), 415,
                 "unsupported_media_type")
    assert_error(client.patch(f"/users/{user_id}", data="name=x", headers=headers,
                              content_type="application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")
    assert_error(client.patch(f"/users/{user_id}", data='{"name": ', headers=headers,
                              content_type="application/json"), 400, "invalid_request")
    for bad in (b"\xff\xfe", b"null", b"", b'{"name": "x"} trailing'):
        assert_error(client.patch(f"/users/{user_id}", data=bad, headers=headers,
                                  content_type="application/json"), 400, "invalid_request")
    too_big = '{"name": "' + "x" * 70_000 + '"}'
    assert_error(client.patch(f"/users/{user_id}", data=too_big, headers=headers,
                              content_type="application/json"), 413, "request_too_large")


def test_patch_checks_the_token_first(client, redis_client):
    user_id = add_user(redis_client, BASE_MS)
    assert_error(client.patch(f"/users/{user_id}", data="x"), 401, "invalid_token")


def test_unknown_routes_and_methods_are_json(client, redis_client, auth):
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.delete("/users/" + "a" * 32, headers=auth())
    assert_error(response, 405, "method_not_allowed")
    assert "PATCH" in response.headers["Allow"]
    assert_error(client.post("/me", headers=auth()), 405, "method_not_allowed")


def test_users_registered_by_the_auth_service_are_listed(client, redis_client, auth, clock):
    from auth_service.accounts import AccountStore
    from auth_service.config import HashingConfig
    from auth_service.passwords import PasswordHasher

    # The clock moves between the two: within one millisecond, the index would order them by id.
    store = AccountStore(redis_client, PasswordHasher(HashingConfig(8, 1, 1)), now=clock)
    first = store.register("First@Example.com", "correct horse battery", "First")
    clock.now += 1
    second = store.register("second@example.com", "correct horse battery")
    response = client.get("/users?limit=1", headers=auth())
    assert response.json["users"] == [first]
    cursor = response.json["next_cursor"]
    response = client.get(f"/users?limit=1&cursor={cursor}", headers=auth())
    assert response.json == {"users": [second], "next_cursor": None}
    response = client.patch(f"/users/{second['id']}", json={"name": "Second"},
                            headers=auth(second["id"]))
    assert response.json == {**second, "name": "Second"}
    assert store.get(second["id"])["password_hash"].startswith("$argon2id$")


def test_redis_outage_is_503_while_tokens_still_work(tmp_path, make_resource_app, auth, rsa_private_key,
                                                      other_rsa_private_key):
    server = RedisServer(tmp_path / "redis-outage")
    server.start()
    try:
        app = make_resource_app(REDIS_URL=server.url)
        client = app.test_client()
        store = redis.Redis.from_url(server.url)
        user_id = add_user(store, BASE_MS, name="Before")
        store.close()
        assert client.get("/users", headers=auth()).status_code == 200
        server.stop()

        started = time.monotonic()
        for path in ("/users", f"/users/{user_id}"):
            response = client.get(path, headers=auth())
            assert_error(response, 503, "temporarily_unavailable")
        response = client.patch(f"/users/{user_id}", json={"name": "x"}, headers=auth(user_id))
        assert_error(response, 503, "temporarily_unavailable")
        assert time.monotonic() - started < 5
        assert client.get("/me", headers=auth(user_id)).status_code == 200
        forged = sign(other_rsa_private_key, make_claims(), headers={"kid": None})
        response = client.get("/users", headers={"Authorization": f"Bearer {forged}"})
        assert_error(response, 401, "invalid_token")
        assert_error(client.get("/me", headers={"Authorization": f"Bearer {forged}"}), 401,
                     "invalid_token")

        server.start()  # the same port, an empty database
        store = redis.Redis.from_url(server.url)
        user_id = add_user(store, BASE_MS, name="After")
        store.close()
        response = client.get("/users", headers=auth())
        assert response.status_code == 200 and [u["name"] for u in response.json["users"]] == ["After"]
        # The rename script is gone from the restarted server's cache; redis-py loads it again.
        response = client.patch(f"/users/{user_id}", json={"name": "Renamed"}, headers=auth(user_id))
        assert response.status_code == 200 and response.json["name"] == "Renamed"
    finally:
        server.stop()
