"""Finding the auth server's JWKS from its issuer URL alone, through its RFC 8414 metadata.

Read once at start. The metadata is configuration (where the trusted keys are, and
whether the issuer is who we think), so the answer is checked as strictly as a
setting: metadata for another issuer stops the process. An auth service that is not
up yet is waited for, within a bound, so that starting both services at once works.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
from typing import Any
from urllib.parse import urlparse

from shared.config import ConfigError
from shared.jwks import http_get_json

log = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/oauth-authorization-server"
DISCOVERY_WAIT = 30.0  # seconds to wait for an unreachable auth service at start
RETRY_INTERVAL = 1.0


def metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known path goes between the host and the issuer's own path."""
    parsed = urlparse(issuer)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise ConfigError(f"JWT_ISSUER must be an http(s) URL without query or fragment, got {issuer!r}")
    return f"{parsed.scheme}://{parsed.netloc}{WELL_KNOWN}{parsed.path.rstrip('/')}"


def jwks_uri_of(document: Any, issuer: str) -> str:
    """The `jwks_uri` of metadata that is the issuer's own (RFC 8414 §3.3); ValueError otherwise."""
    if not isinstance(document, dict):
        raise ValueError("the metadata is not a JSON object")
    if document.get("issuer") != issuer:
        # Guards against metadata that belongs to someone else (RFC 8414 §6.2).
        raise ValueError(f"the metadata is for the issuer {document.get('issuer')!r}, not this one")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or urlparse(jwks_uri).scheme not in ("http", "https"):
        raise ValueError("the metadata has no http(s) jwks_uri")
    return jwks_uri


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def discover_jwks_uri(
    issuer: str,
    *,
    wait: float = DISCOVERY_WAIT,
    timeout: float = 3.0,
) -> str:
    """The issuer's `jwks_uri`. While the metadata cannot be fetched, retries for `wait` seconds;
    then, or at once for metadata that is not the issuer's, ConfigError naming JWT_ISSUER."""
    url = metadata_url(issuer)
    deadline = time.monotonic() + wait
    waiting = False
    while True:
        try:
            body = http_get_json(url, timeout)
        except (OSError, ValueError) as exc:  # refused, timed out, an HTTP error status, too large
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConfigError(
                    f"JWT_ISSUER: no metadata at {url} within {wait:g} s ({_reason(exc)})"
                ) from None
            if not waiting:
                log.warning("waiting up to %g s for the auth server's metadata at %s (%s)",
                            wait, url, _reason(exc))
                waiting = True
            time.sleep(min(RETRY_INTERVAL, left))
            continue
        try:
            jwks_uri = jwks_uri_of(json.loads(body), issuer)
        except ValueError as exc:
            raise ConfigError(f"JWT_ISSUER: {url}: {exc}") from None
        log.info("the keys of %s are at %s", issuer, jwks_uri)
        return jwks_uri
