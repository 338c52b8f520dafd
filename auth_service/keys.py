"""The auth service's RSA signing keys: the only module that loads a private key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.config import ConfigError
from shared.jwk import public_jwk, rsa_thumbprint

MIN_KEY_BITS = 2048


@dataclass(frozen=True)
class KeyRing:
    """The key that signs new tokens, and every public key that may still verify one."""

    signing_key: rsa.RSAPrivateKey
    signing_kid: str
    public_keys: dict[str, rsa.RSAPublicKey]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """RFC 7517 §5 key set of every verifying key, the signing key first."""
        return {"keys": [public_jwk(key) for key in self.public_keys.values()]}


def load_key_ring(pems: tuple[bytes, ...]) -> KeyRing:
    """Parse the configured PEM private keys (the first signs); ConfigError when one is unusable."""
    keys = []
    for pem in pems:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError("JWT_PRIVATE_KEY_FILE: not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
            raise ConfigError(f"JWT_PRIVATE_KEY_FILE: need an RSA key of {MIN_KEY_BITS} bits or more")
        keys.append(key)
    public_keys = {rsa_thumbprint(k.public_key()): k.public_key() for k in keys}
    return KeyRing(keys[0], rsa_thumbprint(keys[0].public_key()), public_keys)


def generate_key(path: Path, bits: int = 2048) -> str:
    """Write a new RSA private key to `path` (mode 0600, never over an existing file); its kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_secret_file(path, pem)
    return rsa_thumbprint(key.public_key())


def write_secret_file(path: Path, data: bytes) -> None:
    """Write a key to a new file only its owner may read (mode 0600); FileExistsError over a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
