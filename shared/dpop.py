"""DPoP (RFC 9449): proof verification, RFC 7638 thumbprints, server nonces; one module for both services.

A client makes a key pair and never sends the private key. Each request carries a
`DPoP` header, a JWS the private key signed over the request's method and URL (and,
at a resource, the access token's hash); tokens issued with a proof carry the key's
thumbprint (`cnf.jkt`), so a stolen token is useless without the key.

`ProofVerifier.verify` does RFC 9449 §4.3's checks in a fixed order: the cheap
syntactic ones, the signature (PyJWT's algorithms over `cryptography`), what the
proof claims about the request, and last the replay store, which also reads the
clock (Redis TIME on the auth service: every replica judges `iat` alike).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, g, request
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError

from shared import redis_keys
from shared.config import ConfigError, env_int
from shared.errors import (
    DPoPChallengeError,
    InvalidDPoPProofError,
    InvalidTokenError,
    OAuthError,
    UseDPoPNonceError,
)
from shared.store import RedisClient, load_script

PROOF_TYPE = "dpop+jwt"
# Asymmetric only (RFC 9449 §4.3 item 5): none and the HS* family are never in this list.
ALGORITHMS = ("ES256", "EdDSA", "RS256", "PS256")
ALGORITHMS_PARAM = " ".join(ALGORITHMS)  # the `algs` of a WWW-Authenticate: DPoP challenge (§7.1)
MAX_PROOF_BYTES = 8 * 1024
MAX_JTI_LENGTH = 256  # RFC 9449 asks for 96 random bits; a jti of kilobytes is not a proof's
MIN_RSA_BITS = 2048
# Bounds on what one proof may make the verifier compute: a huge modulus or exponent costs milliseconds.
MAX_RSA_BITS = 8192
MAX_RSA_EXPONENT_BITS = 32
# iat as a number of seconds: finite, and before the year 33658.
MAX_IAT = 10**12
DEFAULT_WINDOW = 60
# Members that make a JWK a private (or symmetric) key: such a proof header is refused outright.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Which key each algorithm takes: (kty, crv or None).
KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "RS256": ("RSA", None), "PS256": ("RSA", None)}
# RFC 7638 §3.2: the required members of each key type, in lexical order.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
DEFAULT_PORTS = {"http": 80, "https": 443}

_ALGORITHM_OBJECTS = {name: get_default_algorithms()[name] for name in ALGORITHMS}


class ProofError(Exception):
    """A proof failed a check. The message says which and is safe to show: it holds no secret."""


class NonceRequiredError(Exception):
    """The proof lacks a current server nonce (RFC 9449 §8); `nonce` is the one to send."""

    def __init__(self, nonce: str, description: str) -> None:
        super().__init__(description)
        self.nonce = nonce
        self.description = description


@dataclass(frozen=True)
class Proof:
    """A proof that passed every check."""

    jkt: str  # RFC 7638 thumbprint of its key: what `cnf.jkt` holds
    jti: str
    iat: float
    now: float  # the verifying clock's time, for the answer's fresh nonce


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    if len(segment) % 4 == 1:  # the one length base64 cannot have
        raise ProofError("the DPoP proof is not a JWS (bad base64url)")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, or nested past the stack
        raise ProofError(f"the DPoP proof's {part} is not JSON") from None
    if not isinstance(value, dict):
        raise ProofError(f"the DPoP proof's {part} is not a JSON object")
    return value


def _canonical_members(jwk: Mapping[str, Any]) -> str | None:
    """RFC 7638 §3.3: the key's required members, sorted, without whitespace; None when it has not all."""
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        return None
    return json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)


