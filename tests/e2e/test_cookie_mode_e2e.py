"""Cookie mode and CORS under gunicorn, over real HTTP: headers as a browser sees them, and the bad
input only a real server meets (a Cookie header past gunicorn's limits)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.conftest import Service, base_env

PASSWORD = "correct horse battery"
PAGE = "http://localhost:8000"
COOKIE = "__Host-refresh_token"
MODE = {"Session-Mode": "cookie"}


@pytest.fixture(scope="module")
def auth(redis_server, signing_key_file, tmp_path_factory) -> Iterator[Service]:
    """One auth service for the module: each test makes a user of its own."""
    env = {**base_env(redis_server.url, signing_key_file), "ALLOWED_ORIGINS": PAGE}
    service = Service("auth_service", env, tmp_path_factory.mktemp("cookie-e2e") / "auth.log")
    try:
        yield service.start()
    finally:
        service.stop()


def cookie_login(auth: Service) -> tuple[requests.Response, str]:
    email = f"cookie-{uuid.uuid4().hex[:12]}@example.com"
    assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD},
                         timeout=5).status_code == 201
    response = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD},
                             headers={**MODE, "Origin": PAGE}, timeout=5)
    assert response.status_code == 200
    return response, response.cookies[COOKIE]


def refresh(auth: Service, cookie_header: str, **headers: str) -> requests.Response:
    return requests.post(f"{auth.url}/refresh", headers={**MODE, "Cookie": cookie_header, **headers}, timeout=5)


def test_the_set_cookie_header_on_the_wire(auth):
    response, token = cookie_login(auth)
    (header,) = response.raw.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert header.startswith(f"{COOKIE}={token};")
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes and "domain" not in attributes
    assert "SameSite=Strict" in header and "Path=/" in header
    assert f"Max-Age={response.json()['refresh_expires_in']}" in header
    assert token not in response.text
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_a_preflight_through_gunicorn(auth):
    response = requests.options(f"{auth.url}/refresh", timeout=5, headers={
        "Origin": PAGE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "session-mode"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Session-Mode" in response.headers["Access-Control-Allow-Headers"]
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("size", [9_000, 70_000])
def test_a_huge_cookie_header_is_a_json_4xx_and_spends_nothing(auth, size):
    _, token = cookie_login(auth)
    response = refresh(auth, f"padding={'x' * size}; {COOKIE}={token}")
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert refresh(auth, f"{COOKIE}={token}").status_code == 200  # the first use: nothing was spent


def test_many_cookies_within_the_limits_still_work(auth):
    _, token = cookie_login(auth)
    header = "; ".join(f"c{i}=v" for i in range(300)) + f"; {COOKIE}={token}"
    assert refresh(auth, header).status_code == 200


def test_origin_null_and_two_cookies_are_clear_4xx(auth):
    _, token = cookie_login(auth)
    response = refresh(auth, f"{COOKIE}={token}", Origin="null")
    assert response.status_code == 403 and response.json()["error"] == "invalid_origin"
    assert COOKIE not in response.headers.get("Set-Cookie", "")
    response = refresh(auth, f"{COOKIE}={token}; {COOKIE}={token}")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert refresh(auth, f"{COOKIE}={token}").status_code == 200


def test_the_js_client_is_served(auth):
    response = requests.get(f"{auth.url}/js/session-client.js", headers={"Origin": PAGE}, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
