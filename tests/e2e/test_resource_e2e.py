"""The resource service under gunicorn, trusting the auth service's keys through its JWKS."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import requests

from tests.conftest import RedisServer, write_private_key
from tests.e2e.conftest import REPO, Service, StartService
from tests.jwt_forge import forge, kid_of, make_claims, sign

PASSWORD = "correct horse battery"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signup_and_login(url: str, email: str | None = None, *, register: bool = True) -> dict:
    email = email or new_email()
    if register:
        response = requests.post(f"{url}/register", json={"email": email, "password": PASSWORD}, timeout=5)
        assert response.status_code == 201
    response = requests.post(f"{url}/login", json={"email": email, "password": PASSWORD}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def create_admin(env: dict[str, str]) -> str:
    """An admin made the only way there is: the command line."""
    email = new_email()
    subprocess.run(
        [sys.executable, "-m", "auth_service", "create-user", email, "--admin", "--password-stdin"],
        input=PASSWORD + "\n", text=True, env=env, cwd=REPO, check=True, capture_output=True, timeout=30,
    )
    return email


def resource_env(env: dict[str, str], auth: Service, **extra: str) -> dict[str, str]:
    """The resource service's environment: the auth service's JWKS URL, no private key."""
    env = {k: v for k, v in env.items() if k != "JWT_PRIVATE_KEY_FILE"}
    return {**env, "JWKS_URL": f"{auth.url}/.well-known/jwks.json", **extra}


def me(resource: Service, token: str) -> requests.Response:
    return requests.get(f"{resource.url}/me", headers=bearer(token), timeout=5)


def assert_invalid_token(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_register_login_list_expire_refresh(start_service: StartService, e2e_env):
    auth = start_service("auth_service", {**e2e_env, "ACCESS_TOKEN_TTL": "2"})
    resource = start_service("resource_service", resource_env(e2e_env, auth, JWT_CLOCK_SKEW="0"))
    email = new_email()
    pair = signup_and_login(auth.url, email)
    assert pair["expires_in"] == 2
    response = requests.get(f"{resource.url}/users?limit=200", headers=bearer(pair["access_token"]), timeout=5)
    assert response.status_code == 200
    users = response.json()["users"]
    while response.json()["next_cursor"]:
        cursor = response.json()["next_cursor"]
        response = requests.get(f"{resource.url}/users", params={"limit": 200, "cursor": cursor},
                                headers=bearer(pair["access_token"]), timeout=5)
        users += response.json()["users"]
    assert email in [u["email"] for u in users]
    assert all(set(u) == {"id", "email", "name", "created_at"} for u in users)
    whoami = me(resource, pair["access_token"])
    assert whoami.status_code == 200 and whoami.json()["email"] == email

    time.sleep(3.1)
    expired = requests.get(f"{resource.url}/users", headers=bearer(pair["access_token"]), timeout=5)
    assert_invalid_token(expired)
    assert "expired" in expired.json()["error_description"]
    assert "expired" in expired.headers["WWW-Authenticate"]

    refreshed = requests.post(f"{auth.url}/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=5)
    assert refreshed.status_code == 200
    again = requests.get(f"{resource.url}/users", headers=bearer(refreshed.json()["access_token"]), timeout=5)
    assert again.status_code == 200
    assert "password" not in resource.log().lower() and pair["access_token"] not in resource.log()


def test_readers_rename_themselves_admins_anyone(start_service: StartService, e2e_env, auth):
    resource = start_service("resource_service", resource_env(e2e_env, auth))
    reader = signup_and_login(auth.url)
    admin = signup_and_login(auth.url, create_admin(e2e_env), register=False)
    assert set(admin["scope"].split()) == {"users:read", "users:write"}
    reader_id = me(resource, reader["access_token"]).json()["id"]
    admin_id = me(resource, admin["access_token"]).json()["id"]

    denied = requests.patch(f"{resource.url}/users/{admin_id}", json={"name": "pwned"},
                            headers=bearer(reader["access_token"]), timeout=5)
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
    assert 'scope="users:write"' in denied.headers["WWW-Authenticate"]
    own = requests.patch(f"{resource.url}/users/{reader_id}", json={"name": "Reader"},
                         headers=bearer(reader["access_token"]), timeout=5)
    assert own.status_code == 200 and own.json()["name"] == "Reader"
    renamed = requests.patch(f"{resource.url}/users/{reader_id}", json={"name": "Renamed by admin"},
                             headers=bearer(admin["access_token"]), timeout=5)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed by admin"
    fetched = requests.get(f"{resource.url}/users/{admin_id}", headers=bearer(reader["access_token"]), timeout=5)
    assert fetched.status_code == 200 and "role" not in fetched.json() and "password_hash" not in fetched.json()


def test_tokens_still_checked_with_auth_and_redis_down(start_service: StartService, e2e_env, tmp_path,
                                                       rsa_private_key, other_rsa_private_key):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        env = {**e2e_env, "REDIS_URL": server.url}
        auth = start_service("auth_service", env)
        resource = start_service("resource_service", resource_env(env, auth))
        pair = signup_and_login(auth.url)
        issuer = env["JWT_ISSUER"]
        now = int(time.time())
        bad = [
            sign(other_rsa_private_key, make_claims(iss=issuer), headers={"kid": kid_of(rsa_private_key)}),
            sign(other_rsa_private_key, make_claims(iss=issuer)),  # an unknown kid: a refetch is tried
            sign(rsa_private_key, make_claims(iss=issuer, exp=now - 600, iat=now - 1200)),
            forge({"alg": "none", "typ": "at+jwt", "kid": kid_of(rsa_private_key)}, make_claims(iss=issuer)),
            pair["access_token"][:-4] + "AAAA",
            "garbage",
        ]
        auth.stop()
        server.stop()
        for _ in range(4):  # both workers
            assert me(resource, pair["access_token"]).status_code == 200
            for token in bad:
                assert_invalid_token(me(resource, token))
                assert_invalid_token(requests.get(f"{resource.url}/users", headers=bearer(token), timeout=5))
        down = requests.get(f"{resource.url}/users", headers=bearer(pair["access_token"]), timeout=10)
        assert down.status_code == 503 and down.json()["error"] == "temporarily_unavailable"
        server.start()
        up = requests.get(f"{resource.url}/users", headers=bearer(pair["access_token"]), timeout=10)
        assert up.status_code == 200
    finally:
        server.stop()


def test_key_rotation_through_the_jwks(start_service: StartService, e2e_env, signing_key_file, tmp_path,
                                       other_rsa_private_key):
    new_key_file = write_private_key(other_rsa_private_key, tmp_path / "new.pem")
    auth = start_service("auth_service", e2e_env)
    resource = start_service(
        "resource_service", resource_env(e2e_env, auth, JWKS_REFETCH_INTERVAL="1", JWKS_CACHE_TTL="2")
    )
    old = signup_and_login(auth.url)
    assert me(resource, old["access_token"]).status_code == 200

    # Step 1: the new key signs, the old one still verifies.
    auth.stop()
    auth = start_service("auth_service", {**e2e_env, "JWT_PRIVATE_KEY_FILE": f"{new_key_file},{signing_key_file}"})
    time.sleep(1.1)
    new = signup_and_login(auth.url)
    assert new["access_token"].split(".")[0] != old["access_token"].split(".")[0]  # another kid
    for _ in range(4):
        assert me(resource, new["access_token"]).status_code == 200
        assert me(resource, old["access_token"]).status_code == 200

    # Step 2: the old key is retired; once the cached key set ages out, its tokens are refused.
    auth.stop()
    auth = start_service("auth_service", {**e2e_env, "JWT_PRIVATE_KEY_FILE": str(new_key_file)})
    time.sleep(2.5)
    for _ in range(4):
        assert_invalid_token(me(resource, old["access_token"]))
        assert me(resource, new["access_token"]).status_code == 200
