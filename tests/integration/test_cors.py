"""CORS on both services from ALLOWED_ORIGINS: preflights, answers, and nothing for other origins."""

from __future__ import annotations

import pytest

from resource_service import create_app as create_resource_app
from resource_service.config import ResourceConfig
from tests.conftest import write_public_key
from tests.e2e.conftest import REPO
from tests.jwt_forge import AUDIENCE, ISSUER, make_claims, sign

APP = "http://localhost:8000"
OTHER = "https://app.example.com"
ORIGINS = f"{APP},{OTHER}"
PASSWORD = "correct horse battery"


@pytest.fixture
def auth(make_auth_app):
    return make_auth_app(ALLOWED_ORIGINS=ORIGINS).test_client(use_cookies=False)


@pytest.fixture
def resource(redis_client, redis_server, tmp_path, rsa_private_key):
    key_file = write_public_key(rsa_private_key, tmp_path / "public.pem")
    app = create_resource_app(ResourceConfig.from_env({
        "REDIS_URL": redis_server.url, "JWT_PUBLIC_KEY_FILE": str(key_file), "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE, "ALLOWED_ORIGINS": ORIGINS,
    }))
    yield app.test_client()
    app.extensions["resource"].redis.close()


def preflight(client, path: str, origin: str = APP, method: str = "POST"):
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type,session-mode",
    })


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("Vary", "").split(",") if v.strip()}


@pytest.mark.parametrize(("path", "methods"), [
    ("/login", {"POST"}), ("/refresh", {"POST"}), ("/logout", {"POST"}), ("/logout/all", {"POST"}),
    ("/sessions", {"GET", "HEAD"}), ("/sessions/0123", {"DELETE"}),
])
def test_auth_preflights_from_a_listed_origin_allow_credentials_and_the_routes_methods(auth, path, methods):
    for origin in (APP, OTHER):
        response = preflight(auth, path, origin, method=sorted(methods)[0])
        assert response.status_code in (200, 204)
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == methods
        allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "content-type", "session-mode"} <= allowed
        assert "origin" in vary(response)


def test_auth_answers_to_a_listed_origin_carry_cors_and_credentials(auth):
    response = auth.post("/register", json={"email": "ada@example.com", "password": PASSWORD},
                         headers={"Origin": APP})
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in vary(response)
    # Errors too, so the page can read why; and it may read the challenge of a 401.
    response = auth.get("/sessions", headers={"Origin": APP})
    assert response.status_code == 401 and response.headers["Access-Control-Allow-Origin"] == APP
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", ["http://localhost:9999", "http://127.0.0.1:8000", "null", "https://app.example.com.evil.test",
                                    "HTTP://LOCALHOST:8000", "http://localhost:8000/"])
def test_an_unlisted_origin_gets_no_access_control_header_at_all(auth, resource, origin):
    for client, path in ((auth, "/login"), (resource, "/users")):
        response = preflight(client, path, origin, method="GET" if path == "/users" else "POST")
        assert cors_headers(response) == {}
        assert "origin" in vary(response)
        response = client.get("/healthz", headers={"Origin": origin})
        assert response.status_code == 200 and cors_headers(response) == {}
        assert "origin" in vary(response)


def test_every_answer_varies_on_origin_even_without_one(auth, resource):
    assert "origin" in vary(auth.get("/healthz"))
    assert "origin" in vary(resource.get("/healthz"))
    assert "origin" in vary(auth.get("/nowhere"))


def test_without_allowed_origins_no_origin_passes(make_auth_app):
    client = make_auth_app().test_client()
    response = preflight(client, "/login", APP)
    assert cors_headers(response) == {}


def test_resource_preflights_allow_the_routes_methods_without_credentials(resource):
    response = preflight(resource, "/users/abc", method="PATCH")
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "HEAD", "PATCH"}
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_resource_answers_to_a_listed_origin_carry_cors_never_a_wildcard(resource, rsa_private_key):
    token = sign(rsa_private_key, make_claims())
    response = resource.get("/me", headers={"Origin": APP, "Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in response.headers
    response = resource.get("/me", headers={"Origin": APP})
    assert response.status_code == 401 and response.headers["Access-Control-Allow-Origin"] == APP


def test_a_preflight_of_an_unknown_path_allows_nothing(auth):
    response = preflight(auth, "/nowhere")
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_preflight_changes_nothing_and_is_not_rate_limited(make_auth_app, redis_client):
    client = make_auth_app(ALLOWED_ORIGINS=APP, LOGIN_ADDRESS_LIMIT="1").test_client()
    for _ in range(5):
        assert preflight(client, "/login").status_code in (200, 204)
    assert list(redis_client.scan_iter()) == []


def test_a_plain_options_request_is_not_a_preflight(auth):
    response = auth.options("/login", headers={"Origin": APP})
    assert response.status_code == 200 and "POST" in response.headers["Allow"]


def test_the_auth_service_serves_the_js_client_to_allowed_pages(auth):
    response = auth.get("/js/session-client.js", headers={"Origin": APP})
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert b"export function createSessionClient" in response.data
    # A module script is fetched in CORS mode: only listed pages may import it cross-origin.
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.data == (REPO / "clients" / "js" / "session-client.js").read_bytes()


def test_vary_origin_joins_a_vary_the_view_set():
    """`Vary: Origin` is added to what the answer already varies on, never in its place."""
    from flask import Flask, Response

    from shared.cors import init_cors

    app = Flask(__name__)
    init_cors(app, (APP,), credentials=False)

    @app.get("/negotiated")
    def negotiated() -> Response:
        response = Response("ok")
        response.headers["Vary"] = "Accept-Encoding"
        return response

    @app.get("/plain")
    def plain() -> str:
        return "ok"

    client = app.test_client()
    assert vary(client.get("/negotiated", headers={"Origin": APP})) == {"accept-encoding", "origin"}
    assert vary(client.get("/negotiated")) == {"accept-encoding", "origin"}
    assert client.get("/plain").headers.getlist("Vary") == ["Origin"]
