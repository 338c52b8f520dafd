"""Request and answer shapes, each defined once as a pydantic model: the model validates a JSON
body, and its JSON Schema (2020-12, the dialect of OpenAPI 3.1) is the OpenAPI document's.

A body that does not fit its shape is 400 invalid_request with a description naming the
field, in the words the contract's clients have always read. Rules JSON Schema cannot state
(what makes an email, a password's bytes, printable names) stay with the stores.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import ErrorDetails

from shared import directory
from shared.accounts import MAX_NAME_LENGTH
from shared.errors import InvalidRequestError
from shared.http import json_body

ShapeT = TypeVar("ShapeT", bound="Shape")
# How a description names a field's JSON type.
KINDS: dict[Any, str] = {str: "a string", bool: "true or false"}


class Shape(BaseModel):
    """A JSON object. Strict: a field takes its own JSON type only (5 is no string, "true" no boolean)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    # The description for a body whose set of fields is wrong (one missing, one too many);
    # None: each field is named on its own.
    body_error: ClassVar[str | None] = None


def parse_json(shape: type[ShapeT]) -> ShapeT:
    """The request's JSON body as `shape`; InvalidRequestError naming the first field that does not fit."""
    try:
        return shape.model_validate(json_body())
    except ValidationError as exc:
        raise InvalidRequestError(describe_error(shape, exc.errors())) from None


def describe_error(shape: type[Shape], errors: list[ErrorDetails]) -> str:
    """What is wrong with a body, for its error_description."""
    if shape.body_error and any(error["type"] in ("missing", "extra_forbidden") for error in errors):
        return shape.body_error
    field = str(errors[0]["loc"][0])
    if field not in shape.model_fields:
        return f"{field} is not a field of this body"
    info = shape.model_fields[field]
    kind = KINDS.get(_without_none(info.annotation), "of the documented type")
    if info.is_required() and not shape.body_error:
        return f"{field} is required and must be {kind}"
    return f"{field} must be {kind}"


def _without_none(annotation: Any) -> Any:
    """`str` for `str | None`; the annotation itself otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        return others[0] if len(others) == 1 else annotation
    return annotation


class _OpenApiSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema without a title on every property (the property's name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def component_schemas(*shapes: type[BaseModel]) -> dict[str, Any]:
    """`components.schemas` of an OpenAPI document: each shape and the shapes inside it, by class name."""
    _, top = models_json_schema(
        [(shape, "validation") for shape in shapes],
        ref_template="#/components/schemas/{model}",
        schema_generator=_OpenApiSchema,
    )
    return dict(top.get("$defs", {}))


class Error(Shape):
    """RFC 6749 §5.2 error shape, used by every error answer (404, 405, 413, 415 and 500 too)."""

    error: str = Field(description="A code from the contract's error table.")
    error_description: str = Field(min_length=1, description="Human-readable text.")


class Status(Shape):
    """A health answer."""

    status: Literal["ok"]


class User(Shape):
    """The public fields of an account."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=f"^{directory.USER_ID}$")
    email: str = Field(description="Trimmed, NFKC-normalised and lower-cased.")
    name: str = Field(max_length=MAX_NAME_LENGTH)
    created_at: datetime
