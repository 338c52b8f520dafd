"""Each service's OpenAPI document: it names every route, and the app answers as it says (Schemathesis).

The fuzzing runs through the WSGI app over the tests' real Redis, with a fixed seed
(derandomized) and a bounded number of examples per operation, so that it is repeatable.
"""

from __future__ import annotations

import os
import re

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.definitions import OPENAPI_31  # the OpenAPI 3.1 meta-schema

from auth_service.accounts import AccountStore
from auth_service.config import HashingConfig
from auth_service.openapi import DOCUMENT as AUTH_DOCUMENT
from auth_service.passwords import PasswordHasher
from resource_service.openapi import DOCUMENT as RESOURCE_DOCUMENT
from resource_service.openapi import USER_ID
from shared import directory, redis_keys
from tests.conftest import NO_LIMITS
from tests.jwt_forge import make_claims, sign

# A fixed seed and 25 examples per operation in `make test`; FUZZ_EXAMPLES=1000 for a deeper run by hand
# (random, not derandomized, when set).
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "25"))
PASSWORD = "correct horse battery"
FLASK_ONLY_METHODS = {"HEAD", "OPTIONS"}  # Flask answers these for every route by itself


@pytest.fixture
def auth_app(make_auth_app):
    return make_auth_app(**NO_LIMITS)


@pytest.fixture
def resource_app(make_resource_app):
    return make_resource_app()


def documented_routes(document: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def app_routes(app) -> set[tuple[str, str]]:
    """(path, method) of every Flask route, `<name>` written the OpenAPI way, `{name}`."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":  # Flask's own, for a static/ folder neither package has: always 404
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - FLASK_ONLY_METHODS}
    return routes


@pytest.mark.parametrize("app_fixture, document", [("auth_app", AUTH_DOCUMENT), ("resource_app", RESOURCE_DOCUMENT)])
def test_the_document_names_every_route_and_no_other(request, app_fixture, document):
    app = request.getfixturevalue(app_fixture)
    assert app_routes(app) == documented_routes(document)
    served = app.test_client().get("/openapi.json")
    assert served.status_code == 200 and served.json == document
    assert document["openapi"].startswith("3.1")
    errors = [error.message for error in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(document)]
    assert errors == []


# Schema-valid bodies may still break rules JSON Schema cannot state (printable names, a password's
# 1024 bytes of UTF-8, what makes an email): such a body gets the documented 400, not a 2xx.
CHECKS = schemathesis.config.SchemathesisConfig.from_dict({
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409"]}},
})

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Loaded from the modules' dicts, so that each operation is a test of its own (the app exists only
# inside a test); test_the_document_names_every_route_and_no_other holds the served one to the same dict.
auth_schema = schemathesis.openapi.from_dict(AUTH_DOCUMENT, config=CHECKS)
resource_schema = schemathesis.openapi.from_dict(RESOURCE_DOCUMENT, config=CHECKS)


class TokenSlot:
    """Schemathesis's auth provider: marks where a valid access token goes.

    Schemathesis builds some cases when the tests are collected, before any fixture has
    minted a token; the test swaps the real one in at call time (see call_and_validate).
    """

    def get(self, case, context):
        return "token-of-the-test"

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


SLOT = "Bearer token-of-the-test"
auth_schema.auth(refresh_interval=None)(TokenSlot)
resource_schema.auth(refresh_interval=None)(TokenSlot)


def call_and_validate(case, app, token: str) -> None:
    """Send the case to `app` (Schemathesis's own probes too, e.g. the one without a token) and check the answer."""
    case.operation.schema.app = app
    # Only where the slot is: cases that test a missing or malformed token keep theirs.
    headers = {"Authorization": f"Bearer {token}"} if (case.headers or {}).get("Authorization") == SLOT else None
    case.call_and_validate(app=app, headers=headers)


@pytest.fixture
def auth_token(auth_app):
    """The document's example user, registered and logged in: its token gets past the Bearer checks."""
    credentials = AUTH_DOCUMENT["components"]["schemas"]["Credentials"]["examples"][0]
    client = auth_app.test_client()
    assert client.post("/register", json=credentials).status_code == 201
    pair = client.post("/login", json=credentials).json
    return pair["access_token"]


@auth_schema.parametrize()
@FUZZ_SETTINGS
def test_auth_service_keeps_its_document(case, auth_app, auth_token):
    call_and_validate(case, auth_app, auth_token)


@pytest.fixture
def resource_token(redis_client, rsa_private_key):
    """The document's example user id, made an account among others, with an admin's token for it."""
    user_id = USER_ID["schema"]["examples"][0]
    redis_client.hset(redis_keys.user_key(user_id), mapping={
        "id": user_id, "email": "ada@example.com", "name": "Ada", "created_at": "2026-01-01T00:00:00Z",
        "role": "admin", "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
    })
    redis_client.zadd(directory.users_index_key(), {directory.index_member(1_767_225_600_000, user_id): 0})
    accounts = AccountStore(redis_client, PasswordHasher(HashingConfig(8, 1, 1)))
    for i in range(3):
        accounts.register(f"user{i}@example.com", PASSWORD, f"User {i}")
    return sign(rsa_private_key, make_claims(sub=user_id, scope="users:read users:write"))


@resource_schema.parametrize()
@FUZZ_SETTINGS
def test_resource_service_keeps_its_document(case, resource_app, resource_token):
    call_and_validate(case, resource_app, resource_token)
