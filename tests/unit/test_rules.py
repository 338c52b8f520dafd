"""Input rules: emails, passwords, names."""

from __future__ import annotations

import pytest

from auth_service.accounts import normalize_email
from auth_service.config import HashingConfig
from auth_service.passwords import PasswordHasher, check_password_rules
from shared.accounts import check_name
from shared.errors import InvalidRequestError


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM \t", "alice@example.com"),
        ("ＡＬＩＣＥ@example.com", "alice@example.com"),  # fullwidth letters, NFKC
        ("o'brien+tag@sub.example.org", "o'brien+tag@sub.example.org"),
    ],
)
def test_emails_are_trimmed_lowercased_and_nfkc(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [None, 5, "", "alice", "@example.com", "alice@", "alice@localhost", "al ice@example.com",
     "alice\x00@example.com", "alice\u200b@example.com", "a" * 250 + "@example.com"],
)
def test_bad_emails_are_invalid_requests(raw):
    with pytest.raises(InvalidRequestError):
        normalize_email(raw)


@pytest.mark.parametrize("password", ["12345678", "pässwörd", "x" * 1024, "€" * 341])
def test_passwords_of_8_chars_to_1024_bytes_pass(password):
    assert check_password_rules(password) == password


@pytest.mark.parametrize("password", [None, 12345678, "", "1234567", "x" * 1025, "€" * 342])
def test_other_passwords_are_invalid_requests(password):
    with pytest.raises(InvalidRequestError):
        check_password_rules(password)


def test_names_are_optional_bounded_and_printable():
    assert check_name(None) == ""
    assert check_name("  Ada Lovelace ") == "Ada Lovelace"
    for bad in (5, "x" * 201, "evil\nname", "bell\x07"):
        with pytest.raises(InvalidRequestError):
            check_name(bad)


@pytest.fixture(scope="module")
def hasher():
    return PasswordHasher(HashingConfig(8, 1, 1))


def test_hash_is_an_argon2id_phc_string_with_a_fresh_salt(hasher):
    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")
    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert first != second
    assert "correct horse" not in first


def test_verify_accepts_only_the_same_password(hasher):
    stored = hasher.hash("correct horse")
    assert hasher.verify("correct horse", stored)
    assert not hasher.verify("correct horsE", stored)
    assert not hasher.verify("correct horse ", stored)


def test_long_passwords_are_not_truncated(hasher):
    base = "p" * 1000
    stored = hasher.hash(base + "A" * 24)
    assert hasher.verify(base + "A" * 24, stored)
    assert not hasher.verify(base + "A" * 23 + "B", stored)


def test_verify_without_a_hash_says_no(hasher):
    assert not hasher.verify("anything at all", None)


def test_needs_rehash_when_the_cost_changed(hasher):
    stored = hasher.hash("correct horse")
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(HashingConfig(16, 1, 1)).needs_rehash(stored)


def test_default_cost_meets_owasp_minimum():
    # OWASP's Password Storage Cheat Sheet: Argon2id with at least m=19 MiB, t=2, p=1.
    stored = PasswordHasher(HashingConfig.from_env({})).hash("correct horse")
    params = dict(pair.split("=") for pair in stored.split("$")[3].split(","))
    assert stored.startswith("$argon2id$")
    assert int(params["m"]) >= 19_456 and int(params["t"]) >= 2 and int(params["p"]) >= 1
