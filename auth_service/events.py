"""What operators see of logins and refreshes: counters, the user in the request's log line, reuse warnings."""

from __future__ import annotations

import logging

from flask import has_request_context, request

from auth_service.sessions import REFRESH_OUTCOMES
from shared.metrics import Metrics
from shared.observability import note_user

security_log = logging.getLogger("auth_service.security")


class AuthEvents:
    """The `on_login` and `on_refresh` observers of AccountStore and SessionStore."""

    def __init__(self, metrics: Metrics) -> None:
        self._logins = metrics.counter("auth_logins_total", "Password checks at login, by result", ("result",))
        self._refreshes = metrics.counter(
            "auth_refreshes_total",
            "Refresh-token uses by outcome: rotated, grace (a parallel refresh), or the reason of a refusal",
            ("outcome",),
        )
        self._reuse = metrics.counter(
            "auth_refresh_reuse_detected_total",
            "Spent refresh tokens presented after the grace, each revoking a session",
        )
        self._unpublished = metrics.counter(
            "auth_revocations_unpublished_total",
            "Ended sessions whose revocation could not be pushed to resource services (Redis failed in between)",
        )
        self._introspections = metrics.counter(
            "auth_introspections_total", "Token introspections (RFC 7662) by answer: active, inactive", ("result",)
        )
        # Every series exists from the start, at zero, so rates and alerts need no special case.
        for result in ("success", "failure"):
            self._logins.labels(result)
        for outcome in REFRESH_OUTCOMES:
            self._refreshes.labels(outcome)
        for result in ("active", "inactive"):
            self._introspections.labels(result)

    def login(self, user_id: str | None) -> None:
        """A password check: the account id when it succeeded, None when it failed."""
        self._logins.labels("success" if user_id else "failure").inc()
        if user_id:
            note_user(user_id)

    def refresh(self, outcome: str, user_id: str | None) -> None:
        """A refresh token spent (or refused) with `outcome`, one of REFRESH_OUTCOMES."""
        self._refreshes.labels(outcome).inc()
        if user_id:
            note_user(user_id)

    def unpublished(self) -> None:
        """A revocation that did not reach the stream: its tokens live to their expiry at resource services."""
        self._unpublished.inc()

    def introspection(self, active: bool) -> None:
        """One introspection answered."""
        self._introspections.labels("active" if active else "inactive").inc()

    def reuse(self, user_id: str, session_id: str) -> None:
        """The security event: a spent refresh token came back after the grace and ended its session."""
        self._reuse.inc()
        client = request.remote_addr if has_request_context() else None
        security_log.warning(
            "refresh token reuse: session %s of user %s revoked (client %s)", session_id, user_id, client,
            extra={"fields": {"event": "refresh_token_reuse", "user_id": user_id, "session_id": session_id,
                              "client": client}},
        )
