"""DPoP proofs (RFC 9449 §4.3) against every malformed proof we could think of, the RFCs' own examples,
the iat window, replays, nonces, and the answers each failure gets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared import dpop
from shared.dpop import (
    MemoryReplayStore,
    NonceRequiredError,
    NonceSchedule,
    ProofError,
    ProofVerifier,
    access_token_hash,
    jwk_thumbprint,
    normalize_url,
    request_url,
)
from shared.errors import DPoPChallengeError, InvalidDPoPProofError, UseDPoPNonceError
from tests.dpop_forge import forge_proof, make_proof, new_key, private_jwk, public_jwk, thumbprint
from tests.jwt_forge import b64url

URL = "https://api.example.com/me"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"  # the verifier only hashes it


class Clock:
    def __init__(self, now: float | None = None) -> None:
        self.now = float(int(time.time())) if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    k = new_key("ES256")
    assert isinstance(k, ec.EllipticCurvePrivateKey)
    return k


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> ProofVerifier:
    return ProofVerifier(MemoryReplayStore(now=clock), window=60)


def verify(verifier: ProofVerifier, proof: str, method: str = "GET", url: str = URL, **kwargs: Any) -> dpop.Proof:
    return verifier.verify([proof], method=method, url=url, **kwargs)


# --- the RFCs' own examples ------------------------------------------------------------------------

# RFC 7638 §3.1: the RSA key of RFC 7517 appendix A.1 and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiF"
         "V4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d"
         "0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-"
         "csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
# RFC 9449 §4.2: the example proof for POST https://server.example.com/token, made at iat 1562262616,
# whose key §6.1 gives the thumbprint of.
RFC9449_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0Rsc"
    "EJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
    ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwia"
    "WF0IjoxNTYyMjYyNjE2fQ"
    ".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def test_rfc7638_thumbprint_example() -> None:
    assert jwk_thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rfc9449_example_proof_verifies_with_the_clock_at_its_iat() -> None:
    verifier = ProofVerifier(MemoryReplayStore(now=Clock(1562262616 + 5)))
    proof = verifier.verify([RFC9449_PROOF], method="POST", url="https://server.example.com/token", jkt=RFC9449_JKT)
    assert proof.jkt == RFC9449_JKT
    assert proof.jti == "-BwC3ESc6acc2lTc"


def test_rfc9449_example_proof_is_too_old_today() -> None:
    verifier = ProofVerifier(MemoryReplayStore())
    with pytest.raises(ProofError, match="iat is .* s behind the server's clock"):
        verifier.verify([RFC9449_PROOF], method="POST", url="https://server.example.com/token")


def test_rfc9449_example_ath() -> None:
    # RFC 9449 §7.1: the access token of the example request, and the ath of its proof.
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


@pytest.mark.parametrize(
    ("jwk", "members"),
    [
        ({"kty": "EC", "crv": "P-256", "x": "X", "y": "Y", "kid": "ignored", "use": "sig"},
         '{"crv":"P-256","kty":"EC","x":"X","y":"Y"}'),
        ({"kty": "OKP", "crv": "Ed25519", "x": "X", "alg": "EdDSA"}, '{"crv":"Ed25519","kty":"OKP","x":"X"}'),
        ({"e": "AQAB", "kty": "RSA", "n": "N", "alg": "RS256"}, '{"e":"AQAB","kty":"RSA","n":"N"}'),
    ],
)
def test_thumbprint_hashes_the_required_members_only_in_order(jwk: dict[str, str], members: str) -> None:
    assert jwk_thumbprint(jwk) == b64url(hashlib.sha256(members.encode()).digest())


# --- proofs that pass --------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_each_allowed_algorithm_passes(verifier: ProofVerifier, alg: str) -> None:
    signer = new_key(alg)
    proof = verify(verifier, make_proof(signer, "GET", URL, alg=alg, access_token=TOKEN), access_token=TOKEN,
                   jkt=thumbprint(signer))
    assert proof.jkt == thumbprint(signer)


@pytest.mark.parametrize(
    "htu",
    [
        URL,
        URL + "?page=2",  # query and fragment are not compared (RFC 9449 §4.3 item 9)
        URL + "#frag",
        "HTTPS://API.Example.COM/me",  # scheme and host are case-insensitive
        "https://api.example.com:443/me",  # the default port
        "https://api.example.com/%6De",  # percent-encoding of an unreserved character
    ],
)
def test_htu_matches_after_normalisation(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey, htu: str) -> None:
    verify(verifier, make_proof(key, "GET", htu))


@pytest.mark.parametrize("offset", [-60, -30, 0, 30, 60])
def test_iat_within_the_window_either_way(verifier: ProofVerifier, clock: Clock, key: ec.EllipticCurvePrivateKey,
                                          offset: int) -> None:
    verify(verifier, make_proof(key, "GET", URL, iat=clock.now + offset))


def test_the_window_is_a_setting(clock: Clock, key: ec.EllipticCurvePrivateKey) -> None:
    verifier = ProofVerifier(MemoryReplayStore(now=clock), window=300)
    verify(verifier, make_proof(key, "GET", URL, iat=clock.now - 299))
    with pytest.raises(ProofError, match="within 300 s"):
        verify(verifier, make_proof(key, "GET", URL, iat=clock.now - 302))


def test_request_url_comes_from_the_public_url_not_the_host_header() -> None:
    assert request_url("https://Auth.Example.com/", "/token") == "https://auth.example.com/token"
    assert request_url("https://example.com/auth", "/token") == "https://example.com/auth/token"
    assert request_url("http://127.0.0.1:8001", "/login") == "http://127.0.0.1:8001/login"
    with pytest.raises(ValueError):
        request_url("ftp://example.com", "/x")


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://a.example/x?y#z", "https://a.example/x"),
        ("http://A.example:80", "http://a.example/"),
        ("http://[::1]:8001/me", "http://[::1]:8001/me"),
        ("https://user@a.example/x", None),
        ("https://a.example:99999/x", None),
        ("javascript:alert(1)", None),
        ("/relative", None),
    ],
)
def test_normalize_url(url: str, normal: str | None) -> None:
    assert normalize_url(url) == normal


# --- proofs that fail: one row per way to be wrong ---------------------------------------------------

def _signed_by_other_key(key: ec.EllipticCurvePrivateKey) -> str:
    other = new_key("ES256")
    return make_proof(other, "GET", URL, headers={"jwk": public_jwk(key)})


def _header(proof: str, **changes: Any) -> str:
    head, body, sig = proof.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header.update(changes)
    return ".".join([b64url(json.dumps(header).encode()), body, sig])


def _rsa_jwk(bits: int) -> dict[str, str]:
    """The public JWK of an RSA modulus of `bits` bits (no key need exist for the check to refuse it)."""
    n = (1 << (bits - 1)) | 1 | (0x5A5A << 8)
    return {"kty": "RSA", "e": "AQAB", "n": b64url(n.to_bytes(bits // 8, "big"))}


def _now_claims(**changes: Any) -> dict[str, Any]:
    return {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time()), **changes}


MALFORMED: list[tuple[str, Any, str]] = [
    # (case, how to make it from a good key, the message it gets)
    ("not a JWS", lambda k: "not-a-jws", "not a JWS"),
    ("two segments", lambda k: "eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJ9", "not a JWS"),
    ("four segments", lambda k: make_proof(k, "GET", URL) + ".x", "not a JWS"),
    ("JWE-like", lambda k: "a.b.c.d.e", "not a JWS"),
    ("empty signature (alg none style)", lambda k: make_proof(k, "GET", URL).rsplit(".", 1)[0] + ".", "not a JWS"),
    ("spaces", lambda k: "a b.c.d", "not a JWS"),
    ("impossible base64 length", lambda k: "a.b.c", "bad base64url"),
    ("header not JSON", lambda k: b64url(b"{nope") + ".e30.c2ln", "header is not JSON"),
    ("header a list", lambda k: b64url(b"[1]") + ".e30.c2ln", "header is not a JSON object"),
    ("header not UTF-8", lambda k: b64url(b"\xff\xfe") + ".e30.c2ln", "header is not JSON"),
    ("header nested deeply", lambda k: b64url(b"[" * 2500 + b"]" * 2500) + ".e30.c2ln", "header is not"),
    ("no typ", lambda k: make_proof(k, "GET", URL, headers={"typ": None}), "typ is not dpop+jwt"),
    ("typ JWT", lambda k: make_proof(k, "GET", URL, headers={"typ": "JWT"}), "typ is not dpop+jwt"),
    ("typ at+jwt", lambda k: make_proof(k, "GET", URL, headers={"typ": "at+jwt"}), "typ is not dpop+jwt"),
    ("alg none", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(k)}, _now_claims()),
     "alg must be one of"),
    ("alg HS256", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
                                        _now_claims()), "alg must be one of"),
    ("alg ES384", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "ES384", "jwk": public_jwk(k)}, _now_claims()),
     "alg must be one of"),
    ("alg missing", lambda k: forge_proof({"typ": "dpop+jwt", "jwk": public_jwk(k)}, _now_claims()),
     "alg must be one of"),
    ("crit", lambda k: make_proof(k, "GET", URL, headers={"crit": ["exp"], "exp": 1}), "crit"),
    ("no jwk", lambda k: make_proof(k, "GET", URL, headers={"jwk": None}), "no jwk header"),
    ("jwk a string", lambda k: make_proof(k, "GET", URL, headers={"jwk": "key"}), "no jwk header"),
    ("EC private key in jwk", lambda k: make_proof(k, "GET", URL, headers={"jwk": private_jwk(k)}), "private key"),
    ("RSA private key in jwk", lambda k: make_proof(
        r := new_key("RS256"), "GET", URL, headers={"jwk": private_jwk(r)}), "private key"),
    ("OKP private key in jwk", lambda k: make_proof(
        e := new_key("EdDSA"), "GET", URL, headers={"jwk": private_jwk(e)}), "private key"),
    ("symmetric key in jwk", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}, _now_claims()), "private key"),
    ("RSA-512", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "RS256", "jwk": _rsa_jwk(512)}, _now_claims()),
     "512 bits"),
    ("RSA-1024", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "PS256", "jwk": _rsa_jwk(1024)}, _now_claims()),
     "1024 bits"),
    ("RSA-16384", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "RS256", "jwk": _rsa_jwk(16384)}, _now_claims()),
     "16384 bits"),
    ("RSA huge exponent", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "RS256", "jwk": {**_rsa_jwk(2048), "e": b64url(b"\x01" * 200 + b"\x01")}},
        _now_claims()), "exponent"),
    ("ES256 with an RSA key", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "ES256", "jwk": _rsa_jwk(2048)},
                                                    _now_claims()), "kty EC and crv P-256"),
    ("ES256 with a P-384 key", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {**public_jwk(k), "crv": "P-384"}}, _now_claims()), "crv P-256"),
    ("EdDSA with Ed448", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed448", "x": "AA"}}, _now_claims()),
     "crv Ed25519"),
    ("EC point off the curve", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {**public_jwk(k), "y": public_jwk(k)["x"]}}, _now_claims()),
     "not a valid public key"),
    ("EC coordinates not strings", lambda k: forge_proof(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {**public_jwk(k), "x": 1}}, _now_claims()),
     "not a valid public key"),
    ("signed by another key", _signed_by_other_key, "signature does not verify"),
    ("signature of zeros", lambda k: forge_proof({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(k)},
                                                 _now_claims()), "signature does not verify"),
    ("header changed after signing", lambda k: _header(make_proof(k, "GET", URL), kid="x"),
     "signature does not verify"),
    ("payload not JSON", lambda k: _signed_payload(k, b"not json"), "payload is not JSON"),
    ("payload a string", lambda k: _signed_payload(k, b'"x"'), "payload is not a JSON object"),
    ("no jti", lambda k: make_proof(k, "GET", URL, drop=("jti",)), "jti of 1 to 256"),
    ("empty jti", lambda k: make_proof(k, "GET", URL, claims={"jti": ""}), "jti of 1 to 256"),
    ("jti a number", lambda k: make_proof(k, "GET", URL, claims={"jti": 7}), "jti of 1 to 256"),
    ("jti of 300 characters", lambda k: make_proof(k, "GET", URL, claims={"jti": "j" * 300}), "jti of 1 to 256"),
    ("jti of 10 KB", lambda k: make_proof(k, "GET", URL, claims={"jti": "j" * 10_000}), "over 8192 bytes"),
    ("proof of 100 KB", lambda k: make_proof(k, "GET", URL, claims={"pad": "p" * 100_000}), "over 8192 bytes"),
    ("no iat", lambda k: make_proof(k, "GET", URL, drop=("iat",)), "numeric iat"),
    ("iat a string", lambda k: make_proof(k, "GET", URL, claims={"iat": str(int(time.time()))}), "numeric iat"),
    ("iat true", lambda k: make_proof(k, "GET", URL, claims={"iat": True}), "numeric iat"),
    ("iat NaN", lambda k: _signed_payload(k, b'{"jti":"j","htm":"GET","htu":"%s","iat":NaN}' % URL.encode()),
     "numeric iat"),
    ("iat Infinity", lambda k: _signed_payload(k, b'{"jti":"j","htm":"GET","htu":"%s","iat":1e400}' % URL.encode()),
     "numeric iat"),
    ("iat 10**400", lambda k: _signed_payload(
        k, b'{"jti":"j","htm":"GET","htu":"%s","iat":1%s}' % (URL.encode(), b"0" * 400)), "numeric iat"),
    ("iat 61 s old", lambda k: make_proof(k, "GET", URL, iat=time.time() - 62), "s behind the server's clock"),
    ("iat 61 s ahead", lambda k: make_proof(k, "GET", URL, iat=time.time() + 62), "s ahead of the server's clock"),
    ("iat a year ahead", lambda k: make_proof(k, "GET", URL, iat=time.time() + 3e7), "ahead of"),
    ("no htm", lambda k: make_proof(k, "GET", URL, drop=("htm",)), "htm is not this request's method, GET"),
    ("htm POST", lambda k: make_proof(k, "POST", URL), "htm is not this request's method"),
    ("htm lower-case", lambda k: make_proof(k, "get", URL), "htm is not this request's method"),
    ("no htu", lambda k: make_proof(k, "GET", URL, drop=("htu",)), "htu is not this request's URL"),
    ("htu a list", lambda k: make_proof(k, "GET", URL, claims={"htu": [URL]}), "htu is not this request's URL"),
    ("htu another path", lambda k: make_proof(k, "GET", "https://api.example.com/users"), "htu is not"),
    ("htu another host", lambda k: make_proof(k, "GET", "https://evil.example.com/me"), "htu is not"),
    ("htu http", lambda k: make_proof(k, "GET", "http://api.example.com/me"), "htu is not"),
    ("htu another port", lambda k: make_proof(k, "GET", "https://api.example.com:8443/me"), "htu is not"),
    ("htu with userinfo", lambda k: make_proof(k, "GET", "https://api.example.com@evil.example/me"), "htu is not"),
    ("htu a path prefix", lambda k: make_proof(k, "GET", "https://api.example.com/me/more"), "htu is not"),
]


def _signed_payload(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """A correctly signed proof whose payload bytes are `payload`, whatever they are."""
    from jwt.algorithms import ECAlgorithm

    head = b64url(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}).encode())
    signing_input = f"{head}.{b64url(payload)}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64url(signature)}"


@pytest.mark.parametrize(("case", "make", "message"), MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_proof_is_refused(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey, case: str,
                                    make: Any, message: str) -> None:
    with pytest.raises(ProofError, match=re.escape(message)):
        verify(verifier, make(key))


@pytest.mark.parametrize(("headers", "message"), [([], "exactly one"), (["a.b.c", "a.b.c"], "exactly one")])
def test_exactly_one_dpop_header(verifier: ProofVerifier, headers: list[str], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verifier.verify(headers, method="GET", url=URL)


def test_ath_is_required_at_a_resource(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ProofError, match="ath is not the hash of this access token"):
        verify(verifier, make_proof(key, "GET", URL), access_token=TOKEN)


def test_ath_of_another_token_is_refused(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ProofError, match="ath is not the hash"):
        verify(verifier, make_proof(key, "GET", URL, access_token=TOKEN + "x"), access_token=TOKEN)


def test_a_jti_with_a_lone_surrogate_is_remembered_not_a_crash(verifier: ProofVerifier,
                                                               key: ec.EllipticCurvePrivateKey) -> None:
    # JSON's "\\ud800" decodes to a str that strict UTF-8 cannot encode: it must not make a 500.
    proof = make_proof(key, "GET", URL, claims={"jti": "\ud800"})
    assert verify(verifier, proof).jti == "\ud800"
    with pytest.raises(ProofError, match="used before"):
        verify(verifier, proof)


def test_non_ascii_ath_is_refused_not_a_crash(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    # hmac.compare_digest raises TypeError on non-ASCII str: a signed proof must not make a 500.
    with pytest.raises(ProofError, match="ath is not the hash"):
        verify(verifier, make_proof(key, "GET", URL, claims={"ath": "\u00e9" * 43}), access_token=TOKEN)


def test_proof_of_another_key_than_the_token_is_bound_to(verifier: ProofVerifier,
                                                         key: ec.EllipticCurvePrivateKey) -> None:
    thief = new_key("ES256")
    with pytest.raises(ProofError, match="another key than the token is bound to"):
        verify(verifier, make_proof(thief, "GET", URL, access_token=TOKEN), access_token=TOKEN, jkt=thumbprint(key))


# --- replays -------------------------------------------------------------------------------------------

def test_a_proof_works_once(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    proof = make_proof(key, "GET", URL)
    verify(verifier, proof)
    with pytest.raises(ProofError, match="used before"):
        verify(verifier, proof)


def test_a_replay_after_the_window_is_too_old(verifier: ProofVerifier, clock: Clock,
                                             key: ec.EllipticCurvePrivateKey) -> None:
    proof = make_proof(key, "GET", URL, iat=clock.now)
    verify(verifier, proof)
    clock.now += 61
    with pytest.raises(ProofError, match="behind"):
        verify(verifier, proof)


def test_a_proof_from_the_future_is_remembered_until_its_iat_plus_the_window(
        verifier: ProofVerifier, clock: Clock, key: ec.EllipticCurvePrivateKey) -> None:
    # Keycloak #43505: remembering a jti for the window after *now* lets a proof dated ahead
    # of the clock be replayed once the server forgot it and before its iat is too old.
    proof = make_proof(key, "GET", URL, iat=clock.now + 60)
    verify(verifier, proof)
    clock.now += 119
    with pytest.raises(ProofError, match="used before"):
        verify(verifier, proof)


def test_the_same_jti_from_two_keys_is_two_proofs(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    verify(verifier, make_proof(key, "GET", URL, claims={"jti": "same"}))
    verify(verifier, make_proof(new_key(), "GET", URL, claims={"jti": "same"}))


def test_a_refused_proof_is_not_remembered(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    # Presented with the wrong token first (a man in the middle), the proof still works for its own.
    proof = make_proof(key, "GET", URL, access_token=TOKEN)
    with pytest.raises(ProofError):
        verify(verifier, proof, access_token=TOKEN + "x")
    verify(verifier, proof, access_token=TOKEN)


def test_memory_store_is_bounded_and_forgets_the_oldest() -> None:
    clock = Clock(1000.0)
    store = MemoryReplayStore(capacity=3, now=clock)
    for key in ("a", "b", "c", "d"):
        assert store.check(key, 1000.0, 60) == (1000.0, "fresh")
    assert store.check("d", 1000.0, 60)[1] == "replayed"
    assert store.check("a", 1000.0, 60)[1] == "fresh"  # forgotten to make room: the documented limit
    assert len(store._expiry) <= 3


def test_memory_store_forgets_what_expired() -> None:
    clock = Clock(1000.0)
    store = MemoryReplayStore(now=clock)
    store.check("a", 1000.0, 60)
    clock.now = 1061.0
    assert store.check("b", 1061.0, 60)[1] == "fresh"
    assert "a" not in store._expiry
    assert store.check("a", 1061.0, 60)[1] == "fresh"


# --- nonces ----------------------------------------------------------------------------------------------

SECRET = b"0123456789abcdef0123456789abcdef"


def test_nonce_is_required_and_named(clock: Clock, key: ec.EllipticCurvePrivateKey) -> None:
    nonces = NonceSchedule(SECRET, lifetime=300)
    verifier = ProofVerifier(MemoryReplayStore(now=clock), nonces=nonces)
    with pytest.raises(NonceRequiredError) as caught:
        verify(verifier, make_proof(key, "GET", URL))
    assert caught.value.nonce == nonces.current(clock.now)
    verify(verifier, make_proof(key, "GET", URL, nonce=caught.value.nonce))
    with pytest.raises(NonceRequiredError):
        verify(verifier, make_proof(key, "GET", URL, nonce="made-up"))


def test_nonce_lives_one_to_two_slots(clock: Clock, key: ec.EllipticCurvePrivateKey) -> None:
    nonces = NonceSchedule(SECRET, lifetime=300)
    clock.now = 300 * 1000 + 1
    verifier = ProofVerifier(MemoryReplayStore(now=clock), nonces=nonces)
    nonce = nonces.current(clock.now)
    clock.now += 300  # the next slot: still the previous one's nonce
    verify(verifier, make_proof(key, "GET", URL, nonce=nonce, iat=clock.now))
    clock.now += 300  # two slots on: gone
    with pytest.raises(NonceRequiredError):
        verify(verifier, make_proof(key, "GET", URL, nonce=nonce, iat=clock.now))


def test_replicas_with_one_secret_derive_the_same_nonces() -> None:
    assert NonceSchedule(SECRET).current(1e9) == NonceSchedule(SECRET).current(1e9 + 1)
    assert NonceSchedule(SECRET).current(1e9) != NonceSchedule(SECRET[::-1]).current(1e9)
    assert NonceSchedule(SECRET).current(1e9) != NonceSchedule(SECRET).current(1e9 + 300)
    assert NonceSchedule(SECRET, server="https://a").current(1e9) != NonceSchedule(SECRET, server="https://b").current(1e9)
    with pytest.raises(ValueError):
        NonceSchedule(b"short")


@pytest.mark.parametrize("nonce", [None, 7, "", "x" * 43, ["n"]])
def test_nonce_of_any_other_shape_is_refused(nonce: object) -> None:
    assert not NonceSchedule(SECRET).accepts(nonce, 1e9)


# --- what each failure is answered --------------------------------------------------------------------

def test_token_endpoint_answers() -> None:
    invalid = dpop.token_endpoint_error(ProofError("the DPoP proof is not a JWS"))
    assert isinstance(invalid, InvalidDPoPProofError)
    assert (invalid.status_code, invalid.error) == (400, "invalid_dpop_proof")
    nonce = dpop.token_endpoint_error(NonceRequiredError("N", "use the nonce"))
    assert isinstance(nonce, UseDPoPNonceError)
    assert (nonce.status_code, nonce.error, nonce.headers()) == (400, "use_dpop_nonce", {"DPoP-Nonce": "N"})


def test_resource_answers() -> None:
    invalid = dpop.resource_error(ProofError("the DPoP proof is not a JWS"))
    assert invalid.status_code == 401
    assert invalid.headers() == {
        "WWW-Authenticate": 'DPoP error="invalid_dpop_proof", error_description="the DPoP proof is not a JWS", '
                            'algs="ES256 EdDSA RS256 PS256"'
    }
    nonce = dpop.resource_error(NonceRequiredError("N", "use the nonce"))
    assert nonce.headers()["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert nonce.headers()["DPoP-Nonce"] == "N"


BOUND = {"sub": "u", "cnf": {"jkt": "JKT"}}
UNBOUND = {"sub": "u"}


@pytest.mark.parametrize(
    ("scheme", "claims", "required", "message"),
    [
        ("bearer", BOUND, False, "DPoP-bound: send it as Authorization: DPoP"),
        ("bearer", BOUND, True, "DPoP-bound: send it as Authorization: DPoP"),
        ("bearer", UNBOUND, True, "DPoP-bound access tokens only"),
        ("dpop", UNBOUND, False, "not DPoP-bound: send it as Authorization: Bearer"),
        ("dpop", {"sub": "u", "cnf": "JKT"}, False, "not DPoP-bound"),
    ],
)
def test_token_presented_against_its_binding(verifier: ProofVerifier, scheme: str, claims: dict[str, Any],
                                             required: bool, message: str) -> None:
    with pytest.raises(DPoPChallengeError, match=message) as caught:
        dpop.check_token_use(verifier, scheme=scheme, access_token=TOKEN, claims=claims, proofs=[], method="GET",
                             url=URL, required=required)
    assert caught.value.error == "invalid_token"
    assert 'algs="ES256 EdDSA RS256 PS256"' in caught.value.headers()["WWW-Authenticate"]


def test_unbound_bearer_token_passes_when_optional(verifier: ProofVerifier) -> None:
    assert dpop.check_token_use(verifier, scheme="bearer", access_token=TOKEN, claims=UNBOUND, proofs=[],
                                method="GET", url=URL, required=False) is None


def test_bound_token_with_its_proof_passes(verifier: ProofVerifier, key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"sub": "u", "cnf": {"jkt": thumbprint(key)}}
    proof = dpop.check_token_use(verifier, scheme="dpop", access_token=TOKEN, claims=claims,
                                 proofs=[make_proof(key, "GET", URL, access_token=TOKEN)], method="GET", url=URL,
                                 required=True)
    assert proof is not None and proof.jkt == thumbprint(key)


def test_bound_token_with_a_bad_proof_is_invalid_dpop_proof(verifier: ProofVerifier,
                                                           key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"sub": "u", "cnf": {"jkt": thumbprint(key)}}
    with pytest.raises(DPoPChallengeError) as caught:
        dpop.check_token_use(verifier, scheme="dpop", access_token=TOKEN, claims=claims, proofs=[], method="GET",
                             url=URL, required=False)
    assert caught.value.error == "invalid_dpop_proof"


def test_rsa_key_sizes_in_range_pass(verifier: ProofVerifier) -> None:
    signer = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    verify(verifier, make_proof(signer, "GET", URL, alg="PS256"))


@pytest.mark.parametrize(
    ("env", "urls"),
    [
        ({}, ("http://127.0.0.1:8002",)),
        ({"RESOURCE_PORT": "9100"}, ("http://127.0.0.1:9100",)),
        ({"RESOURCE_HOST": "0.0.0.0"}, ("http://127.0.0.1:8002",)),  # what a container listens on
        ({"RESOURCE_HOST": "::1"}, ("http://[::1]:8002",)),
        ({"RESOURCE_PUBLIC_URL": "https://api.example.com, https://api2.example.com"},
         ("https://api.example.com", "https://api2.example.com")),
    ],
)
def test_resource_public_urls(env: dict[str, str], urls: tuple[str, ...]) -> None:
    from resource_service.config import ResourceConfig

    assert ResourceConfig.from_env({"JWT_ISSUER": "https://auth.example.com", **env}).public_urls == urls


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DPOP": "maybe"}, "DPOP must be optional or required"),
        ({"DPOP_NONCE": "yes"}, "DPOP_NONCE must be on or off"),
        ({"DPOP_NONCE_SECRET": "short"}, "at least 32 characters"),
        ({"DPOP_PROOF_WINDOW": "0"}, "DPOP_PROOF_WINDOW"),
        ({"DPOP_NONCE_LIFETIME": "5"}, "DPOP_NONCE_LIFETIME"),
        ({"RESOURCE_PUBLIC_URL": "ftp://x"}, "RESOURCE_PUBLIC_URL"),
    ],
)
def test_bad_dpop_settings_stop_the_service(env: dict[str, str], message: str) -> None:
    from resource_service.config import ResourceConfig
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        ResourceConfig.from_env({"JWT_ISSUER": "https://auth.example.com", **env})
