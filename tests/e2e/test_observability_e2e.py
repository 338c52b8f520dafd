"""Logs, request ids and metrics of the services under gunicorn (2 workers), over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import write_public_key
from tests.e2e.conftest import REPO, Service, StartService
from tests.jwt_forge import make_claims, sign

PASSWORD = "correct horse battery"


def json_lines(service: Service) -> list[dict]:
    """Every line the service wrote, each of which must be one JSON object."""
    lines = [line for line in service.log().splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]


def access_lines(service: Service, path: str) -> list[dict]:
    return [line for line in json_lines(service) if line["logger"] == "access" and line["path"] == path]


def requests_counted(service: Service, route: str, status: str = "200") -> float:
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total" and sample.labels == {
                "route": route, "method": "GET", "status": status,
            }:
                return sample.value
    return 0.0


def hit(url: str, times: int) -> None:
    for _ in range(times):
        assert requests.get(url, timeout=10).status_code == 200


def test_the_log_is_json_names_each_request_and_holds_no_secret(auth: Service):
    email = f"log-{uuid.uuid4().hex[:8]}@example.com"
    user = requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5).json()
    login = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD},
                          headers={"X-Request-ID": "e2e-login-1"}, timeout=5)
    assert login.headers["X-Request-ID"] == "e2e-login-1"
    pair = login.json()
    refreshed = requests.post(f"{auth.url}/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=5)
    generated = refreshed.headers["X-Request-ID"]
    requests.get(f"{auth.url}/sessions?token={pair['access_token']}", timeout=5,
                 headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    requests.post(f"{auth.url}/login", json={"email": email, "password": "wrong horse battery"}, timeout=5)
    auth.stop()  # every worker has written and flushed its lines

    (good, bad) = access_lines(auth, "/login")
    assert {k: good[k] for k in ("method", "route", "status", "request_id", "user_id", "service")} == {
        "method": "POST", "route": "/login", "status": 200, "request_id": "e2e-login-1",
        "user_id": user["id"], "service": "auth_service",
    }
    assert bad["status"] == 401 and bad["user_id"] is None
    (refresh,) = access_lines(auth, "/refresh")
    assert refresh["request_id"] == generated and refresh["user_id"] == user["id"]
    (listed,) = access_lines(auth, "/sessions")
    assert listed["user_id"] == user["id"] and listed["status"] == 200
    assert all(isinstance(line["duration_ms"], float) for line in (good, bad, refresh, listed))
    # Gunicorn's own lines are JSON too, and its access log does not repeat the requests.
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in json_lines(auth))
    assert not any(line["logger"] == "gunicorn.access" for line in json_lines(auth))
    log = auth.log()
    for secret in (PASSWORD, "wrong horse battery", pair["refresh_token"], pair["access_token"],
                   refreshed.json()["refresh_token"], refreshed.json()["access_token"], "Bearer"):
        assert secret not in log


GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "auth_service/gunicorn_conf.py"]


@pytest.mark.parametrize("command", [None, GUNICORN], ids=["serve", "gunicorn-c"])
def test_counts_are_summed_across_workers(start_service: StartService, e2e_env, tmp_path: Path, command):
    temp = tmp_path / "tmp"
    temp.mkdir()
    # Sync workers (one thread): one worker takes a request whose headers are still arriving
    # and waits for the rest; the other worker answers all the others meanwhile. Neither alone
    # saw them all. (A gthread worker would answer others while it waits.)
    auth = start_service("auth_service", {**e2e_env, "TMPDIR": str(temp), "GUNICORN_THREADS": "1"}, command)
    with socket.create_connection(("127.0.0.1", auth.port), timeout=10) as held:
        held.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        hit(f"{auth.url}/readyz", 30)
        held.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert requests_counted(auth, "/readyz") == 31
    assert len({line["pid"] for line in access_lines(auth, "/readyz")}) == 2
    assert [p.name.startswith("auth_service-metrics-") for p in temp.iterdir()] == [True]
    auth.stop()
    assert list(temp.iterdir()) == [], "the temporary metrics directory outlived the server"


def test_a_restart_counts_afresh_in_a_given_metrics_directory(start_service: StartService, e2e_env, tmp_path):
    env = {**e2e_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    first = start_service("auth_service", env)
    hit(f"{first.url}/readyz", 5)
    assert requests_counted(first, "/readyz") == 5
    first.stop()
    assert list((tmp_path / "metrics").glob("*.db"))
    second = start_service("auth_service", env)
    assert requests_counted(second, "/readyz") == 0
    hit(f"{second.url}/readyz", 2)
    assert requests_counted(second, "/readyz") == 2


def test_the_resource_service_logs_and_counts_under_gunicorn(
    start_service: StartService, e2e_env, tmp_path, rsa_private_key
):
    env = {k: v for k, v in e2e_env.items() if k != "JWT_PRIVATE_KEY_FILE"}
    env.update({"JWT_PUBLIC_KEY_FILE": str(write_public_key(rsa_private_key, tmp_path / "public.pem")),
                "JWT_ISSUER": "http://auth.test"})
    resource = start_service("resource_service", env)
    token = sign(rsa_private_key, make_claims(sub="e" * 32))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: requests.get(f"{resource.url}/me", timeout=5, headers={
            "Authorization": f"Bearer {token}"}), range(12)))
    assert [a.status_code for a in answers] == [200] * 12
    assert requests_counted(resource, "/me") == 12
    resource.stop()
    lines = access_lines(resource, "/me")
    assert len(lines) == 12 and {line["user_id"] for line in lines} == {"e" * 32}
    assert token not in resource.log()


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY"),
    ("PROMETHEUS_MULTIPROC_DIR", "{tmp}/a-file", "PROMETHEUS_MULTIPROC_DIR"),
    ("JWT_PRIVATE_KEY_FILE", "{tmp}/missing.pem", "JWT_PRIVATE_KEY_FILE"),
])
def test_serve_stops_on_a_bad_setting_with_one_line_and_leaves_no_directory(e2e_env, tmp_path, setting, value, named):
    (tmp_path / "a-file").write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**e2e_env, "TMPDIR": str(temp), setting: value.format(tmp=tmp_path)}
    result = subprocess.run([sys.executable, "-m", "auth_service", "serve"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"config error: {named}")
    assert os.listdir(temp) == []
