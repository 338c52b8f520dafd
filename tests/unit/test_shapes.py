"""Request shapes: a body that does not fit is described in the words the services always used."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from auth_service.shapes import Credentials, PasswordChange, Registration
from resource_service.shapes import Rename
from shared.shapes import Shape, describe_error

RENAME_SHAPE = 'the body must be {"name": <string>} and nothing else'


@pytest.mark.parametrize(("shape", "body", "description"), [
    (Credentials, {"password": "x"}, "email is required and must be a string"),
    (Credentials, {"email": 5, "password": "x"}, "email is required and must be a string"),
    (Credentials, {"email": "a@example.com", "password": None}, "password is required and must be a string"),
    (Registration, {"email": "a@example.com", "password": "x", "name": 5}, "name must be a string"),
    (PasswordChange, {"current_password": "x", "new_password": "y", "revoke_other_sessions": "no"},
     "revoke_other_sessions must be true or false"),
    (PasswordChange, {"current_password": "x"}, "new_password is required and must be a string"),
    (Rename, {}, RENAME_SHAPE),
    (Rename, {"name": "Ada", "role": "admin"}, RENAME_SHAPE),
    (Rename, {"name": 5, "role": "admin"}, RENAME_SHAPE),
    (Rename, {"name": ["Ada"]}, "name must be a string"),
])
def test_a_body_that_does_not_fit_is_described_by_its_field(shape: type[Shape], body, description):
    with pytest.raises(ValidationError) as info:
        shape.model_validate(body)
    assert describe_error(shape, info.value.errors()) == description


def test_fields_take_their_own_json_type_only():
    for body in ({"email": b"a@example.com", "password": "x"}, {"email": "a@example.com", "password": 12345678}):
        with pytest.raises(ValidationError):
            Credentials.model_validate(body)
    with pytest.raises(ValidationError):
        PasswordChange.model_validate({"current_password": "x", "new_password": "y", "revoke_other_sessions": 1})
    assert Registration.model_validate({"email": "a@example.com", "password": "x", "extra": 1}).name is None
