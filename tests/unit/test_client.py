"""The client's reading of RFC 6750 challenges: only an expired access token is worth a refresh."""

from __future__ import annotations

import pytest
from session_client import ClientError, SessionEndedError, is_expired_challenge

from shared.errors import InsufficientScopeError, InvalidTokenError


def challenge(error: Exception) -> str:
    """The WWW-Authenticate value the services send for `error`."""
    assert isinstance(error, InvalidTokenError | InsufficientScopeError)
    return error.headers()["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("value", "expired"),
    [
        (challenge(InvalidTokenError("the access token expired")), True),
        ('bearer error="invalid_token", error_description="token expired at noon"', True),
        (challenge(InvalidTokenError("the access token is signed by an unknown key")), False),
        (challenge(InvalidTokenError("no access token: send Authorization: Bearer <token>")), False),
        (challenge(InsufficientScopeError("users:write")), False),
        ('Bearer error="insufficient_scope", error_description="expired"', False),
        ('Basic realm="expired"', False),
        ('Bearer realm="api"', False),
        ("", False),
    ],
)
def test_only_an_expired_token_challenge_counts(value, expired):
    assert is_expired_challenge(value) is expired


def test_a_session_that_ended_says_so_and_is_a_client_error():
    error = SessionEndedError(400, "invalid_grant", "the refresh token is unknown, expired, revoked or reused")
    assert isinstance(error, ClientError) and error.error == "invalid_grant"
    assert str(error).startswith("the session ended, log in again: 400 invalid_grant")
