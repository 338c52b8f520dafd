"""The Python client's DPoP parts: its proofs pass the services' own verifier, its reading of
nonce requests, and a DPoP challenge that says the token expired."""

from __future__ import annotations

import time

import pytest
import requests
from session_client import DPoPKey, asks_for_nonce, is_expired_challenge

from shared.dpop import MemoryReplayStore, NonceSchedule, ProofVerifier, jwk_thumbprint, resource_error, token_refusal
from shared.dpop import NonceRequiredError as Nonce


def test_its_proofs_pass_the_services_verifier() -> None:
    key = DPoPKey()
    verifier = ProofVerifier(MemoryReplayStore())
    proof = key.proof("get", "https://api.example.com/users?limit=5#x", access_token="tok")
    checked = verifier.verify([proof], method="GET", url="https://api.example.com/users", access_token="tok",
                              jkt=key.thumbprint)
    assert checked.jkt == key.thumbprint
    assert abs(checked.iat - time.time()) < 5


def test_its_thumbprint_is_rfc7638() -> None:
    key = DPoPKey()
    assert key.thumbprint == jwk_thumbprint(key._jwk)
    assert "d" not in key._jwk  # the proof's jwk is public
    assert key.thumbprint in repr(key) and "PRIVATE" not in repr(key)


def test_with_a_nonce() -> None:
    nonces = NonceSchedule(b"s" * 32)
    verifier = ProofVerifier(MemoryReplayStore(), nonces=nonces)
    key = DPoPKey()
    with pytest.raises(Nonce):
        verifier.verify([key.proof("POST", "https://a/token")], method="POST", url="https://a/token")
    nonce = nonces.current(time.time())
    verifier.verify([key.proof("POST", "https://a/token", nonce=nonce)], method="POST", url="https://a/token")


def answer(status: int, headers: dict[str, str], body: bytes = b"{}") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = body
    return response


@pytest.mark.parametrize(
    ("response", "asks"),
    [
        (answer(400, {"DPoP-Nonce": "n"}, b'{"error": "use_dpop_nonce"}'), True),
        (answer(401, {"DPoP-Nonce": "n", **resource_error(Nonce("n", "use it")).headers()}), True),
        (answer(400, {}, b'{"error": "use_dpop_nonce"}'), False),  # no nonce to use
        (answer(400, {"DPoP-Nonce": "n"}, b'{"error": "invalid_dpop_proof"}'), False),
        (answer(400, {"DPoP-Nonce": "n"}, b"not json"), False),
        (answer(401, {"DPoP-Nonce": "n", "WWW-Authenticate": 'DPoP error="invalid_token"'}), False),
        (answer(200, {"DPoP-Nonce": "n"}), False),
    ],
)
def test_asks_for_nonce(response: requests.Response, asks: bool) -> None:
    assert asks_for_nonce(response) is asks


def test_an_expired_token_over_dpop_is_worth_a_refresh() -> None:
    assert is_expired_challenge(token_refusal("the access token expired").headers()["WWW-Authenticate"])
    assert not is_expired_challenge(token_refusal("this access token is DPoP-bound").headers()["WWW-Authenticate"])
