"""DPoP end to end through both apps (Flask's test client, real Redis): binding at /login, /refresh
and /token, the refusals a thief meets at the resource service and the account endpoints, the
nonce dance, DPOP=required, and malformed proofs answered in JSON."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from resource_service import create_app as create_resource_app
from resource_service.config import ResourceConfig
from shared.errors import InvalidTokenError
from shared.verify import add_token_check
from tests.conftest import write_public_key
from tests.dpop_forge import PrivateKey, forge_proof, make_proof, new_key, private_jwk, public_jwk, thumbprint

ISSUER = "http://auth.test"
RESOURCE = "http://api.test"
PASSWORD = "correct horse battery"
ALGS = 'algs="ES256 EdDSA RS256 PS256"'
NONCE_SECRET = "n" * 32


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


class Holder:
    """A client of both apps holding a DPoP key: what the Python and JS clients do, by hand."""

    def __init__(self, auth: FlaskClient, resource: FlaskClient, key: PrivateKey | None = None) -> None:
        self.auth, self.resource = auth, resource
        self.key = key or new_key()
        self.nonce: str | None = None

    def proof(self, method: str, url: str, access_token: str | None = None, **kwargs: Any) -> str:
        return make_proof(self.key, method, url, access_token=access_token, nonce=self.nonce, **kwargs)

    def login(self, email: str = "ada@example.com") -> dict[str, Any]:
        response = self.auth.post("/login", json={"email": email, "password": PASSWORD},
                                  headers={"DPoP": self.proof("POST", f"{ISSUER}/login")})
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[no-any-return]

    def refresh(self, refresh_token: str) -> Any:
        return self.auth.post("/refresh", json={"refresh_token": refresh_token},
                              headers={"DPoP": self.proof("POST", f"{ISSUER}/refresh")})

    def get(self, client: FlaskClient, base: str, path: str, access_token: str, **proof_args: Any) -> Any:
        proof = self.proof("GET", base + path, access_token, **proof_args)
        return client.get(path, headers={"Authorization": f"DPoP {access_token}", "DPoP": proof})


@pytest.fixture
def make_apps(make_auth_app, tmp_path, rsa_private_key, redis_server):
    """`make_apps(**env)`: an auth app and a resource app trusting it, both with `env`."""
    public_key = write_public_key(rsa_private_key, tmp_path / "public.pem")
    resources: list[Flask] = []

    def make(**env: str) -> tuple[FlaskClient, FlaskClient]:
        auth = make_auth_app(JWT_ISSUER=ISSUER, **env)
        resource = create_resource_app(ResourceConfig.from_env({
            "REDIS_URL": redis_server.url, "JWT_PUBLIC_KEY_FILE": str(public_key), "JWT_ISSUER": ISSUER,
            "RESOURCE_PUBLIC_URL": RESOURCE, **env,
        }))
        resources.append(resource)
        client = auth.test_client()
        registered = client.post("/register", json={"email": "ada@example.com", "password": PASSWORD})
        assert registered.status_code in (201, 409)  # 409: a second pair of apps over the same Redis
        return client, resource.test_client()

    yield make
    for app in resources:
        app.extensions["resource"].redis.close()


@pytest.fixture
def apps(make_apps):
    return make_apps()


@pytest.fixture
def holder(apps):
    return Holder(*apps)


def challenge(response: Any) -> str:
    return response.headers.get("WWW-Authenticate", "")


# --- issuing -------------------------------------------------------------------------------------------

def test_login_with_a_proof_issues_a_bound_pair(holder: Holder) -> None:
    pair = holder.login()
    assert pair["token_type"] == "DPoP"
    assert claims_of(pair["access_token"])["cnf"] == {"jkt": thumbprint(holder.key)}
    response = holder.get(holder.resource, RESOURCE, "/me", pair["access_token"])
    assert response.status_code == 200 and response.json["email"] == "ada@example.com"
    assert "DPoP-Nonce" not in response.headers  # nonces are off by default


def test_login_without_a_proof_is_as_before(apps) -> None:
    auth, resource = apps
    pair = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
    assert pair["token_type"] == "Bearer" and "cnf" not in claims_of(pair["access_token"])
    assert resource.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code == 200


def test_refresh_keeps_the_binding(holder: Holder) -> None:
    pair = holder.login()
    again = holder.refresh(pair["refresh_token"])
    assert again.status_code == 200 and again.json["token_type"] == "DPoP"
    assert claims_of(again.json["access_token"])["cnf"] == {"jkt": thumbprint(holder.key)}


@pytest.mark.parametrize("alg", ["EdDSA", "RS256", "PS256"])
def test_other_algorithms_bind_too(apps, alg: str) -> None:
    holder = Holder(*apps, key=new_key(alg))
    original = holder.proof

    def proof(method: str, url: str, access_token: str | None = None, **kwargs: Any) -> str:
        return original(method, url, access_token, alg=alg, **kwargs)

    holder.proof = proof  # type: ignore[method-assign]
    pair = holder.login()
    assert holder.get(holder.resource, RESOURCE, "/me", pair["access_token"]).status_code == 200


def test_token_endpoint_grants_bind(apps, holder: Holder) -> None:
    auth, _ = apps
    form = {"grant_type": "password", "username": "ada@example.com", "password": PASSWORD}
    answer = auth.post("/token", data=form, headers={"DPoP": holder.proof("POST", f"{ISSUER}/token")})
    assert answer.status_code == 200 and answer.json["token_type"] == "DPoP"
    refreshed = auth.post("/token", data={"grant_type": "refresh_token", "refresh_token": answer.json["refresh_token"]},
                          headers={"DPoP": holder.proof("POST", f"{ISSUER}/token")})
    assert refreshed.status_code == 200 and refreshed.json["token_type"] == "DPoP"
    without = auth.post("/token", data={"grant_type": "refresh_token",
                                        "refresh_token": refreshed.json["refresh_token"]})
    assert without.status_code == 400 and without.json["reason"] == "dpop_key_mismatch"


def test_client_credentials_bind(apps) -> None:
    auth, _ = apps
    client, secret = auth.application.extensions["auth"].clients.create("billing", "users:read")
    key = new_key()
    answer = auth.post("/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, secret),
                       headers={"DPoP": make_proof(key, "POST", f"{ISSUER}/token")})
    assert answer.status_code == 200 and answer.json["token_type"] == "DPoP"
    assert claims_of(answer.json["access_token"])["cnf"]["jkt"] == thumbprint(key)


def test_metadata_lists_the_proof_algorithms(apps) -> None:
    auth, _ = apps
    metadata = auth.get("/.well-known/oauth-authorization-server").json
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256", "PS256"]


# --- a stolen access token ----------------------------------------------------------------------------

def test_stolen_access_token_without_a_proof(holder: Holder) -> None:
    token = holder.login()["access_token"]
    as_bearer = holder.resource.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and as_bearer.json["error"] == "invalid_token"
    assert challenge(as_bearer).startswith('DPoP error="invalid_token"') and ALGS in challenge(as_bearer)
    as_dpop = holder.resource.get("/me", headers={"Authorization": f"DPoP {token}"})
    assert as_dpop.status_code == 401 and as_dpop.json["error"] == "invalid_dpop_proof"
    assert challenge(as_dpop).startswith('DPoP error="invalid_dpop_proof"') and ALGS in challenge(as_dpop)


def test_a_bound_token_refused_by_a_token_check_gets_a_dpop_challenge(holder: Holder) -> None:
    """A revoked session's bound token (shared/revocation.py's check) is answered in its own scheme
    (RFC 9449 §7.1), not with a Bearer challenge."""
    def session_ended(token: str, claims: dict[str, Any]) -> None:
        raise InvalidTokenError("the session of this token ended")

    add_token_check(holder.resource.application, session_ended)
    token = holder.login()["access_token"]
    response = holder.get(holder.resource, RESOURCE, "/me", token)
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert challenge(response).startswith('DPoP error="invalid_token"') and ALGS in challenge(response)


def test_token_checks_run_only_after_the_proof(holder: Holder) -> None:
    """A thief with a bound token but not its key meets the proof check first: he learns nothing
    of the session from a token check (a revocation, a lookup), which never runs for him."""
    checked: list[str] = []

    def session_ended(token: str, claims: dict[str, Any]) -> None:
        checked.append(token)
        raise InvalidTokenError("the session of this token ended")

    add_token_check(holder.resource.application, session_ended)
    token = holder.login()["access_token"]
    thief = Holder(holder.auth, holder.resource)
    for response in (holder.resource.get("/me", headers={"Authorization": f"Bearer {token}"}),
                     thief.get(thief.resource, RESOURCE, "/me", token)):
        assert response.status_code == 401
        assert "session" not in response.json["error_description"]
    assert checked == []


def test_stolen_access_token_with_the_thiefs_own_key(holder: Holder) -> None:
    token = holder.login()["access_token"]
    thief = Holder(holder.auth, holder.resource)
    response = thief.get(thief.resource, RESOURCE, "/me", token)
    assert response.status_code == 401 and response.json["error"] == "invalid_dpop_proof"
    assert "another key" in response.json["error_description"]


def test_replayed_proof(holder: Holder) -> None:
    token = holder.login()["access_token"]
    headers = {"Authorization": f"DPoP {token}", "DPoP": holder.proof("GET", f"{RESOURCE}/me", token)}
    assert holder.resource.get("/me", headers=headers).status_code == 200
    replay = holder.resource.get("/me", headers=headers)
    assert replay.status_code == 401 and "used before" in replay.json["error_description"]


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", f"{RESOURCE}/users"), ("POST", f"{RESOURCE}/me"), ("GET", f"{ISSUER}/me"), ("GET", "http://evil.test/me")],
)
def test_proof_for_another_url_or_method(holder: Holder, method: str, url: str) -> None:
    token = holder.login()["access_token"]
    response = holder.resource.get("/me", headers={"Authorization": f"DPoP {token}",
                                                   "DPoP": holder.proof(method, url, token)})
    assert response.status_code == 401 and response.json["error"] == "invalid_dpop_proof"


def test_old_iat_says_by_how_much(holder: Holder) -> None:
    token = holder.login()["access_token"]
    response = holder.get(holder.resource, RESOURCE, "/me", token, iat=time.time() - 3600)
    assert response.status_code == 401
    assert "behind the server's clock" in response.json["error_description"]
    assert "within 60 s" in response.json["error_description"]


def test_htu_is_the_public_url_whatever_the_host_header(holder: Holder) -> None:
    token = holder.login()["access_token"]
    spoofed = holder.resource.get("/me", headers={
        "Authorization": f"DPoP {token}", "Host": "evil.test",
        "DPoP": holder.proof("GET", "http://evil.test/me", token),
    })
    assert spoofed.status_code == 401
    behind_proxy = holder.resource.get("/me", headers={
        "Authorization": f"DPoP {token}", "Host": "10.0.0.7:8002", "DPoP": holder.proof("GET", f"{RESOURCE}/me", token),
    })
    assert behind_proxy.status_code == 200


def test_unbound_token_sent_as_dpop_is_refused(apps, holder: Holder) -> None:
    auth, resource = apps
    token = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json["access_token"]
    response = holder.get(resource, RESOURCE, "/me", token)
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert challenge(response).startswith('DPoP error="invalid_token"')


def test_bad_token_over_dpop_gets_a_dpop_challenge(holder: Holder) -> None:
    response = holder.get(holder.resource, RESOURCE, "/me", "not.a.token")
    assert response.status_code == 401 and challenge(response).startswith('DPoP error="invalid_token"')


def test_a_resource_cannot_replay_a_users_token_to_the_account_endpoints(holder: Holder) -> None:
    # The resource service sees the token (and a proof for itself); it has no key to sign with.
    token = holder.login()["access_token"]
    assert holder.get(holder.auth, ISSUER, "/sessions", token).status_code == 200  # the user can
    as_bearer = holder.auth.get("/sessions", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and challenge(as_bearer).startswith('DPoP error="invalid_token"')
    seen_proof = holder.proof("GET", f"{RESOURCE}/me", token)  # what the resource received
    forwarded = holder.auth.get("/sessions", headers={"Authorization": f"DPoP {token}", "DPoP": seen_proof})
    assert forwarded.status_code == 401 and forwarded.json["error"] == "invalid_dpop_proof"
    own_key = Holder(holder.auth, holder.resource).get(holder.auth, ISSUER, "/sessions", token)
    assert own_key.status_code == 401 and own_key.json["error"] == "invalid_dpop_proof"
    logout_all = holder.auth.post("/logout/all", headers={"Authorization": f"Bearer {token}"})
    assert logout_all.status_code == 401


# --- a stolen refresh token -----------------------------------------------------------------------------

def test_stolen_refresh_token_without_the_key(holder: Holder) -> None:
    pair = holder.login()
    without_proof = holder.auth.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    thief = Holder(holder.auth, holder.resource)
    with_own_key = thief.refresh(pair["refresh_token"])
    for refused in (without_proof, with_own_key):
        assert refused.status_code == 400
        assert refused.json["error"] == "invalid_grant" and refused.json["reason"] == "dpop_key_mismatch"
    # Not spent, not revoked: the rightful client rotates it as if nothing happened.
    rotated = holder.refresh(pair["refresh_token"])
    assert rotated.status_code == 200
    assert holder.refresh(rotated.json["refresh_token"]).status_code == 200


def test_spent_bound_refresh_token_without_the_key_revokes_nothing(make_apps) -> None:
    holder = Holder(*make_apps(REFRESH_REUSE_GRACE="0"))
    pair = holder.login()
    successor = holder.refresh(pair["refresh_token"]).json["refresh_token"]
    # A spent token after the grace would revoke the session; without the key it cannot.
    refused = holder.auth.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refused.json["reason"] == "dpop_key_mismatch"
    assert holder.refresh(successor).status_code == 200
    # With the key, reuse detection is as ever.
    assert holder.refresh(pair["refresh_token"]).json["reason"] == "reused"


def test_a_stolen_refresh_token_cannot_log_a_bound_session_out(holder: Holder) -> None:
    pair = holder.login()
    body = {"refresh_token": pair["refresh_token"]}
    thief = holder.auth.post("/logout", json=body)
    assert thief.status_code == 400 and thief.json["reason"] == "dpop_key_mismatch"
    other_proof = make_proof(new_key(), "POST", f"{ISSUER}/logout")
    own_key = holder.auth.post("/logout", json=body, headers={"DPoP": other_proof})
    assert own_key.status_code == 400
    rightful = holder.auth.post("/logout", json=body, headers={"DPoP": holder.proof("POST", f"{ISSUER}/logout")})
    assert rightful.status_code == 204
    assert holder.refresh(pair["refresh_token"]).json["reason"] == "revoked"
    assert holder.auth.post("/logout", json=body).status_code == 204  # idempotent once ended


def test_revoke_ends_a_bound_session_only_with_its_keys_proof(holder: Holder) -> None:
    """RFC 7009 /revoke, for both kinds of token of a bound session: without the key's proof it
    ends nothing, as /logout does; with it, the session ends."""
    pair = holder.login()
    access = pair["access_token"]
    for token, headers in ((pair["refresh_token"], {}), (access, {"Authorization": f"Bearer {access}"})):
        assert holder.auth.post("/revoke", data={"token": token}, headers=headers).status_code in (400, 401)
        stranger = {**headers, "DPoP": make_proof(new_key(), "POST", f"{ISSUER}/revoke")}
        assert holder.auth.post("/revoke", data={"token": token}, headers=stranger).status_code in (400, 401)
    alive = holder.refresh(pair["refresh_token"])
    assert alive.status_code == 200
    access = alive.json["access_token"]
    rightful = holder.auth.post("/revoke", data={"token": access}, headers={
        "Authorization": f"Bearer {access}", "DPoP": holder.proof("POST", f"{ISSUER}/revoke")})
    assert rightful.status_code == 200
    assert holder.refresh(alive.json["refresh_token"]).json["reason"] == "revoked"


def test_the_owner_ends_a_bound_session_by_id_with_a_bound_access_token(holder: Holder) -> None:
    pair = holder.login()
    sid = claims_of(pair["access_token"])["sid"]
    proof = holder.proof("DELETE", f"{ISSUER}/sessions/{sid}", pair["access_token"])
    response = holder.auth.delete(f"/sessions/{sid}", headers={"Authorization": f"DPoP {pair['access_token']}",
                                                               "DPoP": proof})
    assert response.status_code == 204
    assert holder.refresh(pair["refresh_token"]).json["reason"] == "revoked"


def test_a_bound_token_of_an_ended_session_is_refused_even_with_its_keys_proof(holder: Holder) -> None:
    pair = holder.login()
    token = pair["access_token"]
    assert holder.get(holder.auth, ISSUER, "/sessions", token).status_code == 200
    ended = holder.auth.post("/logout", json={"refresh_token": pair["refresh_token"]},
                             headers={"DPoP": holder.proof("POST", f"{ISSUER}/logout")})
    assert ended.status_code == 204
    response = holder.get(holder.auth, ISSUER, "/sessions", token)
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    assert challenge(response).startswith('DPoP error="invalid_token"')  # in the scheme it came in


# --- nonces ---------------------------------------------------------------------------------------------

def test_the_nonce_dance(make_apps) -> None:
    holder = Holder(*make_apps(DPOP_NONCE="on", DPOP_NONCE_SECRET=NONCE_SECRET))
    first = holder.auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD},
                             headers={"DPoP": holder.proof("POST", f"{ISSUER}/login")})
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce"
    holder.nonce = first.headers["DPoP-Nonce"]
    pair = holder.login()
    token = pair["access_token"]
    # The resource service has nonces of its own.
    response = holder.get(holder.resource, RESOURCE, "/me", token)
    assert response.status_code == 401 and response.json["error"] == "use_dpop_nonce"
    assert challenge(response).startswith('DPoP error="use_dpop_nonce"')
    holder.nonce = response.headers["DPoP-Nonce"]
    ok = holder.get(holder.resource, RESOURCE, "/me", token)
    assert ok.status_code == 200 and ok.headers["DPoP-Nonce"] == holder.nonce  # fresh nonce on each answer


def test_a_made_up_nonce_is_refused(make_apps) -> None:
    holder = Holder(*make_apps(DPOP_NONCE="on", DPOP_NONCE_SECRET=NONCE_SECRET))
    holder.nonce = "made-up"
    response = holder.auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD},
                                headers={"DPoP": holder.proof("POST", f"{ISSUER}/login")})
    assert response.status_code == 400 and response.json["error"] == "use_dpop_nonce"


def test_auth_nonces_derive_from_the_signing_key_without_a_secret(make_auth_app) -> None:
    # Two replicas with one signing key and no DPOP_NONCE_SECRET hand out the same nonce.
    replicas = [make_auth_app(JWT_ISSUER=ISSUER, DPOP_NONCE="on").test_client() for _ in range(2)]
    nonces = []
    for replica in replicas:
        response = replica.post("/refresh", json={"refresh_token": "x"},
                                headers={"DPoP": make_proof(new_key(), "POST", f"{ISSUER}/refresh")})
        assert response.json["error"] == "use_dpop_nonce"
        nonces.append(response.headers["DPoP-Nonce"])
    assert nonces[0] == nonces[1]


def test_resource_nonces_need_a_secret() -> None:
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match="DPOP_NONCE_SECRET"):
        ResourceConfig.from_env({"JWT_ISSUER": ISSUER, "DPOP_NONCE": "on"})


# --- DPOP=required ------------------------------------------------------------------------------------

def test_required_refuses_unbound_tokens(make_apps) -> None:
    auth, resource = make_apps(DPOP="required")
    refused = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_dpop_proof"
    holder = Holder(auth, resource)
    token = holder.login()["access_token"]
    assert holder.get(resource, RESOURCE, "/me", token).status_code == 200


def test_required_resource_refuses_an_unbound_bearer_token(make_apps, make_auth_app) -> None:
    auth, _ = make_apps()
    _, resource = make_apps(DPOP="required")
    token = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json["access_token"]
    response = resource.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "DPoP-bound access tokens only" in response.json["error_description"]


# --- malformed proofs: a clear JSON error, never a 500 ------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _rsa512() -> str:
    n = _b64(((1 << 511) | 12345).to_bytes(64, "big"))
    return forge_proof({"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "e": "AQAB", "n": n}},
                       {"jti": "j", "htm": "POST", "htu": f"{ISSUER}/login", "iat": int(time.time())})


def bad_proofs(key: PrivateKey, url: str, method: str) -> list[tuple[str, Any]]:
    claims = {"jti": "j", "htm": method, "htu": url, "iat": int(time.time())}
    return [
        ("100 KB", make_proof(key, method, url, claims={"pad": "p" * 100_000})),
        ("RSA-512", _rsa512()),
        ("private members", make_proof(key, method, url, headers={"jwk": private_jwk(key)})),
        ("alg none", forge_proof({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(key)}, claims)
         .rsplit(".", 1)[0] + "."),
        ("HS256", jwt.encode(claims, "secret" * 6, algorithm="HS256", headers={"typ": "dpop+jwt"})),
        ("not a JWS", "hello"),
        ("JSON", json.dumps(claims)),
        ("jti of 10 KB", make_proof(key, method, url, claims={"jti": "j" * 10_000})),
        ("two DPoP headers", [make_proof(key, method, url), make_proof(key, method, url)]),
        ("empty", ""),
    ]


CASES = [name for name, _ in bad_proofs(new_key(), "http://x/", "GET")]


@pytest.mark.parametrize("case", CASES)
def test_malformed_proof_at_the_auth_service(apps, case: str) -> None:
    auth, _ = apps
    proof = dict(bad_proofs(new_key(), f"{ISSUER}/login", "POST"))[case]
    headers = [("DPoP", p) for p in (proof if isinstance(proof, list) else [proof])]
    response = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=headers)
    assert response.status_code == 400 and response.json["error"] == "invalid_dpop_proof", response.json
    assert response.json["error_description"]


@pytest.mark.parametrize("case", CASES)
def test_malformed_proof_at_the_resource_service(holder: Holder, case: str) -> None:
    token = holder.login()["access_token"]
    proof = dict(bad_proofs(holder.key, f"{RESOURCE}/me", "GET"))[case]
    proofs = proof if isinstance(proof, list) else [proof]
    headers = [("Authorization", f"DPoP {token}")] + [("DPoP", p) for p in proofs]
    response = holder.resource.get("/me", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "invalid_dpop_proof", response.json
    assert challenge(response).startswith('DPoP error="invalid_dpop_proof"')


def test_a_service_known_under_several_names(make_apps) -> None:
    # make run serves the demo page under localhost and 127.0.0.1 alike: each name is a public URL.
    auth, resource = make_apps(AUTH_PUBLIC_URLS="http://auth.alias", RESOURCE_PUBLIC_URL=f"{RESOURCE},http://api.alias")
    key = new_key()
    login = auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD},
                      headers={"DPoP": make_proof(key, "POST", "http://auth.alias/login")})
    assert login.status_code == 200
    token = login.json["access_token"]
    for base in (RESOURCE, "http://api.alias"):
        proof = make_proof(key, "GET", f"{base}/me", access_token=token)
        assert resource.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof}).status_code == 200
    elsewhere = make_proof(key, "GET", "http://api.other/me", access_token=token)
    refused = resource.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": elsewhere})
    assert refused.status_code == 401 and RESOURCE in refused.json["error_description"]


def test_a_service_of_ones_own_without_dpop_refuses_bound_tokens(holder: Holder, rsa_private_key) -> None:
    # TokenAuth alone (README, "Protect your own Flask service"): no DPoP extension, so no proofs are
    # checked, and a bound token is refused rather than taken as a bearer token.
    from shared.jwk import rsa_thumbprint
    from shared.jwt import StaticKeys
    from shared.verify import TokenAuth

    app = Flask("orders")
    keys = StaticKeys({rsa_thumbprint(rsa_private_key.public_key()): rsa_private_key.public_key()})
    auth = TokenAuth(app, issuer=ISSUER, audience="resource-service", keys=keys)

    @app.get("/orders")
    @auth.require()
    def orders() -> dict[str, str]:
        return {"user": auth.claims()["sub"]}

    client = app.test_client()
    bound = holder.login()["access_token"]
    for scheme in ("Bearer", "DPoP"):
        refused = client.get("/orders", headers={"Authorization": f"{scheme} {bound}",
                                                 "DPoP": holder.proof("GET", "http://localhost/orders", bound)})
        assert refused.status_code == 401 and refused.json["error"] == "invalid_token"
        assert refused.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    unbound = holder.auth.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json
    assert client.get("/orders", headers={"Authorization": f"Bearer {unbound['access_token']}"}).status_code == 200
