"""The access-token verifier against forged, tampered and malformed tokens; the Bearer parser."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from auth_service import create_app as create_auth_app
from auth_service.config import AuthConfig
from resource_service import create_app
from resource_service.config import ResourceConfig
from shared.dpop import authorization_token
from shared.errors import InvalidTokenError
from shared.jwk import public_jwk
from shared.jwt import StaticKeys, TokenVerifier
from tests.conftest import CHEAP_ARGON2_ENV, free_port, refresh_key_env, write_private_key, write_public_key
from tests.jwt_forge import (
    AUDIENCE,
    ISSUER,
    b64url,
    bad_time_claims,
    forge,
    kid_of,
    make_claims,
    respell_signature,
    sign,
)

LEEWAY = 30


@pytest.fixture
def verifier(rsa_private_key: rsa.RSAPrivateKey) -> TokenVerifier:
    keys = StaticKeys({kid_of(rsa_private_key): rsa_private_key.public_key()})
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def self_signed_cert_b64(key: rsa.RSAPrivateKey) -> str:
    """An X.509 certificate for `key`, DER in standard base64 as x5c wants (RFC 7515 §4.1.6)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def tamper_claims(token: str, **changes: object) -> str:
    """The token with its payload replaced, the original signature kept."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"


def bad_tokens(good: rsa.RSAPrivateKey, attacker: rsa.RSAPrivateKey) -> dict[str, str]:
    """Every token the verifier must refuse, by name."""
    kid = kid_of(good)
    now = int(time.time())
    claims = make_claims(scope="users:read users:write")
    cases: dict[str, str] = {}
    for alg in ("none", "None", "NONE", "nOnE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": kid}
        cases[f"alg {alg}"] = forge(header, claims)
        cases[f"alg {alg}, kept signature"] = forge(header, claims, b"\x00" * 256)
    # The classic RS/HS confusion: HMAC keyed with the public key's PEM, which anyone has.
    hs_header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    unsigned = forge(hs_header, claims).rsplit(".", 1)[0]
    for label, secret in (("pem", public_pem(good)), ("pem stripped", public_pem(good).strip())):
        mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        cases[f"HS256 with the public key {label}"] = f"{unsigned}.{b64url(mac)}"
    valid = sign(good, claims)
    cases["stripped signature"] = valid.rsplit(".", 1)[0] + "."
    cases["no signature part"] = valid.rsplit(".", 1)[0]
    cases["foreign key, trusted kid"] = sign(attacker, claims, headers={"kid": kid})
    cases["foreign key, its own kid"] = sign(attacker, claims)
    reader = sign(good, make_claims())
    cases["tampered scope"] = tamper_claims(reader, scope="users:read users:write")
    cases["tampered sub"] = tamper_claims(valid, sub="f" * 32)
    cases["tampered exp"] = tamper_claims(sign(good, make_claims(exp=now - 100)), exp=now + 3600)
    cases["signature of another token"] = (
        valid.rsplit(".", 1)[0] + "." + sign(good, make_claims(sub="e" * 32)).rsplit(".", 1)[1]
    )
    cases["RS512 by the trusted key"] = sign(good, claims, algorithm="RS512")
    cases["PS256 by the trusted key"] = sign(good, claims, algorithm="PS256")
    cases["expired"] = sign(good, make_claims(exp=now - LEEWAY - 5, iat=now - 600))
    cases["not yet valid (nbf)"] = sign(good, make_claims(nbf=now + LEEWAY + 60))
    cases["issued in the future (iat)"] = sign(good, make_claims(iat=now + LEEWAY + 60))
    cases["wrong issuer"] = sign(good, make_claims(iss="http://evil.test"))
    cases["wrong audience"] = sign(good, make_claims(aud="another-service"))
    cases["audience list without ours"] = sign(good, make_claims(aud=["a", "b"]))
    for claim in ("exp", "iat", "iss", "aud", "sub"):
        cases[f"missing {claim}"] = sign(good, make_claims(drop=(claim,)))
    cases["sub not a string"] = sign(good, make_claims(sub=12345))
    cases["scope not a string"] = sign(good, make_claims(scope=["users:read", "users:write"]))
    cases["exp not a number"] = sign(good, make_claims(exp="tomorrow"))
    cases["unknown kid"] = sign(good, claims, headers={"kid": "no-such-key"})
    cases["missing kid"] = sign(good, claims, headers={"kid": None})
    cases["kid not a string"] = forge({"alg": "RS256", "typ": "at+jwt", "kid": 7}, claims, b"x")
    attacker_jwk = public_jwk(attacker.public_key())
    attacker_url = "http://attacker.test/jwks.json"
    cert = self_signed_cert_b64(attacker)
    for name, value in (("jwk", attacker_jwk), ("jku", attacker_url), ("x5u", attacker_url),
                        ("x5c", [cert])):
        cases[f"{name} header, attacker kid"] = sign(attacker, claims, headers={name: value})
        cases[f"{name} header, trusted kid"] = sign(
            attacker, claims, headers={name: value, "kid": kid}
        )
        cases[f"{name} header, no kid"] = sign(attacker, claims, headers={name: value, "kid": None})
    cases["typ missing"] = sign(good, claims, headers={"typ": None})
    cases["typ JWT"] = sign(good, claims, headers={"typ": "JWT"})
    cases["typ refresh"] = sign(good, claims, headers={"typ": "refresh+jwt"})
    cases["100 KB token"] = sign(good, make_claims(padding="x" * 100_000))
    cases["signature re-spelled (spare bits set)"] = respell_signature(valid)
    cases["signature with == padding"] = valid + "=="
    cases["signature with !!!! appended"] = valid + "!!!!"
    cases.update(bad_time_claims(good))
    return cases


GARBAGE = [
    "", " ", ".", "..", "...", "abc", "a.b", "a.b.c", "a.b.c.d.e", "eyJ.eyJ.x",
    "тест.тест.тест", "\x00\x01.\x02.\x03", "=.=.=", "Bearer", "null", "{}", "[]",
    b64url(b"[1,2]") + "." + b64url(b"{}") + ".",
    b64url(b'{"alg":"RS256","typ":"at+jwt"') + ".e30.",
    b64url(b'"RS256"') + ".e30.",
    b64url(b'{"alg":"RS256","typ":"at+jwt","kid":"' + b"9" * 5000 + b'"}') + ".e30.",
    b64url(b'{"alg":"RS256","typ":"at+jwt","kid":' + b"9" * 5000 + b"}") + ".e30.",
    "a" * 9000,
]


def test_every_bad_token_is_refused(verifier, rsa_private_key, other_rsa_private_key):
    for name, token in bad_tokens(rsa_private_key, other_rsa_private_key).items():
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)
            pytest.fail(f"accepted: {name}")


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_refused(verifier, token):
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


def test_expired_token_says_expired(verifier, rsa_private_key):
    now = int(time.time())
    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(sign(rsa_private_key, make_claims(exp=now - LEEWAY - 5, iat=now - 600)))


def test_good_token_is_accepted(verifier, rsa_private_key):
    claims = verifier.verify(sign(rsa_private_key, make_claims(sub="a" * 32, scope="users:read")))
    assert claims["sub"] == "a" * 32 and claims["scope"] == "users:read"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_access_token_types_are_accepted(verifier, rsa_private_key, typ):
    verifier.verify(sign(rsa_private_key, headers={"typ": typ}))


def test_token_within_the_clock_skew_is_accepted(verifier, rsa_private_key):
    now = int(time.time())
    skewed = make_claims(exp=now - LEEWAY + 10, iat=now + LEEWAY - 10, nbf=now + LEEWAY - 10)
    verifier.verify(sign(rsa_private_key, skewed))


def test_second_trusted_key_is_accepted(rsa_private_key, other_rsa_private_key):
    keys = StaticKeys({kid_of(k): k.public_key() for k in (rsa_private_key, other_rsa_private_key)})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    verifier.verify(sign(rsa_private_key))
    verifier.verify(sign(other_rsa_private_key))


@pytest.mark.parametrize(
    "header",
    [None, "", " ", "Bearer", "Bearer ", "Bearer  ", "Basic dXNlcjpwYXNz", "Token abc",
     "Bearerabc", "Bearer a b", "Bearer\tabc", "abc", "Bearer: abc", "bearer\nabc"],
)
def test_malformed_authorization_headers_are_refused(header):
    with pytest.raises(InvalidTokenError):
        authorization_token(header)


@pytest.mark.parametrize("header", ["Bearer abc", "bearer abc", "BEARER abc", "Bearer  abc "])
def test_bearer_token_is_read(header):
    assert authorization_token(header) == ("bearer", "abc")


@pytest.fixture
def resource_client(tmp_path: Path, rsa_private_key):
    """The resource app trusting the test key, its Redis nowhere: tokens are checked without it."""
    config = ResourceConfig.from_env({
        "JWT_PUBLIC_KEY_FILE": str(write_public_key(rsa_private_key, tmp_path / "public.pem")),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
    })
    return create_app(config).test_client()


@pytest.mark.parametrize("path", ["/me", "/users", "/users/" + "a" * 32])
def test_app_answers_401_to_every_bad_token(resource_client, rsa_private_key, other_rsa_private_key,
                                            path):
    tokens = [*bad_tokens(rsa_private_key, other_rsa_private_key).values(), *GARBAGE]
    for token in tokens:
        response = resource_client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (token[:80], response.status_code)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"])
def test_app_answers_401_to_a_missing_or_malformed_header(resource_client, header):
    headers = {} if header is None else {"Authorization": header}
    response = resource_client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.get_json()["error"] == "invalid_token"


def test_app_says_expired(resource_client, rsa_private_key):
    now = int(time.time())
    token = sign(rsa_private_key, make_claims(exp=now - 600, iat=now - 1200))
    response = resource_client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.get_json()["error_description"]
    assert "expired" in response.headers["WWW-Authenticate"]


def test_app_accepts_a_good_token_without_redis(resource_client, rsa_private_key):
    token = sign(rsa_private_key, make_claims(sub="b" * 32, email="b@example.com"))
    response = resource_client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"id": "b" * 32, "email": "b@example.com", "scope": "users:read"}


def sign_by_hand(key: rsa.RSAPrivateKey, header: dict, claims: dict) -> str:
    """A correctly signed token whatever its header says (PyJWT would rewrite some headers)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def good_header(key: rsa.RSAPrivateKey) -> dict:
    return {"alg": "RS256", "typ": "at+jwt", "kid": kid_of(key)}


