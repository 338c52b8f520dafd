"""The resource service's request and answer shapes (see shared/shapes.py): the handlers validate
bodies with them, and resource_service/openapi.py documents them from the same classes."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from shared.accounts import MAX_NAME_LENGTH
from shared.shapes import Shape, User

# GET /users?limit=
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class Rename(Shape):
    """PATCH /users/{user_id}: the new display name, and nothing else."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Ada Lovelace"}]})
    body_error: ClassVar[str | None] = 'the body must be {"name": <string>} and nothing else'

    name: str = Field(
        description="Printable characters only (no control or format characters).",
        json_schema_extra={"maxLength": MAX_NAME_LENGTH},
    )


class UserPage(Shape):
    """A page of the directory, in registration order."""

    users: list[User]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Me(Shape):
    """The caller, as its access token says."""

    id: str
    email: str | None
    scope: str


class Readiness(Shape):
    """GET /readyz: ready whenever the process serves; whether this worker hears of revocations."""

    status: Literal["ok"]
    revocation_push: Literal["off", "connected", "disconnected"]
