"""The email endpoints' part of the auth service's OpenAPI document, served only with EMAIL=on."""

from __future__ import annotations

import copy
from typing import Any

from auth_service.shapes import EmailAddress, EmailToken, PasswordReset
from shared.openapi import RATE_LIMITED, body_errors, error_answer, json_body, json_content, ref
from shared.shapes import component_schemas

ACCEPTED = {"description": "Accepted: the same answer for every address.",
            "content": json_content({"type": "object", "maxProperties": 0})}
INVALID_TOKEN = error_answer("The link is unknown, used already, replaced by a newer one, or expired.",
                             "invalid_token")


def _email_request(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": json_body(EmailAddress),
            "responses": {"202": ACCEPTED, **body_errors(), "429": RATE_LIMITED, "503": ref("Unavailable")},
        }
    }


EMAIL_PATHS: dict[str, Any] = {
    "/password/forgot": _email_request("Mail a password-reset link to the address, if an account has it."),
    "/password/reset": {
        "post": {
            "summary": "Set a new password with a reset link's token; every session of the account ends.",
            "requestBody": json_body(PasswordReset),
            "responses": {"204": {"description": "The password is set; every session ended."}, **body_errors(),
                          "400": error_answer("A malformed body, a password against the rules (the token is "
                                              "not spent), or a bad token.", "invalid_request", "invalid_token"),
                          "429": RATE_LIMITED, "503": ref("Unavailable")},
        }
    },
    "/email/verify": {
        "post": {
            "summary": "Confirm the account's email address with a verification link's token.",
            "requestBody": json_body(EmailToken),
            "responses": {"204": {"description": "Confirmed: access tokens carry `email_verified: true`."},
                          **body_errors(),
                          "400": error_answer("A malformed body, or a bad token.", "invalid_request", "invalid_token"),
                          "429": RATE_LIMITED, "503": ref("Unavailable")},
        }
    },
    "/email/verify/resend": _email_request("Mail a new verification link to the address, if an unconfirmed "
                                           "account has it."),
}


def with_email_paths(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the email endpoints, and the 403 `email_not_verified` of a login."""
    extended = copy.deepcopy(document)
    extended["paths"].update(copy.deepcopy(EMAIL_PATHS))
    extended["components"]["schemas"].update(component_schemas(EmailAddress, EmailToken, PasswordReset))
    not_verified = error_answer("REQUIRE_VERIFIED_EMAIL=on and the address is not confirmed yet.",
                                "email_not_verified")
    for path in ("/login", "/token"):  # /token: its password grant logs in the same way
        extended["paths"][path]["post"]["responses"]["403"] = not_verified
    return extended