def test_a_critical_extension_is_refused_even_when_signed(verifier, rsa_private_key):
    header = {**good_header(rsa_private_key), "crit": ["exp"]}
    with pytest.raises(InvalidTokenError):
        verifier.verify(sign_by_hand(rsa_private_key, header, make_claims()))


def test_an_audience_list_holding_ours_is_accepted(verifier, rsa_private_key):
    claims = make_claims(aud=["other-api", AUDIENCE])
    assert verifier.verify(sign_by_hand(rsa_private_key, good_header(rsa_private_key), claims))["sub"]
    with pytest.raises(InvalidTokenError):
        verifier.verify(sign_by_hand(rsa_private_key, good_header(rsa_private_key), make_claims(aud=["other"])))


@pytest.mark.parametrize("bad", [{"exp": True}, {"exp": "9999999999"}, {"iat": None}, {"nbf": "0"},
                                 {"sub": 5}, {"scope": ["users:read"]}, {"iss": None}])
def test_signed_claims_of_the_wrong_type_are_refused(verifier, rsa_private_key, bad):
    token = sign_by_hand(rsa_private_key, good_header(rsa_private_key), make_claims(**bad))
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)


@pytest.mark.parametrize("segment", ["A", "AAAAA", "!!!!", "a=b", ""])
def test_segments_that_are_no_base64url_are_malformed(verifier, rsa_private_key, segment):
    head, body, sig = sign(rsa_private_key).split(".")
    for token in (f"{segment}.{body}.{sig}", f"{head}.{segment}.{sig}", f"{head}.{body}.{segment}"):
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)


