"""Cookie mode (the contract's "Browser sessions"): the refresh token in an HttpOnly cookie.

Cookies are sent and read as raw headers, as a browser would, not through a cookie jar.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auth_service.cookies import COOKIE_NAME
from auth_service.tokens import parse_refresh_token

PASSWORD = "correct horse battery"
APP_ORIGIN = "http://localhost:8000"
OWN_ORIGIN = "http://127.0.0.1:8001"  # that of the default JWT_ISSUER
COOKIE = {"Session-Mode": "cookie"}


@pytest.fixture
def make_app(make_auth_app):
    def make(**env: str):
        return make_auth_app(ALLOWED_ORIGINS=APP_ORIGIN, **env)

    return make


@pytest.fixture
def client(make_app):
    return make_app().test_client(use_cookies=False)


def set_cookie(response) -> dict[str, str] | None:
    """The attributes of the response's one Set-Cookie for the refresh cookie (name and value under
    `value`), lower-cased names; None when it sets none."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME + "=")]
    if not headers:
        return None
    (header,) = headers
    first, *attributes = (part.strip() for part in header.split(";"))
    parsed = {"value": first.split("=", 1)[1]}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        parsed[name.lower()] = value
    return parsed


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


def register(client, email="ada@example.com"):
    assert client.post("/register", json={"email": email, "password": PASSWORD}).status_code == 201


def cookie_login(client, email="ada@example.com", **headers: str):
    return client.post("/login", json={"email": email, "password": PASSWORD}, headers={**COOKIE, **headers})


def cookie_refresh(client, token: str, **headers: str):
    return client.post("/refresh", headers={**COOKIE, **cookie_header(token), **headers})


