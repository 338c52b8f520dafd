"""The auth service's request and answer shapes (see shared/shapes.py): the handlers validate
bodies with them, and auth_service/openapi.py documents them from the same classes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from auth_service.accounts import MAX_EMAIL_LENGTH
from auth_service.passwords import MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS
from shared.accounts import MAX_NAME_LENGTH
from shared.shapes import Shape

GrantType = Literal["password", "refresh_token", "client_credentials"]


class Registration(Shape):
    """A new account: its email, password and display name."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"email": "ada@example.com", "password": "correct horse battery", "name": "Ada Lovelace"}],
    })

    email: str = Field(json_schema_extra={"format": "email", "maxLength": MAX_EMAIL_LENGTH})
    password: str = Field(
        description=f"At least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes of UTF-8; "
        "never truncated.",
        # Documented only: the byte limit and what makes an email are the stores' rules.
        json_schema_extra={"minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_BYTES},
    )
    name: str | None = Field(
        default=None,
        description="Printable characters only (no control or format characters).",
        json_schema_extra={"maxLength": MAX_NAME_LENGTH},
    )


class Credentials(Shape):
    """What logs in."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"email": "ada@example.com", "password": "correct horse battery"}],
    })

    email: str
    password: str


class RefreshToken(Shape):
    """A refresh token to spend (POST /refresh) or whose session ends (POST /logout)."""

    refresh_token: str = Field(description="Opaque to clients.")


class PasswordChange(Shape):
    """A password change: the current password proves the caller."""

    # In the order they were always checked: a body with several faults is told the first.
    revoke_other_sessions: bool = True
    current_password: str
    new_password: str = Field(json_schema_extra={"minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_BYTES})


class TokenRequest(Shape):
    """RFC 6749 §4.3, §4.4 and §6 parameters; client credentials by HTTP Basic or here. Form-encoded:
    oauth.py reads them by the RFC's rules (a repeated one is refused, an empty one is absent)."""

    grant_type: GrantType
    username: str = ""
    password: str = ""
    refresh_token: str = ""
    scope: str = ""
    client_id: str = ""
    client_secret: str = ""


class TokenPairAnswer(Shape):
    """RFC 6749 §5.1 token answer."""

    access_token: str = Field(description="RS256 JWS, header typ at+jwt (RFC 9068).")
    token_type: Literal["Bearer", "DPoP"] = Field(description="DPoP for a token bound to a key (RFC 9449 §5.1).")
    expires_in: int = Field(ge=0)
    refresh_token: str = Field(description="Works once; a refresh spends it.")
    refresh_expires_in: int = Field(ge=0)
    scope: str = Field(description="Space-separated scopes of the access token.")


class ClientToken(Shape):
    """RFC 6749 §4.4.3: an access token, no refresh token."""

    access_token: str
    token_type: Literal["Bearer", "DPoP"] = Field(description="DPoP for a token bound to a key (RFC 9449 §5.1).")
    expires_in: int = Field(ge=0)
    scope: str


class Session(Shape):
    """One live session of the caller."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str
    current: bool = Field(description="The session of the token used.")


class Sessions(Shape):
    """The caller's sessions."""

    sessions: list[Session] = Field(description="The caller's live sessions, oldest first.")


class Jwk(Shape):
    """RFC 7517 §4: one RSA public key."""

    kty: Literal["RSA"]
    kid: str
    alg: Literal["RS256"]
    use: Literal["sig"]
    n: str
    e: str


class Jwks(Shape):
    """RFC 7517 key set: every key that may still verify a live access token."""

    keys: list[Jwk] = Field(min_length=1)


class ServerMetadata(Shape):
    """RFC 8414 §2 authorization server metadata (the members any client needs)."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]


class TokenOfInterest(Shape):
    """RFC 7009 §2.1 and RFC 7662 §2.1 parameters, form-encoded: the token, and what the caller thinks it is."""

    token: str
    token_type_hint: str | None = Field(
        default=None, description="`access_token` or `refresh_token`, or another value (ignored): only a hint, "
                                  "both kinds are looked for.",
    )


class Introspection(Shape):
    """RFC 7662 §2.2: `active` alone when false; the token's claims beside it when true."""

    active: bool
    sub: str | None = None
    scope: str | None = None
    exp: int | None = None
    iat: int | None = None
    sid: str | None = Field(default=None, description="The session; absent for a service client's own token.")
    client_id: str | None = Field(default=None, description="For a service client's own token.")
    token_type: Literal["Bearer", "DPoP"] | None = None


# The email endpoints (auth_service/email_api.py), served only with EMAIL=on.

class EmailAddress(Shape):
    """An address to mail a link to: POST /password/forgot and /email/verify/resend."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: str = Field(json_schema_extra={"format": "email", "maxLength": MAX_EMAIL_LENGTH})


class EmailToken(Shape):
    """A mailed link's token: POST /email/verify."""

    token: str = Field(description="The `token` query parameter of the mail's link.")


class PasswordReset(Shape):
    """A reset link's token and the new password: POST /password/reset."""

    token: str = Field(description="The `token` query parameter of the mail's link.")
    password: str = Field(json_schema_extra={"minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_BYTES})
