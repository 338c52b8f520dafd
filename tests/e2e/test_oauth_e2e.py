"""An ordinary OAuth 2.0 client library (requests-oauthlib) against /token under gunicorn, and a
resource service that knows nothing but the issuer URL."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import REPO, StartService

PASSWORD = "correct horse battery"


def create_client(env: dict[str, str], scope: str) -> dict[str, str]:
    made = subprocess.run([sys.executable, "-m", "auth_service", "create-client", "e2e", "--scope", scope],
                          env=env, cwd=REPO, check=True, capture_output=True, text=True, timeout=30)
    return json.loads(made.stdout)


def test_oauth2_client_library_and_a_resource_service_configured_by_issuer_alone(
    start_service: StartService, e2e_env, monkeypatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP, to 127.0.0.1 only
    resource_env = {k: v for k, v in e2e_env.items() if k != "JWT_PRIVATE_KEY_FILE"}  # no key, no JWKS_URL
    with ThreadPoolExecutor(1) as pool:
        # The resource service starts first and waits for the auth service's metadata.
        resource_started = pool.submit(start_service, "resource_service", resource_env)
        auth = start_service("auth_service", e2e_env)
        resource = resource_started.result(timeout=60)
    metadata = requests.get(f"{auth.url}/.well-known/oauth-authorization-server", timeout=5).json()
    token_url = metadata["token_endpoint"]
    assert token_url == f"{auth.url}/token" and metadata["issuer"] == e2e_env["JWT_ISSUER"]

    # client_credentials, the secret by HTTP Basic (the library's default)
    service = create_client(e2e_env, "users:read users:write")
    backend = OAuth2Session(client=BackendApplicationClient(client_id=service["client_id"]))
    issued = backend.fetch_token(token_url, client_secret=service["client_secret"], timeout=5)
    assert "refresh_token" not in issued and issued["scope"] == ["users:read", "users:write"]
    me = backend.get(f"{resource.url}/me", timeout=5)
    assert me.status_code == 200 and me.json()["id"] == service["client_id"] and me.json()["email"] is None
    assert backend.get(f"{resource.url}/users", timeout=5).status_code == 200

    # client_credentials, the secret in the form, asking for part of the client's scope
    narrow = OAuth2Session(client=BackendApplicationClient(client_id=service["client_id"], scope=["users:read"]))
    issued = narrow.fetch_token(token_url, client_secret=service["client_secret"], include_client_id=True, timeout=5)
    assert issued["scope"] == ["users:read"]
    assert narrow.get(f"{resource.url}/me", timeout=5).json()["scope"] == "users:read"

    # password, then refresh_token
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    registered = requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5)
    assert registered.status_code == 201
    app = OAuth2Session(client=LegacyApplicationClient(client_id="e2e-app"))
    first = app.fetch_token(token_url, username=email, password=PASSWORD, timeout=5)
    assert app.get(f"{resource.url}/me", timeout=5).json()["email"] == email
    second = app.refresh_token(token_url, timeout=5)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert app.get(f"{resource.url}/me", timeout=5).json()["id"] == registered.json()["id"]