def logged_in(client) -> str:
    """Register and log in in cookie mode; the refresh token the cookie got."""
    register(client)
    response = cookie_login(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    cookie = set_cookie(response)
    assert cookie is not None
    return cookie["value"]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == code and response.json["error_description"]


def assert_cleared(response) -> None:
    cookie = set_cookie(response)
    assert cookie is not None and cookie["value"] == "" and cookie["max-age"] == "0"


def test_login_sets_the_cookie_and_keeps_the_token_out_of_the_json(client):
    register(client)
    response = cookie_login(client, Origin=APP_ORIGIN)
    assert response.status_code == 200
    body = response.json
    assert "refresh_token" not in body
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_expires_in", "scope"}
    cookie = set_cookie(response)
    assert cookie is not None
    assert {"httponly", "secure", "path", "samesite", "max-age"} <= set(cookie)
    assert cookie["path"] == "/" and cookie["samesite"] == "Strict" and "domain" not in cookie
    assert cookie["max-age"] == str(body["refresh_expires_in"]) == "1209600"
    assert parse_refresh_token(cookie["value"]) is not None  # a refresh token
    assert cookie["value"] not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_refresh_takes_the_cookie_and_sets_the_successor(client):
    token = logged_in(client)
    response = cookie_refresh(client, token)
    assert response.status_code == 200
    assert "refresh_token" not in response.json and response.json["access_token"]
    successor = set_cookie(response)
    assert successor is not None and successor["value"] not in ("", token)
    assert successor["max-age"] == str(response.json["refresh_expires_in"])
    # The successor works; the spent token is still within the grace (same successor again).
    assert set_cookie(cookie_refresh(client, token))["value"] == successor["value"]  # type: ignore[index]
    assert cookie_refresh(client, successor["value"]).status_code == 200


def test_refresh_takes_no_body_or_an_empty_object(client):
    token = logged_in(client)
    response = client.post("/refresh", json={}, headers={**COOKIE, **cookie_header(token)})
    assert response.status_code == 200
    successor = set_cookie(response)["value"]  # type: ignore[index]
    response = client.post("/refresh", data="", headers={**COOKIE, **cookie_header(successor)})
    assert response.status_code == 200


def test_the_cookies_max_age_is_the_remaining_idle_life_renewed_at_each_rotation(make_app):
    client = make_app(REFRESH_TOKEN_TTL="60").test_client(use_cookies=False)
    token = logged_in(client)
    time.sleep(1.1)  # the store's clock has to move for the idle deadline to move
    response = cookie_refresh(client, token)
    assert set_cookie(response)["max-age"] == str(response.json["refresh_expires_in"])  # type: ignore[index]
    assert 59 <= response.json["refresh_expires_in"] <= 60


def test_the_idle_life_is_capped_by_the_sessions_absolute_end(make_app):
    client = make_app(REFRESH_TOKEN_TTL="60", SESSION_MAX_AGE="5").test_client(use_cookies=False)
    register(client)
    response = cookie_login(client)
    assert int(set_cookie(response)["max-age"]) == response.json["refresh_expires_in"] <= 60  # type: ignore[index]


def test_refresh_without_a_cookie_is_invalid_request(client):
    response = client.post("/refresh", headers=COOKIE)
    assert_error(response, 400, "invalid_request")
    assert set_cookie(response) is None


@pytest.mark.parametrize(
    "value",
    ["not-a-token", "", "a" * 4000, "0" * 32 + "." + "0" * 32 + "." + "A" * 43, "%00%ff", '"quoted"'],
)
def test_a_cookie_that_is_no_refresh_token_is_refused_and_cleared(client, value):
    token = logged_in(client)
    response = client.post("/refresh", headers={**COOKIE, "Cookie": f"{COOKIE_NAME}={value}"})
    assert_error(response, 400, "invalid_grant")
    assert response.json["reason"] == "unknown"
    assert_cleared(response)
    assert cookie_refresh(client, token).status_code == 200  # the real session is untouched


def test_two_refresh_cookies_are_refused_and_nothing_is_spent(client):
    token = logged_in(client)
    other = logged_in_again(client)
    for header in (f"{COOKIE_NAME}={token}; {COOKIE_NAME}={other}", f"{COOKIE_NAME}={token}; {COOKIE_NAME}={token}"):
        response = client.post("/refresh", headers={**COOKIE, "Cookie": header})
        assert_error(response, 400, "invalid_request")
        assert set_cookie(response) is None
        assert_error(client.post("/logout", headers={**COOKIE, "Cookie": header}), 400, "invalid_request")
    # Neither was spent nor revoked: each refreshes as the first use.
    for live in (token, other):
        response = cookie_refresh(client, live)
        assert response.status_code == 200
        assert cookie_refresh(client, set_cookie(response)["value"]).status_code == 200  # type: ignore[index]


def logged_in_again(client) -> str:
    response = cookie_login(client)
    return set_cookie(response)["value"]  # type: ignore[index]


def test_other_cookies_beside_it_are_ignored(client):
    token = logged_in(client)
    response = client.post("/refresh", headers={**COOKIE, "Cookie": f"theme=dark; {COOKIE_NAME}={token}; a=b"})
    assert response.status_code == 200


def test_a_huge_cookie_header_is_a_json_answer(client):
    token = logged_in(client)
    header = "; ".join(f"c{i}={'x' * 100}" for i in range(500)) + f"; {COOKIE_NAME}={token}"
    response = client.post("/refresh", headers={**COOKIE, "Cookie": header})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


def test_without_the_header_the_cookie_is_neither_read_set_nor_cleared(client):
    token = logged_in(client)
    # JSON mode: the cookie is ignored, the body is required.
    response = client.post("/refresh", headers=cookie_header(token))
    assert_error(response, 415, "unsupported_media_type")
    response = client.post("/refresh", json={}, headers=cookie_header(token))
    assert_error(response, 400, "invalid_request")
    assert set_cookie(response) is None
    response = client.post("/refresh", json={"refresh_token": "garbage"}, headers=cookie_header(token))
    assert_error(response, 400, "invalid_grant")
    assert set_cookie(response) is None
    response = client.post("/logout", json={"refresh_token": "garbage"}, headers=cookie_header(token))
    assert response.status_code == 204 and set_cookie(response) is None
    # A JSON-mode login answers the token in the body and sets no cookie.
    response = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200 and response.json["refresh_token"] and set_cookie(response) is None
    # The cookie's session was never touched.
    assert cookie_refresh(client, token).status_code == 200


def test_a_refused_refresh_clears_the_cookie_and_says_why(make_app):
    client = make_app(REFRESH_REUSE_GRACE="0").test_client(use_cookies=False)
    token = logged_in(client)
    successor = set_cookie(cookie_refresh(client, token))["value"]  # type: ignore[index]
    # The successor is used (a lost answer would leave it unused, and the old token would recover).
    latest = set_cookie(cookie_refresh(client, successor))["value"]  # type: ignore[index]
    reuse = cookie_refresh(client, token)
    assert_error(reuse, 400, "invalid_grant")
    assert reuse.json["reason"] == "reused"
    assert_cleared(reuse)
    # Reuse detection revoked the whole session: the latest token is refused too.
    after = cookie_refresh(client, latest)
    assert after.json["reason"] == "reused"
    assert_cleared(after)


def test_parallel_refreshes_with_one_cookie_get_the_same_successor(client):
    token = logged_in(client)
    first = set_cookie(cookie_refresh(client, token))
    second = set_cookie(cookie_refresh(client, token))
    assert first is not None and second is not None and first["value"] == second["value"]
    assert cookie_refresh(client, first["value"]).status_code == 200


def test_an_expired_session_is_refused_with_its_reason_and_cleared(make_app):
    client = make_app(REFRESH_TOKEN_TTL="1").test_client(use_cookies=False)
    token = logged_in(client)
    time.sleep(1.2)
    response = cookie_refresh(client, token)
    assert_error(response, 400, "invalid_grant")
    assert response.json["reason"] == "expired_idle"
    assert_cleared(response)


def test_logout_revokes_the_cookies_session_and_clears_it(client):
    token = logged_in(client)
    response = client.post("/logout", headers={**COOKIE, **cookie_header(token)})
    assert response.status_code == 204
    assert_cleared(response)
    refused = cookie_refresh(client, token)
    assert refused.json["reason"] == "revoked"
    # Idempotent, and without a cookie too.
    assert client.post("/logout", headers={**COOKIE, **cookie_header(token)}).status_code == 204
    response = client.post("/logout", headers=COOKIE)
    assert response.status_code == 204
    assert_cleared(response)


@pytest.mark.parametrize("origin", [APP_ORIGIN, OWN_ORIGIN, None])
def test_the_own_and_allowed_origins_and_none_may_use_cookie_mode(client, origin):
    token = logged_in(client)
    headers = {"Origin": origin} if origin else {}
    assert cookie_refresh(client, token, **headers).status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:8000", "http://localhost:8001", "https://localhost:8000", "http://evil.example", "null", ""],
)
def test_another_origin_gets_403_and_nothing_changes(client, redis_client, origin):
    token = logged_in(client)
    before = {key: redis_client.dump(key) for key in redis_client.scan_iter()}
    for path, extra in (("/login", {"json": {"email": "ada@example.com", "password": PASSWORD}}),
                        ("/refresh", {}), ("/logout", {})):
        response = client.post(path, headers={**COOKIE, **cookie_header(token), "Origin": origin}, **extra)
        assert_error(response, 403, "invalid_origin")
        assert set_cookie(response) is None
    after = {key: redis_client.dump(key) for key in redis_client.scan_iter()}
    assert after == before  # no session, no spent token, not even a rate-limit count
    assert cookie_refresh(client, token).status_code == 200


