"""Account fields as both services see them: what a name may be, and how times are written."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from shared.errors import InvalidRequestError

MAX_NAME_LENGTH = 200


def has_control_characters(text: str) -> bool:
    """Whether `text` holds control, format, surrogate, private-use or unassigned code points."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def check_name(raw: object) -> str:
    """A display name: a string of at most 200 characters without control characters."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidRequestError("name must be a string")
    name = unicodedata.normalize("NFKC", raw).strip()
    if len(name) > MAX_NAME_LENGTH or has_control_characters(name):
        raise InvalidRequestError(f"name must be at most {MAX_NAME_LENGTH} printable characters")
    return name


def rfc3339(epoch_seconds: float) -> str:
    """`2026-11-27T02:25:09Z` for an epoch time."""
    return datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
