"""Request ids, the per-request log line and /metrics of both services, through Flask's test client."""

from __future__ import annotations

import json
import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

import resource_service
from resource_service.config import ResourceConfig
from shared import metrics
from shared.logs import JsonFormatter
from tests.conftest import write_public_key
from tests.jwt_forge import AUDIENCE, ISSUER, make_claims, sign

PASSWORD = "correct horse battery"


@pytest.fixture
def client(make_auth_app):
    return make_auth_app().test_client()


@pytest.fixture
def access_lines(caplog):
    """`access_lines()`: the JSON objects the access log wrote so far."""
    caplog.set_level(logging.INFO, logger="access")
    formatter = JsonFormatter("test")
    return lambda: [json.loads(formatter.format(r)) for r in caplog.records if r.name == "access"]


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def value(scraped, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def register_and_login(client, email="ada@example.com"):
    user = client.post("/register", json={"email": email, "password": PASSWORD}).json
    pair = client.post("/login", json={"email": email, "password": PASSWORD}).json
    return user, pair


@pytest.mark.parametrize("given", ["abc-123", "Root=1-5759e988-bd862e3f", "a" * 128, "b64+/=_.:"])
def test_a_sane_request_id_is_echoed(client, given):
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "a" * 129, "two words", 'quote"d', "caf\u00e9", "semi;colon", "<script>"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, given):
    headers = {"X-Request-ID": given} if given else {}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("GET", "/sessions"), ("PUT", "/login")])
def test_error_answers_carry_the_request_id_too(client, method, path):
    response = client.open(path, method=method, headers={"X-Request-ID": "err-1"})
    assert response.status_code >= 400 and response.headers["X-Request-ID"] == "err-1"


def test_each_request_logs_one_line_with_its_user_and_never_a_secret(client, caplog, access_lines):
    caplog.set_level(logging.DEBUG)
    user, pair = register_and_login(client)
    refreshed = client.post("/refresh", json={"refresh_token": pair["refresh_token"]},
                            headers={"X-Request-ID": "refresh-1"})
    bearer = {"Authorization": f"Bearer {refreshed.json['access_token']}"}
    # A token in a query string (no endpoint takes one) must not reach the log either.
    client.get(f"/sessions?access_token={pair['access_token']}", headers=bearer)
    client.post("/login", json={"email": "ada@example.com", "password": "wrong horse battery"})
    lines = access_lines()
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/register", 201), ("POST", "/login", 200), ("POST", "/refresh", 200),
        ("GET", "/sessions", 200), ("POST", "/login", 401),
    ]
    assert [line["user_id"] for line in lines] == [None, user["id"], user["id"], user["id"], None]
    assert lines[2]["request_id"] == "refresh-1" and lines[2]["route"] == "/refresh"
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in lines)
    assert len({line["request_id"] for line in lines}) == len(lines)
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in (PASSWORD, "wrong horse battery", pair["refresh_token"], pair["access_token"],
                   refreshed.json["refresh_token"], refreshed.json["access_token"], "Bearer"):
        assert secret not in everything


def test_metrics_count_requests_by_route_template_and_logins_by_result(client):
    register_and_login(client)
    client.post("/login", json={"email": "ada@example.com", "password": "wrong horse battery"})
    client.post("/login", json={"email": "nobody@example.com", "password": "wrong horse battery"})
    client.post("/login", json={"email": 7, "password": PASSWORD})  # malformed: no login attempt
    for session_id in ("a" * 32, "b" * 32):
        client.delete(f"/sessions/{session_id}")
    client.open("/healthz", method="BREW")
    scraped = scrape(client)
    assert value(scraped, "auth_logins_total", result="success") == 1
    assert value(scraped, "auth_logins_total", result="failure") == 2
    assert value(scraped, "http_requests_total", route="/login", method="POST", status="401") == 2
    assert value(scraped, "http_requests_total", route="/login", method="POST", status="400") == 1
    # One series for every session id, and none for a method a client made up.
    assert value(scraped, "http_requests_total", route="/sessions/<session_id>", method="DELETE", status="401") == 2
    assert value(scraped, "http_requests_total", route="unmatched", method="other", status="405") == 1
    assert value(scraped, "http_request_duration_seconds_count", route="/login", method="POST") == 4
    assert value(scraped, "http_request_duration_seconds_bucket", route="/login", method="POST", le="+Inf") == 4