def test_a_signed_payload_that_is_no_object_is_refused(verifier, rsa_private_key):
    signing_input = f"{b64url(json.dumps(good_header(rsa_private_key)).encode())}.{b64url(b'[1, 2]')}"
    signature = rsa_private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidTokenError):
        verifier.verify(f"{signing_input}.{b64url(signature)}")


def test_a_header_nested_past_the_stack_is_malformed_not_a_crash(verifier, rsa_private_key):
    head = b64url(b"[" * 5000)
    _, body, sig = sign(rsa_private_key).split(".")
    with pytest.raises(InvalidTokenError):
        verifier.verify(f"{head}.{body}.{sig}")


@pytest.fixture
def auth_client(tmp_path: Path, rsa_private_key):
    """The auth app signing with the test key, its Redis nowhere: its account endpoints check tokens first."""
    config = AuthConfig.from_env({
        "JWT_PRIVATE_KEY_FILE": str(write_private_key(rsa_private_key, tmp_path / "private.pem")),
        **refresh_key_env(tmp_path),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        **CHEAP_ARGON2_ENV,
    })
    return create_auth_app(config).test_client()


@pytest.mark.parametrize(("method", "path"), [("GET", "/sessions"), ("POST", "/logout/all"),
                                              ("DELETE", "/sessions/" + "f" * 32), ("POST", "/password")])