def test_a_session_mode_other_than_cookie_is_invalid_request(client):
    response = client.post("/refresh", headers={"Session-Mode": "bearer"})
    assert_error(response, 400, "invalid_request")


def test_token_endpoint_ignores_cookie_mode(client):
    token = logged_in(client)
    response = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           headers={**COOKIE, **cookie_header("garbage")})
    assert response.status_code == 200 and response.json["refresh_token"] and set_cookie(response) is None


def test_a_refresh_is_rate_limited_in_cookie_mode_without_spending_or_clearing(make_app):
    client = make_app(REFRESH_ADDRESS_LIMIT="2").test_client(use_cookies=False)
    token = logged_in(client)
    assert cookie_refresh(client, "garbage").status_code == 400
    assert cookie_refresh(client, "garbage").status_code == 400
    limited = cookie_refresh(client, token)
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] and set_cookie(limited) is None


def test_login_failures_in_cookie_mode_set_no_cookie(client):
    register(client)
    response = client.post("/login", json={"email": "ada@example.com", "password": "wrong password"}, headers=COOKIE)
    assert_error(response, 401, "invalid_credentials")
    assert set_cookie(response) is None


def test_cookie_mode_refreshes_are_counted_by_outcome(make_app):
    client = make_app(REFRESH_REUSE_GRACE="0").test_client(use_cookies=False)
    token = logged_in(client)
    successor = set_cookie(cookie_refresh(client, token))["value"]  # type: ignore[index]
    cookie_refresh(client, successor)
    cookie_refresh(client, token)  # reused: its successor was used
    cookie_refresh(client, "garbage")
    counts = {
        sample.labels.get("outcome"): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
        for sample in family.samples
        if sample.name == "auth_refreshes_total"
    }
    assert (counts["rotated"], counts["reused"], counts["unknown"]) == (2, 1, 1)


def test_the_token_never_reaches_the_log(make_app, caplog):
    client = make_app().test_client(use_cookies=False)
    caplog.set_level("DEBUG")
    token = logged_in(client)
    successor = set_cookie(cookie_refresh(client, token))["value"]  # type: ignore[index]
    client.post("/logout", headers={**COOKIE, **cookie_header(successor)})
    assert token not in caplog.text and successor not in caplog.text
