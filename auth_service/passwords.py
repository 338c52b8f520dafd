"""Password rules and Argon2id hashing (RFC 9106) with `cryptography`, stored as PHC strings."""

from __future__ import annotations

import os
import unicodedata

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from auth_service.config import HashingConfig
from shared.errors import InvalidRequestError

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 1024
SALT_BYTES = 16
HASH_BYTES = 32


def check_password_rules(password: object) -> str:
    """The password if it is a string of 8 characters to 1024 bytes; InvalidRequestError if not."""
    if not isinstance(password, str):
        raise InvalidRequestError("password must be a string")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidRequestError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise InvalidRequestError(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
    return password


def _password_bytes(password: str) -> bytes:
    # NIST SP 800-63B §5.1.1.2: normalise so that the same typed password hashes the same.
    return unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")


class PasswordHasher:
    """Hashes and verifies passwords at one Argon2id cost."""

    def __init__(self, cost: HashingConfig) -> None:
        self._memory_kib = cost.memory_kib
        self._iterations = cost.iterations
        self._lanes = cost.lanes
        # Verified against when an email is unknown, so that both cases take as long.
        self._dummy_hash = self.hash(os.urandom(16).hex())

    def hash(self, password: str) -> str:
        """A PHC string `$argon2id$v=19$m=..,t=..,p=..$salt$hash` with a fresh salt."""
        kdf = Argon2id(
            salt=os.urandom(SALT_BYTES),
            length=HASH_BYTES,
            iterations=self._iterations,
            lanes=self._lanes,
            memory_cost=self._memory_kib,
        )
        return kdf.derive_phc_encoded(_password_bytes(password))

    def verify(self, password: str, phc_hash: str | None) -> bool:
        """Whether `password` matches `phc_hash`; with no hash, spends the same time and says no."""
        try:
            Argon2id.verify_phc_encoded(_password_bytes(password), phc_hash or self._dummy_hash)
        except (InvalidKey, ValueError):
            return False
        return phc_hash is not None

    def needs_rehash(self, phc_hash: str) -> bool:
        """Whether `phc_hash` was made at another cost than the configured one."""
        return f"$m={self._memory_kib},t={self._iterations},p={self._lanes}$" not in phc_hash