def test_metrics_count_refreshes_by_outcome(make_auth_app):
    client = make_auth_app().test_client()
    _, pair = register_and_login(client)
    assert client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200
    assert client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200
    assert client.post("/refresh", json={"refresh_token": "not-a-token"}).status_code == 400
    scraped = scrape(client)
    assert value(scraped, "auth_refreshes_total", outcome="rotated") == 1
    assert value(scraped, "auth_refreshes_total", outcome="grace") == 1
    assert value(scraped, "auth_refreshes_total", outcome="unknown") == 1
    assert value(scraped, "auth_refresh_reuse_detected_total") == 0
    assert ("auth_refreshes_total", frozenset({("outcome", "reused")})) in scraped  # present at zero


def test_a_reused_refresh_token_is_counted_and_logged_as_a_warning(make_auth_app, caplog):
    client = make_auth_app(REFRESH_REUSE_GRACE="0").test_client()
    user, pair = register_and_login(client)
    second = client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).json
    client.post("/refresh", json={"refresh_token": second["refresh_token"]})  # the successor used
    caplog.set_level(logging.INFO)
    assert client.post("/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 400
    scraped = scrape(client)
    assert value(scraped, "auth_refreshes_total", outcome="reused") == 1
    assert value(scraped, "auth_refresh_reuse_detected_total") == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    line = json.loads(JsonFormatter().format(warning))
    assert "reuse" in line["message"] and line["user_id"] == user["id"]
    assert pair["refresh_token"] not in json.dumps(line)


def test_the_rate_limit_hook_counts_by_scope(make_auth_app):
    app = make_auth_app()
    with app.test_request_context("/login"):
        metrics.rate_limited("login")
        metrics.rate_limited("login")
        metrics.rate_limited("refresh")
    scraped = scrape(app.test_client())
    assert value(scraped, "rate_limited_total", scope="login") == 2
    assert value(scraped, "rate_limited_total", scope="refresh") == 1


def test_the_resource_service_logs_the_token_user_and_exposes_metrics(
    redis_client, redis_server, tmp_path, rsa_private_key, access_lines
):
    key_file = write_public_key(rsa_private_key, tmp_path / "public.pem")
    app = resource_service.create_app(ResourceConfig.from_env({
        "REDIS_URL": redis_server.url, "JWT_PUBLIC_KEY_FILE": str(key_file),
        "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
    }))
    client = app.test_client()
    try:
        token = sign(rsa_private_key, make_claims(sub="c" * 32))
        response = client.get("/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "me-1"})
        assert response.status_code == 200 and response.headers["X-Request-ID"] == "me-1"
        assert client.get("/users/" + "d" * 32).status_code == 401
        (me, users) = access_lines()
        assert (me["user_id"], me["request_id"], me["route"]) == ("c" * 32, "me-1", "/me")
        assert users["user_id"] is None and users["route"] == "/users/<user_id>"
        assert token not in json.dumps([me, users])
        scraped = scrape(client)
        assert value(scraped, "http_requests_total", route="/me", method="GET", status="200") == 1
        assert value(scraped, "http_requests_total", route="/users/<user_id>", method="GET", status="401") == 1
    finally:
        app.extensions["resource"].redis.close()


def test_an_unexpected_error_logs_its_traceback_with_the_request_id(make_auth_app, monkeypatch):
    app = make_auth_app()
    lines: list[dict] = []

    class Collect(logging.Handler):
        """Formats at emit time, inside the request, as the service's stderr handler does."""

        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    handler = Collect()
    handler.setFormatter(JsonFormatter("auth_service"))
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.INFO)
    monkeypatch.setattr(app.extensions["auth"].accounts, "register", broken)
    root.addHandler(handler)
    try:
        response = app.test_client().post("/register", json={"email": "a@example.com", "password": PASSWORD},
                                          headers={"X-Request-ID": "bug-1"})
    finally:
        root.removeHandler(handler)
    assert response.status_code == 500 and "a bug" not in response.get_data(as_text=True)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["request_id"] == "bug-1" and "RuntimeError: a bug" in error["exception"]
    (access,) = [line for line in lines if line["logger"] == "access"]
    assert access["request_id"] == "bug-1" and access["status"] == 500
