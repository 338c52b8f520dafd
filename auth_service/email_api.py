"""The email endpoints (EMAIL=on): password reset by mail and email verification.

Requests that send mail only queue it (auth_service/mailqueue.py): the answer is 202 at once
and the same for known and unknown addresses, because the request path does the same Redis
work for both; the mailer process decides, off the request, whether anything is sent.
Without EMAIL=on this blueprint is not registered, so its paths answer 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from auth_service.accounts import AccountStore, normalize_email
from auth_service.config import EmailConfig
from auth_service.context import flows
from auth_service.email_openapi import with_email_paths
from auth_service.mailqueue import MailQueue, email_digest
from auth_service.openapi import DOCUMENT
from auth_service.passwords import check_password_rules
from auth_service.ratelimit import RateLimiter, address_subject
from auth_service.recovery import EmailTokenError, EmailTokenStore
from auth_service.shapes import EmailAddress, EmailToken, PasswordReset
from shared import redis_keys
from shared.errors import InvalidCredentialsError
from shared.shapes import parse_json
from shared.store import RedisClient

bp = Blueprint("email", __name__)
security_log = logging.getLogger("auth_service.security")

EMAIL_BURST = 3  # mails of one flow an address may get at once, before MAIL_EMAIL_LIMIT's pace


@dataclass(frozen=True)
class EmailServices:
    config: EmailConfig
    redis: RedisClient
    accounts: AccountStore
    tokens: EmailTokenStore
    queue: MailQueue
    limits: RateLimiter
    document: dict[str, Any]  # the service's OpenAPI document, the email endpoints included


def init_email(
    app: Flask, config: EmailConfig | None, client: RedisClient, accounts: AccountStore, limits: RateLimiter
) -> None:
    """Serve the email endpoints when `config` is set (EMAIL=on); nothing otherwise."""
    if config is None:
        return
    app.extensions["email"] = EmailServices(
        config=config,
        redis=client,
        accounts=accounts,
        tokens=EmailTokenStore(client, reset_ttl=config.password_reset_ttl, verify_ttl=config.verify_ttl),
        queue=MailQueue(client),
        limits=limits,
        document=with_email_paths(DOCUMENT),
    )
    app.register_blueprint(bp)


def _email() -> EmailServices | None:
    return current_app.extensions.get("email")


def _services() -> EmailServices:
    email = _email()
    assert email is not None  # the blueprint is registered only with it
    return email


# Hooks for the account flows of auth_service/api.py; each does nothing while EMAIL is off.

def on_registered(email: str) -> None:
    """A new account: queue its verification mail."""
    if (svc := _email()) is not None:
        svc.queue.enqueue("verify", email)


def openapi_document(document: dict[str, Any]) -> dict[str, Any]:
    """The service's OpenAPI document: `document`, with the email endpoints while EMAIL is on."""
    svc = _email()
    return document if svc is None else svc.document


# The endpoints.

def _limit_address() -> None:
    """All four endpoints share one allowance per client address (MAIL_ADDRESS_LIMIT a minute)."""
    svc = _services()
    per_minute = svc.config.per_address_per_minute
    if per_minute:
        svc.limits.limit_subject(
            redis_keys.address_limit_key("email", address_subject(request.remote_addr)),
            interval_ms=60_000 // per_minute, burst=per_minute, scope="email",
            description="too many email requests from this address",
        )


def _queue_mail(flow: str, body: EmailAddress) -> tuple[Response, int]:
    """Queue the `flow` mail for the body's `email`, throttled per address and per email; 202 `{}`
    whether or not an account has that email."""
    svc = _services()
    email = normalize_email(body.email)
    per_hour = svc.config.per_email_per_hour
    if per_hour:
        # Keyed by the address whether or not an account has it: a 429 tells nothing either.
        svc.limits.limit_subject(
            redis_keys.mail_limit_key(flow, email_digest(email)),
            interval_ms=3_600_000 // per_hour, burst=EMAIL_BURST, scope=f"email_{flow}",
            description="too many mails asked for this address, try again later",
        )
    svc.queue.enqueue(flow, email)
    return jsonify({}), 202


@bp.post("/password/forgot")
def forgot_password() -> tuple[Response, int]:
    _limit_address()
    return _queue_mail("reset", parse_json(EmailAddress))


@bp.post("/password/reset")
def reset_password() -> tuple[str, int]:
    """Spend a reset link's token: set the password and end every session of the account."""
    _limit_address()
    body = parse_json(PasswordReset)
    token = body.token
    password = check_password_rules(body.password)  # a bad one spends no token
    user_id = _services().tokens.spend("reset", token)
    try:
        ended = flows().reset_password(user_id, password)  # and tells resource services (revocation push)
    except InvalidCredentialsError:  # the account went away meanwhile
        raise EmailTokenError() from None
    security_log.info(
        "password reset by email: user %s, %d sessions ended", user_id, ended,
        extra={"fields": {"event": "password_reset", "user_id": user_id, "sessions_ended": ended,
                          "client": request.remote_addr}},
    )
    return "", 204


@bp.post("/email/verify")
def verify_email() -> tuple[str, int]:
    _limit_address()
    user_id = _services().tokens.spend("verify", parse_json(EmailToken).token)
    security_log.info("email verified: user %s", user_id,
                      extra={"fields": {"event": "email_verified", "user_id": user_id}})
    return "", 204


@bp.post("/email/verify/resend")
def resend_verification() -> tuple[Response, int]:
    _limit_address()
    return _queue_mail("verify", parse_json(EmailAddress))