def test_auth_service_answers_401_to_every_bad_token(auth_client, rsa_private_key, other_rsa_private_key,
                                                     method, path):
    for token in [*bad_tokens(rsa_private_key, other_rsa_private_key).values(), *GARBAGE]:
        response = auth_client.open(path, method=method, headers={"Authorization": f"Bearer {token}"},
                                    json={"current_password": "x", "new_password": "y" * 8})
        assert response.status_code == 401, (token[:80], response.status_code)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert response.get_json()["error"] == "invalid_token"


def test_auth_service_says_expired(auth_client, rsa_private_key):
    now = int(time.time())
    token = sign(rsa_private_key, make_claims(exp=now - 600, iat=now - 1200))
    response = auth_client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "expired" in response.get_json()["error_description"]


# -- verified tokens remembered (shared/jwt.py VerifiedTokens) ----------------------------------


class MutableKeys:
    """A key source whose keys a test changes, as a JWKS refetch would."""

    def __init__(self, keys: dict[str, rsa.RSAPublicKey]) -> None:
        self.keys = keys

    def get_key(self, kid: str) -> rsa.RSAPublicKey | None:
        return self.keys.get(kid)


def test_a_remembered_token_gives_each_use_claims_of_its_own(verifier, rsa_private_key):
    token = sign(rsa_private_key)
    for _ in range(3):  # the first use verifies, the next ones are remembered
        claims = verifier.verify(token)
        assert claims["scope"] == "users:read" and claims["aud"] == AUDIENCE
        claims["scope"] = "users:read users:write"
        claims["aud"] = "someone-else"


def test_a_remembered_token_still_expires_and_is_not_valid_before_its_time(rsa_private_key, clock):
    clock.now = time.time()  # the first verify is PyJWT's too, on the system clock
    keys = StaticKeys({kid_of(rsa_private_key): rsa_private_key.public_key()})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, now=clock)
    claims = make_claims(exp=int(clock.now) + 60, iat=int(clock.now), nbf=int(clock.now) + 5)
    token = sign(rsa_private_key, claims)
    verifier.verify(token)
    clock.now = claims["exp"] + LEEWAY - 0.5
    assert verifier.verify(token)["sub"] == claims["sub"]  # within the leeway, as PyJWT has it
    clock.now = claims["exp"] + LEEWAY
    with pytest.raises(InvalidTokenError, match="expired"):
        verifier.verify(token)
    clock.now = claims["nbf"] - LEEWAY - 0.5  # the clock stepped back past nbf
    with pytest.raises(InvalidTokenError, match="not valid yet"):
        verifier.verify(token)
    # The verifier's clock decides the first use too, not only the later ones.
    later = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, leeway=LEEWAY, now=lambda: claims["exp"] + LEEWAY)
    with pytest.raises(InvalidTokenError, match="expired"):
        later.verify(token)


def test_a_remembered_token_fails_once_its_key_is_no_longer_trusted(rsa_private_key):
    kid = kid_of(rsa_private_key)
    keys = MutableKeys({kid: rsa_private_key.public_key()})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    token = sign(rsa_private_key)
    verifier.verify(token)
    del keys.keys[kid]  # rotated out of the key set
    with pytest.raises(InvalidTokenError, match="unknown key"):
        verifier.verify(token)
    # The kid now names another key: the token's signature is checked again, and fails.
    keys.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(InvalidTokenError):
        verifier.verify(token)
    keys.keys[kid] = rsa_private_key.public_key()  # the same key back (a new object, as a refetch makes)
    assert verifier.verify(token)["sub"] == make_claims()["sub"]


def test_only_tokens_that_verified_are_remembered_and_never_for_another(verifier, rsa_private_key):
    token = sign(rsa_private_key)
    verifier.verify(token)
    header, payload, signature = token.split(".")
    # The same signature over another payload, and the same payload with another signature.
    other_payload = b64url(json.dumps(make_claims(scope="users:read users:write")).encode())
    for tampered in (f"{header}.{other_payload}.{signature}", f"{header}.{payload}.{signature[:-2]}AA"):
        for _ in range(2):
            with pytest.raises(InvalidTokenError):
                verifier.verify(tampered)
    assert len(verifier._verified) == 1  # noqa: SLF001


def test_verified_tokens_are_bounded(rsa_private_key):
    keys = StaticKeys({kid_of(rsa_private_key): rsa_private_key.public_key()})
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, remember=2)
    tokens = [sign(rsa_private_key, make_claims(jti=f"jti-{i}")) for i in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._verified) == 2  # noqa: SLF001
    assert all(verifier.verify(token)["jti"] == f"jti-{i}" for i, token in enumerate(tokens))
