"""Refresh-token format and derivation, key ids, access-token claims."""

from __future__ import annotations

import base64

import jwt
import pytest

from auth_service.keys import load_key_ring
from auth_service.tokens import (
    AccessTokenIssuer,
    new_nonce,
    new_refresh_token,
    parse_refresh_token,
    successor_token,
)
from shared.jwk import public_jwk, rsa_key_from_jwk, rsa_thumbprint
from tests.conftest import write_private_key

USER = "0123456789abcdef0123456789abcdef"
SESSION = "fedcba9876543210fedcba9876543210"


def test_refresh_token_carries_256_random_bits_and_names_its_session():
    token = new_refresh_token(USER, SESSION)
    user_id, session_id, secret = token.split(".")
    assert (user_id, session_id) == (USER, SESSION)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert new_refresh_token(USER, SESSION) != token
    assert parse_refresh_token(token) == (USER, SESSION)


def test_successor_is_deterministic_per_nonce_and_unguessable_without_it():
    token = new_refresh_token(USER, SESSION)
    nonce = new_nonce()
    assert successor_token(token, nonce) == successor_token(token, nonce)
    assert successor_token(token, nonce) != successor_token(token, new_nonce())
    assert successor_token(token, nonce) != token
    assert parse_refresh_token(successor_token(token, nonce)) == (USER, SESSION)


@pytest.mark.parametrize(
    "token",
    [None, 42, "", "abc", f"{USER}.{SESSION}", f"{USER}.{SESSION}.short",
     f"{USER}.{SESSION}.{'A' * 43}.extra", f"{USER.upper()}.{SESSION}.{'A' * 43}",
     f"{USER}.{SESSION}.{'A' * 42}=", f"{USER}.{SESSION}.{'A' * 43}\n"],
)
def test_malformed_refresh_tokens_are_not_parsed(token):
    assert parse_refresh_token(token) is None


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
