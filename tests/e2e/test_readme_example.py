"""The README's "Protect your own Flask service" example, run as written against a real auth service."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.conftest import REPO, StartService
from tests.jwt_forge import make_claims, sign

PASSWORD = "correct horse battery"
README_ISSUER = "http://127.0.0.1:8001"


def readme_example() -> str:
    """The first Python block of the section, as a reader would copy it."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Protect your own Flask service", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the section has no Python example"
    return match[1]


def test_the_readme_example_protects_a_service_of_ones_own(start_service: StartService, e2e_env,
                                                          rsa_private_key, other_rsa_private_key):
    auth = start_service("auth_service", e2e_env)
    code = readme_example()
    assert README_ISSUER in code and len(code.strip().splitlines()) <= 14
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code.replace(README_ISSUER, auth.url), "README.md", "exec"), namespace)  # noqa: S102
    own_service = namespace["app"].test_client()

    email = "reader@example.com"
    assert requests.post(f"{auth.url}/register", json={"email": email, "password": PASSWORD}, timeout=5).ok
    pair = requests.post(f"{auth.url}/login", json={"email": email, "password": PASSWORD}, timeout=5).json()
    answer = own_service.get("/orders", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["orders"] == [] and len(answer.json["user"]) == 32

    missing = own_service.get("/orders")
    assert missing.status_code == 401 and missing.json["error"] == "invalid_token"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    now = int(time.time())
    for token in (
        sign(rsa_private_key, make_claims(iss=auth.url, exp=now - 600, iat=now - 1200)),  # the auth key, expired
        sign(other_rsa_private_key, make_claims(iss=auth.url)),  # a key the issuer never published
        pair["access_token"][:-1] + ("A" if pair["access_token"][-1] != "A" else "B"),
    ):
        refused = own_service.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401 and refused.json["error"] == "invalid_token", token[-20:]
    no_scope = sign(rsa_private_key, make_claims(iss=auth.url, scope="users:write"))
    denied = own_service.get("/orders", headers={"Authorization": f"Bearer {no_scope}"})
    assert denied.status_code == 403 and denied.json["error"] == "insufficient_scope"
