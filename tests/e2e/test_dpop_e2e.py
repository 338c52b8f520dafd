"""DPoP over real HTTP: both services under gunicorn with server nonces on, the Python client with its
DPoP flag, and a thief holding copies of its tokens."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from session_client import Client, DPoPKey, SessionEndedError

from tests.dpop_forge import make_proof, new_key
from tests.e2e.conftest import Service, base_env

PASSWORD = "correct horse battery"
ACCESS_TOKEN_TTL = 2


@pytest.fixture(scope="module")
def services(redis_server, signing_key_file, tmp_path_factory) -> Iterator[tuple[Service, Service]]:
    env = base_env(redis_server.url, signing_key_file)
    env.update(ACCESS_TOKEN_TTL=str(ACCESS_TOKEN_TTL), JWT_CLOCK_SKEW="0", DPOP_NONCE="on",
               DPOP_NONCE_LIFETIME="60")
    logs = tmp_path_factory.mktemp("dpop-e2e")
    with ExitStack() as stack:
        auth = Service("auth_service", env, logs / "auth.log")
        stack.callback(auth.stop)
        auth.start()
        resource_env = {k: v for k, v in env.items() if k != "JWT_PRIVATE_KEY_FILE"}
        resource_env.update(JWKS_URL=f"{auth.url}/.well-known/jwks.json", DPOP_NONCE_SECRET="r" * 32)
        resource = Service("resource_service", resource_env, logs / "resource.log")
        stack.callback(resource.stop)
        resource.start()
        yield auth, resource


def new_user(auth: Service) -> str:
    email = f"dpop-{uuid.uuid4().hex[:12]}@example.com"
    assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5).ok
    return email


class Recorder(requests.Session):
    """A real HTTP session that keeps every answer's status and the token pairs it carried."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[tuple[str, int]] = []
        self.pairs: list[dict[str, str]] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        response = super().request(method, url, *args, **kwargs)
        self.statuses.append((str(url).rsplit("/", 1)[-1], response.status_code))
        if str(url).endswith(("/login", "/refresh")) and response.status_code == 200:
            self.pairs.append(response.json())
        return response


def test_the_python_client_with_dpop_end_to_end(services) -> None:
    auth, resource = services
    email = new_user(auth)
    http = Recorder()
    client = Client(auth.url, session=http, dpop=True)
    client.login(email, PASSWORD)
    # The nonce dance happened once at each service, unseen by the caller.
    assert client.get(f"{resource.url}/me").json()["email"] == email
    assert http.statuses[:2] == [("login", 400), ("login", 200)]
    assert http.statuses[2:4] == [("me", 401), ("me", 200)]
    assert http.pairs[-1]["token_type"] == "DPoP"
    # Later calls carry the nonce each answer brought.
    assert client.get(f"{resource.url}/me").status_code == 200
    assert client.get(f"{auth.url}/sessions").status_code == 200
    assert http.statuses[4:] == [("me", 200), ("sessions", 200)]
    # An expired token is refreshed with a proof, and the session stays bound.
    time.sleep(ACCESS_TOKEN_TTL + 0.2)
    assert client.get(f"{resource.url}/me").status_code == 200
    assert http.pairs[-1]["token_type"] == "DPoP" and len(http.pairs) == 2
    client.logout()
    with pytest.raises(SessionEndedError):
        client.get(f"{resource.url}/me")


def test_stolen_tokens_are_useless_to_a_thief(services) -> None:
    auth, resource = services
    email = new_user(auth)
    http = Recorder()
    client = Client(auth.url, session=http, dpop=True)
    client.login(email, PASSWORD)
    stolen = http.pairs[-1]
    # As Bearer, or over DPoP with the thief's own key (after the thief's own nonce dance).
    as_bearer = requests.get(f"{resource.url}/me", headers={"Authorization": f"Bearer {stolen['access_token']}"},
                             timeout=5)
    assert as_bearer.status_code == 401 and as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")
    thief = DPoPKey()
    nonce = None
    for _ in range(2):
        proof = thief.proof("GET", f"{resource.url}/me", access_token=stolen["access_token"], nonce=nonce)
        response = requests.get(f"{resource.url}/me", headers={
            "Authorization": f"DPoP {stolen['access_token']}", "DPoP": proof}, timeout=5)
        nonce = response.headers.get("DPoP-Nonce")
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"
    # The refresh token: refused without the key, and the session lives on.
    refused = requests.post(f"{auth.url}/refresh", json={"refresh_token": stolen["refresh_token"]}, timeout=5)
    assert refused.status_code == 400 and refused.json()["reason"] == "dpop_key_mismatch"
    time.sleep(ACCESS_TOKEN_TTL + 0.2)
    assert client.get(f"{resource.url}/me").status_code == 200  # refreshed with the key, same token


def test_a_proof_replayed_to_the_same_worker_or_another(services) -> None:
    auth, resource = services
    email = new_user(auth)
    http = Recorder()
    client = Client(auth.url, session=http, dpop=True)
    client.login(email, PASSWORD)
    client.get(f"{resource.url}/me")  # learns the resource's nonce
    token = http.pairs[-1]["access_token"]
    nonce = client._nonces[resource.url]
    proof = client.dpop_key.proof("GET", f"{resource.url}/me", access_token=token, nonce=nonce)  # type: ignore[union-attr]
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    answers = [requests.get(f"{resource.url}/me", headers=headers, timeout=5).status_code for _ in range(6)]
    # The first use passes. Each worker remembers what it saw, so at most one more (two workers) does:
    # the same GET of the same URL, with the same token, within the window (README, Sender-constrained tokens).
    assert answers[0] == 200
    assert answers.count(200) <= 2 and answers.count(401) >= 4
    # At the auth service every replica shares one memory in Redis: exactly one use.
    proof = client.dpop_key.proof("GET", f"{auth.url}/sessions", access_token=token,  # type: ignore[union-attr]
                                  nonce=client._nonces.get(auth.url))
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    answers = [requests.get(f"{auth.url}/sessions", headers=headers, timeout=5).status_code for _ in range(6)]
    assert answers == [200] + [401] * 5


def test_the_key_file(tmp_path: Path, services) -> None:
    auth, resource = services
    email = new_user(auth)
    key_file = tmp_path / "dpop.pem"
    first = Client(auth.url, dpop_key_file=key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first.login(email, PASSWORD)
    assert first.get(f"{resource.url}/me").status_code == 200
    # Another run with the same file has the same key.
    second = Client(auth.url, dpop_key_file=key_file)
    assert second.dpop_key is not None and first.dpop_key is not None
    assert second.dpop_key.thumbprint == first.dpop_key.thumbprint
    assert key_file.read_bytes() not in repr(vars(second)).encode()
    os.chmod(key_file, 0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        Client(auth.url, dpop_key_file=key_file)


def test_a_proof_too_big_for_a_header_line_gets_json(services) -> None:
    auth, _ = services
    proof = make_proof(new_key(), "POST", f"{auth.url}/login", claims={"pad": "p" * 100_000})
    response = requests.post(f"{auth.url}/login", json={"email": "a@example.com", "password": PASSWORD},
                             headers={"DPoP": proof}, timeout=5)
    # Gunicorn refuses a header line over 8190 bytes before the app sees it, with the contract's JSON.
    assert response.status_code == 431 and response.json()["error"] == "invalid_request"
    mid = make_proof(new_key(), "POST", f"{auth.url}/login", claims={"pad": "p" * 5_000})
    response = requests.post(f"{auth.url}/login", json={"email": "a@example.com", "password": PASSWORD},
                             headers={"DPoP": mid + "!"}, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_dpop_proof"
