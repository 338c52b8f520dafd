"""Refresh-token format and derivation, key ids, access-token claims."""

from __future__ import annotations

import base64

import jwt
import pytest

from auth_service.keys import load_key_ring
from auth_service.tokens import (
    AccessTokenIssuer,
    RefreshTokenKeys,
    generate_refresh_key,
    load_refresh_keys,
    parse_refresh_token,
)
from shared.config import ConfigError
from shared.jwk import public_jwk, rsa_key_from_jwk, rsa_thumbprint
from tests.conftest import write_private_key

USER = "0123456789abcdef0123456789abcdef"
SESSION = "fedcba9876543210fedcba9876543210"
KEYS = RefreshTokenKeys.from_secrets((b"a refresh-token key of 32 bytes!",))


def test_a_refresh_token_names_its_session_and_carries_a_256_bit_secret():
    token = KEYS.mint(USER, SESSION, 0, 0)
    user_id, session_id, kid, generation, branch, secret = token.split(".")
    assert (user_id, session_id, kid, generation, branch) == (USER, SESSION, KEYS.minting_kid, "0", "0")
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert parse_refresh_token(token) == (USER, SESSION)
    assert KEYS.verify(token) == (USER, SESSION, 0, 0)


def test_each_generation_and_branch_has_its_own_token_and_the_same_one_every_time():
    tokens = {KEYS.mint(USER, SESSION, g, b) for g in range(3) for b in range(3)}
    assert len(tokens) == 9
    assert KEYS.mint(USER, SESSION, 2, 1) == KEYS.mint(USER, SESSION, 2, 1)
    assert KEYS.verify(KEYS.mint(USER, SESSION, 2, 1)) == (USER, SESSION, 2, 1)


def test_a_token_is_recognised_only_with_the_key_that_made_it():
    token = KEYS.mint(USER, SESSION, 5, 0)
    other = RefreshTokenKeys.from_secrets((b"another refresh-token key, 32 b.",))
    assert other.verify(token) is None
    both = RefreshTokenKeys({**other.keys, **KEYS.keys})
    assert both.verify(token) == (USER, SESSION, 5, 0)
    assert both.mint(USER, SESSION, 5, 0).split(".")[2] == other.minting_kid


@pytest.mark.parametrize("change", ["user", "session", "generation", "branch", "secret", "kid"])
def test_changing_any_part_of_a_token_makes_it_unknown(change):
    parts = KEYS.mint(USER, SESSION, 5, 1).split(".")
    index = {"user": 0, "session": 1, "kid": 2, "generation": 3, "branch": 4, "secret": 5}[change]
    parts[index] = {"user": SESSION, "session": USER, "kid": "AAAAAAAA", "generation": "6", "branch": "0",
                    "secret": "A" * 43}[change]
    assert KEYS.verify(".".join(parts)) is None


@pytest.mark.parametrize(
    "token",
    [None, 42, "", "abc", f"{USER}.{SESSION}", f"{USER}.{SESSION}.short",
     f"{USER}.{SESSION}.{'A' * 43}.extra", f"{USER.upper()}.{SESSION}.{'A' * 43}",
     f"{USER}.{SESSION}.{'A' * 42}=", f"{USER}.{SESSION}.{'A' * 43}\n",
     f"{USER}.{SESSION}.AAAAAAAA.01.0.{'A' * 43}", f"{USER}.{SESSION}.AAAAAAAA.1.-1.{'A' * 43}",
     f"{USER}.{SESSION}.AAAAAAAA.{'9' * 16}.0.{'A' * 43}"],
)
def test_malformed_refresh_tokens_are_not_parsed(token):
    assert KEYS.verify(token) is None
    assert parse_refresh_token(token) is None


def test_a_legacy_token_names_its_session_to_be_checked_against_the_store():
    legacy = f"{USER}.{SESSION}.{'A' * 43}"
    assert KEYS.verify(legacy) == (USER, SESSION, None, None)


def test_refresh_key_files_round_trip_and_short_keys_are_refused(tmp_path):
    kid = generate_refresh_key(tmp_path / "refresh.key")
    assert (tmp_path / "refresh.key").stat().st_mode & 0o777 == 0o600
    keys = load_refresh_keys(((tmp_path / "refresh.key").read_bytes(),))
    assert keys.minting_kid == kid
    with pytest.raises(FileExistsError):
        generate_refresh_key(tmp_path / "refresh.key")
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_KEY_FILE"):
        load_refresh_keys((base64.urlsafe_b64encode(b"short"),))
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_KEY_FILE"):
        load_refresh_keys((b"not base64 at all!!",))


def test_thumbprint_matches_rfc7638_example():
    # RFC 7638 §3.1
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
         "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
         "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
         "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    key = rsa_key_from_jwk({"kty": "RSA", "n": n, "e": "AQAB"})
    assert rsa_thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_jwk_round_trips(rsa_private_key):
    public = rsa_private_key.public_key()
    jwk = public_jwk(public)
    assert {jwk["kty"], jwk["alg"], jwk["use"]} == {"RSA", "RS256", "sig"}
    assert rsa_key_from_jwk(jwk).public_numbers() == public.public_numbers()


def test_access_token_has_the_contract_header_and_claims(tmp_path, rsa_private_key):
    pem = write_private_key(rsa_private_key, tmp_path / "k.pem").read_bytes()
    ring = load_key_ring((pem,))
    issuer = AccessTokenIssuer(ring, issuer="https://auth.test", audience="api", ttl=60, now=lambda: 1_000_000)
    token = issuer.issue(subject=USER, email="a@example.com", scope="users:read", session_id=SESSION)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": rsa_thumbprint(rsa_private_key.public_key())}
    claims = jwt.decode(token, rsa_private_key.public_key(), algorithms=["RS256"], audience="api",
                        options={"verify_exp": False})
    assert claims["iss"] == "https://auth.test" and claims["sub"] == USER and claims["aud"] == "api"
    assert claims["iat"] == 1_000_000 and claims["exp"] == 1_000_060
    assert claims["scope"] == "users:read" and claims["sid"] == SESSION and claims["email"] == "a@example.com"
    assert len(claims["jti"]) >= 16


def test_key_ring_signs_with_the_first_key_and_verifies_with_all(tmp_path, rsa_private_key, other_rsa_private_key):
    first = write_private_key(other_rsa_private_key, tmp_path / "new.pem").read_bytes()
    second = write_private_key(rsa_private_key, tmp_path / "old.pem").read_bytes()
    ring = load_key_ring((first, second))
    assert ring.signing_kid == rsa_thumbprint(other_rsa_private_key.public_key())
    assert set(ring.public_keys) == {ring.signing_kid, rsa_thumbprint(rsa_private_key.public_key())}
    assert [k["kid"] for k in ring.jwks()["keys"]][0] == ring.signing_kid