def _digest(canonical: str) -> str:
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3: base64url SHA-256 of the key's required members, sorted, without whitespace."""
    canonical = _canonical_members(jwk)
    if canonical is None:
        raise ProofError("the proof's jwk is not an EC, OKP or RSA public key")
    return _digest(canonical)


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def normalize_url(url: str) -> str | None:
    """An http(s) URL as htu compares it (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2-3): scheme and host
    lower-cased, the default port dropped, the path percent-decoded, query and fragment ignored.
    None when it is no such URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{unquote(parts.path) or '/'}"


def request_url(public_url: str, path: str) -> str:
    """The URL a client called, from the service's configured public URL and the path it routed
    (Flask's decoded `request.path`): never from the Host header (Keycloak #39332)."""
    base = normalize_url(public_url)
    if base is None:
        raise ValueError(f"not an http(s) URL: {public_url!r}")
    return base.rstrip("/") + path


class NonceSchedule:
    """Server nonces (RFC 9449 §8, §9) that every replica derives alike: HMAC-SHA256 of the time
    slot under a shared secret. The current and the previous slot's nonces are accepted, so a
    nonce lives from one to two `lifetime`s, and a replica needs no state and no coordination."""

    def __init__(self, secret: bytes, lifetime: int = 300, *, server: str = "") -> None:
        """`server` (its public URL) keeps two services given one secret from accepting each other's."""
        if len(secret) < 16:
            raise ValueError("a nonce secret needs at least 16 bytes")
        self._secret = secret
        self._label = f"dpop-nonce:{server}:".encode()
        self.lifetime = lifetime

    def _nonce(self, slot: int) -> str:
        return _b64url(hmac.new(self._secret, self._label + b"%d" % slot, hashlib.sha256).digest())

    def current(self, now: float) -> str:
        """The nonce to hand out at `now`."""
        return self._nonce(int(now // self.lifetime))

    def accepts(self, nonce: object, now: float) -> bool:
        """Whether `nonce` is this slot's or the previous one's."""
        if not isinstance(nonce, str):
            return False
        slot = int(now // self.lifetime)
        given = nonce.encode("utf-8", "replace")
        return any(hmac.compare_digest(given, self._nonce(s).encode("ascii")) for s in (slot, slot - 1))


Verdict = Literal["fresh", "replayed", "outside"]


class ReplayStore(Protocol):
    """Remembers the jtis of accepted proofs (RFC 9449 §11.1), and is the clock `iat` is judged by."""

    def check(self, key: str, iat: float, window: int) -> tuple[float, Verdict]:
        """The store's time now, and `outside` when `iat` is more than `window` seconds from it
        (nothing remembered), else `replayed` when `key` was seen, else `fresh`: then `key` is
        remembered until `iat + window`, the last moment a proof with that `iat` passes."""
        ...


class RedisReplayStore:
    """The auth service's jtis: SET NX with an expiry, in one script that reads Redis TIME, so every
    replica shares the memory and the clock."""

    def __init__(self, client: RedisClient) -> None:
        self._script = client.register_script(load_script("shared", "dpop_jti.lua"))

    def check(self, key: str, iat: float, window: int) -> tuple[float, Verdict]:
        verdict, now_ms = self._script(keys=[key], args=[repr(float(iat)), window])
        return int(now_ms) / 1000, verdict.decode()


class MemoryReplayStore:
    """A resource worker's jtis, in its own memory, bounded to `capacity` entries.

    What this cannot see: a proof replayed to another worker or replica within its window.
    A replay there needs the proof itself (a copy of the request, with its token), and gets
    what the original got: the same method on the same URL, with the same token, within
    `window` seconds of its `iat`. It cannot reach another URL, another method, or outlive
    the window. When full of live entries, the oldest is forgotten first.
    """

    def __init__(self, capacity: int = 100_000, now: Callable[[], float] = time.time) -> None:
        self._capacity = capacity
        self._now = now
        self._expiry: dict[str, float] = {}
        self._order: deque[tuple[str, float]] = deque()  # (key, expiry) as remembered, oldest first
        self._lock = threading.Lock()

    def check(self, key: str, iat: float, window: int) -> tuple[float, Verdict]:
        now = self._now()
        if abs(now - iat) > window:
            return now, "outside"
        with self._lock:
            while self._order and (len(self._order) >= self._capacity or self._order[0][1] < now):
                old_key, old_expiry = self._order.popleft()
                if self._expiry.get(old_key) == old_expiry:
                    del self._expiry[old_key]
            if self._expiry.get(key, -1.0) >= now:
                return now, "replayed"
            self._expiry[key] = iat + window
            self._order.append((key, iat + window))
        return now, "fresh"


def _public_key(alg: str, jwk: Any) -> tuple[Any, str]:
    """The public key of the proof's `jwk` header, checked against `alg` (RFC 9449 §4.3 items 5, 7),
    and its RFC 7638 thumbprint."""
    if not isinstance(jwk, dict):
        raise ProofError("the DPoP proof has no jwk header")
    if PRIVATE_MEMBERS & jwk.keys():
        raise ProofError("the proof's jwk holds a private key: send the public key only")
    kty, crv = KEY_TYPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise ProofError(f"{alg} needs a jwk of kty {kty}" + (f" and crv {crv}" if crv else ""))
    canonical = _canonical_members(jwk)
    if canonical is None:
        raise ProofError("the proof's jwk is not a valid public key")
    return _key_of(alg, canonical), _digest(canonical)


@functools.lru_cache(maxsize=4096)
def _key_of(alg: str, canonical: str) -> Any:
    """The key of a JWK's required members, parsed once: a client signs many proofs with one key.
    Only keys that pass are kept (a raised ProofError is not cached)."""
    kty = KEY_TYPES[alg][0]
    try:
        key = _ALGORITHM_OBJECTS[alg].from_jwk(canonical)
    except (InvalidKeyError, ValueError, TypeError, KeyError):  # bad members, a point off the curve
        raise ProofError("the proof's jwk is not a valid public key") from None
    if kty == "RSA":
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            bits = key.key_size
            raise ProofError(f"the proof's RSA key has {bits} bits: {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted")
        if key.public_numbers().e.bit_length() > MAX_RSA_EXPONENT_BITS:
            raise ProofError("the proof's RSA public exponent is too large")
    return key


def _seconds(value: object) -> bool:
    """Whether `value` is a NumericDate we can compute with: JSON's NaN and Infinity, or 10**400, are not."""
    return isinstance(value, int | float) and not isinstance(value, bool) and -MAX_IAT < value < MAX_IAT


class ProofVerifier:
    """Checks DPoP proofs for one service: a replay store, an `iat` window either way, nonces or none."""

    def __init__(
        self, replay: ReplayStore, *, window: int = DEFAULT_WINDOW, nonces: NonceSchedule | None = None
    ) -> None:
        self._replay = replay
        self.window = window
        self.nonces = nonces

    def verify(
        self,
        headers: Sequence[str],
        *,
        method: str,
        url: str | Sequence[str],
        access_token: str | None = None,
        jkt: str | None = None,
    ) -> Proof:
        """The proof among the request's `DPoP` headers, checked per RFC 9449 §4.3 for a request of
        `method` to `url` (see `request_url`; several: the same resource under each of the service's
        public names); at a resource, for `access_token`, whose `cnf.jkt` is `jkt`. ProofError or
        NonceRequiredError when it does not pass."""
        urls = (url,) if isinstance(url, str) else tuple(url)
        if len(headers) != 1 or "," in headers[0]:  # a server joins repeated headers with commas
            raise ProofError("send exactly one DPoP header")
        proof = headers[0]
        if len(proof) > MAX_PROOF_BYTES:
            raise ProofError(f"the DPoP proof is over {MAX_PROOF_BYTES} bytes")
        if not COMPACT_JWS.fullmatch(proof):
            raise ProofError("the DPoP proof is not a JWS in compact serialization")
        encoded_header, encoded_claims, encoded_signature = proof.split(".")
        header = _json_object(encoded_header, "header")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
            raise ProofError(f"the DPoP proof's typ is not {PROOF_TYPE}")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise ProofError(f"the DPoP proof's alg must be one of {ALGORITHMS_PARAM}")
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extension
            raise ProofError("the DPoP proof uses an unsupported extension (crit)")
        key, thumbprint = _public_key(alg, header.get("jwk"))
        signing_input = f"{encoded_header}.{encoded_claims}".encode("ascii")
        if not _ALGORITHM_OBJECTS[alg].verify(signing_input, key, _b64decode(encoded_signature)):
            raise ProofError("the DPoP proof's signature does not verify with its jwk")
        claims = _json_object(encoded_claims, "payload")
        jti, raw_iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise ProofError(f"the DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters")
        if not _seconds(raw_iat):
            raise ProofError("the DPoP proof needs a numeric iat")
        iat = float(raw_iat)  # type: ignore[arg-type]
        if claims.get("htm") != method:
            raise ProofError(f"the DPoP proof's htm is not this request's method, {method}")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalize_url(htu) not in {normalize_url(u) for u in urls}:
            raise ProofError(f"the DPoP proof's htu is not this request's URL, {urls[0]} (query and fragment aside)")
        if access_token is not None:
            ath = claims.get("ath")
            expected = access_token_hash(access_token).encode("ascii")
            if not isinstance(ath, str) or not hmac.compare_digest(ath.encode("utf-8", "replace"), expected):
                raise ProofError("the DPoP proof's ath is not the hash of this access token")
        if jkt is not None and not hmac.compare_digest(thumbprint, jkt):
            raise ProofError("the DPoP proof is signed by another key than the token is bound to")
        # Last: what passes the stateless checks is remembered, so that no forgery fills the store.
        # surrogatepass: JSON may decode a jti to lone surrogates, which strict UTF-8 cannot encode.
        jti_digest = hashlib.sha256(f"{thumbprint}.{jti}".encode("utf-8", "surrogatepass")).hexdigest()
        store_key = redis_keys.dpop_jti_key(jti_digest)
        now, verdict = self._replay.check(store_key, iat, self.window)
        if verdict == "outside":
            offset = iat - now
            side = "ahead of" if offset > 0 else "behind"
            raise ProofError(
                f"the DPoP proof's iat is {abs(offset):.0f} s {side} the server's clock ({int(now)}); "
                f"proofs are accepted within {self.window} s of it"
            )
        if verdict == "replayed":
            raise ProofError("the DPoP proof was used before: make a new proof (a new jti) for each request")
        if self.nonces is not None and not self.nonces.accepts(claims.get("nonce"), now):
            raise NonceRequiredError(
                self.nonces.current(now),
                "the DPoP proof must carry the server's current nonce: see the DPoP-Nonce header",
            )
        return Proof(jkt=thumbprint, jti=jti, iat=iat, now=now)


def token_endpoint_error(exc: ProofError | NonceRequiredError) -> OAuthError:
    """The auth service's answer to a proof that failed (RFC 9449 §5, §8): 400 either way."""
    if isinstance(exc, NonceRequiredError):
        return UseDPoPNonceError(exc.nonce, exc.description)
    return InvalidDPoPProofError(str(exc))


def resource_error(exc: ProofError | NonceRequiredError) -> DPoPChallengeError:
    """A resource's answer to a proof that failed (RFC 9449 §7.1, §9): 401 with a DPoP challenge."""
    if isinstance(exc, NonceRequiredError):
        return DPoPChallengeError("use_dpop_nonce", exc.description, algs=ALGORITHMS_PARAM, nonce=exc.nonce)
    return DPoPChallengeError("invalid_dpop_proof", str(exc), algs=ALGORITHMS_PARAM)


def token_refusal(description: str) -> DPoPChallengeError:
    """A resource's answer to a token presented the wrong way for its binding (RFC 9449 §7.1)."""
    return DPoPChallengeError("invalid_token", description, algs=ALGORITHMS_PARAM)


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The `cnf.jkt` an access token is bound to (RFC 9449 §6.1), or None for an unbound token."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


def check_token_use(
    verifier: ProofVerifier,
    *,
    scheme: str,
    access_token: str,
    claims: Mapping[str, Any],
    proofs: Sequence[str],
    method: str,
    url: str | Sequence[str],
    required: bool,
) -> Proof | None:
    """At a resource, after the token itself verified: does the way it came match its binding?

    `scheme` is the Authorization scheme, lower-cased (`bearer` or `dpop`). A bound token needs
    the DPoP scheme and a proof by its key carrying its `ath`; an unbound one is refused over
    DPoP, and as Bearer too when the service `required` DPoP. DPoPChallengeError otherwise.
    """
    jkt = bound_key(claims)
    if scheme != "dpop":
        if jkt is not None:
            raise token_refusal("this access token is DPoP-bound: send it as Authorization: DPoP, with a proof")
        if required:
            raise token_refusal("this service takes DPoP-bound access tokens only")
        return None
    if jkt is None:
        raise token_refusal("this access token is not DPoP-bound: send it as Authorization: Bearer")
    try:
        return verifier.verify(proofs, method=method, url=url, access_token=access_token, jkt=jkt)
    except (ProofError, NonceRequiredError) as exc:
        raise resource_error(exc) from None


def authorization_token(authorization: str | None) -> tuple[str, str]:
    """The scheme, `bearer` or `dpop`, and the token of an Authorization header (RFC 6750 §2.1,
    RFC 9449 §7.1); InvalidTokenError for anything else."""
    if not authorization:
        raise InvalidTokenError("no access token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme not in ("bearer", "dpop") or not token or " " in token:
        raise InvalidTokenError("the Authorization header is not 'Bearer <token>' or 'DPoP <token>'")
    return scheme, token


@dataclass(frozen=True)
class DPoPConfig:
    """A service's DPoP settings (README, Sender-constrained tokens)."""

    required: bool  # DPOP=required: tokens are bound or refused; optional: unbound ones work as before
    nonces: bool  # DPOP_NONCE=on: proofs carry a server nonce (RFC 9449 §8, §9)
    window: int  # DPOP_PROOF_WINDOW: seconds a proof's iat may be from the clock, either way
    nonce_lifetime: int  # DPOP_NONCE_LIFETIME: seconds of one nonce slot; a nonce lives one to two
    nonce_secret: bytes | None  # DPOP_NONCE_SECRET: what replicas derive nonces from

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DPoPConfig:
        """Read the DPOP_* variables; ConfigError names a bad one."""
        mode = environ.get("DPOP", "").strip().lower() or "optional"
        if mode not in ("optional", "required"):
            raise ConfigError(f"DPOP must be optional or required, got {mode!r}")
        nonce = environ.get("DPOP_NONCE", "").strip().lower() or "off"
        if nonce not in ("on", "off"):
            raise ConfigError(f"DPOP_NONCE must be on or off, got {nonce!r}")
        secret = environ.get("DPOP_NONCE_SECRET", "").strip()
        if secret and len(secret) < 32:
            raise ConfigError("DPOP_NONCE_SECRET must be at least 32 characters")
        return cls(
            required=mode == "required",
            nonces=nonce == "on",
            window=env_int(environ, "DPOP_PROOF_WINDOW", DEFAULT_WINDOW, minimum=1, maximum=600),
            nonce_lifetime=env_int(environ, "DPOP_NONCE_LIFETIME", 300, minimum=10, maximum=86_400),
            nonce_secret=secret.encode() if secret else None,
        )


class DPoP:
    """A service's DPoP policy as a Flask extension: the request's proof, checked against the
    service's public URL (never the Host header), and a fresh `DPoP-Nonce` on the answers to
    requests whose proof passed (RFC 9449 §8.2), so that clients rarely meet use_dpop_nonce."""

    def __init__(
        self, app: Flask, verifier: ProofVerifier, *, public_urls: Sequence[str], required: bool
    ) -> None:
        """`public_urls`: the service's URLs as clients call it, the canonical one first."""
        for url in public_urls:
            request_url(url, "/")  # a bad URL stops the service at start
        if not public_urls:
            raise ValueError("a DPoP service needs its public URL")
        self.verifier = verifier
        self.public_urls = tuple(public_urls)
        self.required = required
        app.extensions["dpop"] = self
        if verifier.nonces is not None:  # without nonces, no hook on every answer
            app.after_request(self._send_nonce)

    def _url(self) -> tuple[str, ...]:
        return tuple(request_url(base, request.path) for base in self.public_urls)

    def token_request_key(self) -> str | None:
        """At a token endpoint: the thumbprint of the request's proof, None without one (unless
        required). InvalidDPoPProofError or UseDPoPNonceError when it does not pass."""
        proofs = request.headers.getlist("DPoP")
        if not proofs:
            if self.required:
                raise InvalidDPoPProofError("this server issues DPoP-bound tokens only: send a DPoP proof")
            return None
        try:
            proof = self.verifier.verify(proofs, method=request.method, url=self._url())
        except (ProofError, NonceRequiredError) as exc:
            raise token_endpoint_error(exc) from None
        g.dpop_proof = proof
        return proof.jkt

    def check_token_use(self, scheme: str, access_token: str, claims: Mapping[str, Any]) -> None:
        """At a protected endpoint, after the token verified: see `check_token_use`."""
        dpop = scheme == "dpop"  # a Bearer request has no proof to check: no URLs to build for one
        proof = check_token_use(
            self.verifier, scheme=scheme, access_token=access_token, claims=claims,
            proofs=request.headers.getlist("DPoP") if dpop else (), method=request.method,
            url=self._url() if dpop else (), required=self.required,
        )
        if proof is not None:
            g.dpop_proof = proof

    def _send_nonce(self, response: Response) -> Response:
        proof = g.get("dpop_proof")
        if proof is not None and self.verifier.nonces is not None:
            response.headers["DPoP-Nonce"] = self.verifier.nonces.current(proof.now)
        return response


def dpop_extension() -> DPoP | None:
    """The current app's DPoP extension, if it has one."""
    return current_app.extensions.get("dpop")
