"""Hostile and malformed input to both services, through Flask's test client over a real Redis:
always a 4xx JSON error with the contract's code, never a 500."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from auth_service import create_app as create_auth_app
from auth_service.config import AuthConfig
from resource_service import create_app as create_resource_app
from resource_service.config import ResourceConfig
from tests.conftest import CHEAP_ARGON2_ENV, refresh_key_env, write_private_key, write_public_key
from tests.jwt_forge import AUDIENCE, ISSUER, make_claims, sign

PASSWORD = "correct horse battery"
USER_ID = "0123456789abcdef0123456789abcdef"


class Endpoint(NamedTuple):
    service: str
    method: str
    path: str
    fields: tuple[str, ...]  # the string fields of its body


ENDPOINTS = [
    Endpoint("auth", "POST", "/register", ("email", "password", "name")),
    Endpoint("auth", "POST", "/login", ("email", "password")),
    Endpoint("auth", "POST", "/refresh", ("refresh_token",)),
    Endpoint("auth", "POST", "/logout", ("refresh_token",)),
    Endpoint("resource", "PATCH", f"/users/{USER_ID}", ("name",)),
]
FIELD_DEFAULTS = {"email": "alice@example.com", "password": PASSWORD, "name": "Alice", "refresh_token": "x"}


# One app of each service for the module: most of these requests write nothing. Rate limits
# are off, as hundreds of requests come from one address; tests that register flush Redis first.
NO_LIMITS = {"LOGIN_DELAY": "0", "LOGIN_ADDRESS_LIMIT": "0", "REGISTER_ADDRESS_LIMIT": "0",
             "REFRESH_ADDRESS_LIMIT": "0", "CLIENT_AUTH_ADDRESS_LIMIT": "0"}


@pytest.fixture(scope="module")
def auth_app(redis_server, tmp_path_factory, rsa_private_key):
    key_file = write_private_key(rsa_private_key, tmp_path_factory.mktemp("keys") / "k.pem")
    app = create_auth_app(AuthConfig.from_env({
        "REDIS_URL": redis_server.url, "JWT_PRIVATE_KEY_FILE": str(key_file), **refresh_key_env(key_file.parent),
            **CHEAP_ARGON2_ENV, **NO_LIMITS,
    }))
    yield app
    app.extensions["auth"].redis.close()


@pytest.fixture(scope="module")
def resource_app(redis_server, tmp_path_factory, rsa_private_key):
    key_file = write_public_key(rsa_private_key, tmp_path_factory.mktemp("keys") / "public.pem")
    app = create_resource_app(ResourceConfig.from_env({
        "REDIS_URL": redis_server.url, "JWT_PUBLIC_KEY_FILE": str(key_file),
        "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
    }))
    yield app
    app.extensions["resource"].redis.close()


@pytest.fixture(params=ENDPOINTS, ids=lambda e: f"{e.service}-{e.method}-{e.path.split('/')[1]}")
def endpoint(request, rsa_private_key):
    """(endpoint, send): `send(data: bytes)` sends `data` as its JSON body, with a valid token where needed."""
    e: Endpoint = request.param
    client = request.getfixturevalue(f"{e.service}_app").test_client()
    headers = {}
    if e.service == "resource":
        headers["Authorization"] = "Bearer " + sign(rsa_private_key, make_claims(sub=USER_ID))

    def send(data: bytes, content_type: str = "application/json"):
        return client.open(e.path, method=e.method, data=data, content_type=content_type, headers=headers)

    return e, send


def assert_client_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"] == code
    assert isinstance(response.json["error_description"], str) and response.json["error_description"]


MALFORMED_BODIES = {
    "arrays nested 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "objects nested 10,000 deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "nesting inside a field": b'{"email": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "invalid UTF-8": b'{"email": "\xff\xfe@example.com", "password": "correct horse battery"}',
    "Latin-1": '{"email": "zoë@example.com", "name": "Zoë"}'.encode("latin-1"),
    "overlong UTF-8": b'{"email": "\xc0\xafetc@example.com"}',
    "an encoded surrogate": b'{"email": "\xed\xa0\x80@example.com"}',
    "a raw control character": b'{"email": "a\x00@example.com"}',
    "a 5,000-digit number": b'{"email": ' + b"9" * 5000 + b"}",
    "empty": b"",
    "truncated": b'{"email": "alice@example.com", "pass',
    "a top-level array": b'["alice@example.com", "correct horse battery"]',
}


@pytest.mark.parametrize("data", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_bodies_are_invalid_requests(endpoint, data):
    _, send = endpoint
    assert_client_error(send(data), 400, "invalid_request")


WRONG_TYPES = {"int": 5, "float": 5.5, "true": True, "false": False, "null": None, "list": ["x"],
               "object": {"$ne": ""}, "empty list": []}


@pytest.mark.parametrize("value", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_string_field_of_another_type_is_an_invalid_request(endpoint, value):
    e, send = endpoint
    for field in e.fields:
        if field == "name" and value is None and e.service == "auth":
            continue  # the name is optional at registration: null is no name
        body = {f: FIELD_DEFAULTS[f] for f in e.fields}
        body[field] = value
        assert_client_error(send(json.dumps(body).encode()), 400, "invalid_request")


# Literals Python's json accepts though JSON (RFC 8259) has no such numbers.
NUMBER_LITERALS = ["NaN", "Infinity", "-Infinity", "1e999", "-0"]


@pytest.mark.parametrize("literal", NUMBER_LITERALS)
def test_odd_numbers_where_strings_belong_are_invalid_requests(endpoint, literal):
    e, send = endpoint
    body = "{" + ", ".join(f'"{field}": {literal}' for field in e.fields) + "}"
    assert_client_error(send(body.encode()), 400, "invalid_request")


def test_another_content_type_is_415_and_an_oversized_body_413(endpoint):
    _, send = endpoint
    assert_client_error(send(b"email=a", "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    assert_client_error(send(b'{"name": "' + b"a" * 70_000 + b'"}'), 413, "request_too_large")


# Emails with invisible or control characters: refused at registration, never stored.
REFUSED_EMAILS = {
    "zero-width space": "ali\u200bce@example.com",
    "zero-width joiner": "alice\u200d@example.com",
    "right-to-left override": "\u202emoc.elpmaxe@ecila",
    "left-to-right mark": "alice@\u200eexample.com",
    "byte order mark": "\ufeffalice@example.com",
    "soft hyphen": "al\u00adice@example.com",
    "NUL": "alice\x00@example.com",
    "escape": "alice\x1b[31m@example.com",
    "next line": "alice\x85@example.com",
    "line separator": "alice\u2028@example.com",
    "tab": "alice\t@example.com",
    "private use": "alice\ue000@example.com",
    "unassigned": "alice\u0378@example.com",
    "lone surrogate": "alice\ud800@example.com",
    "no at sign after NFKC": "alice\u2024example.com",  # one dot leader: NFKC gives '.', not '@'
}


@pytest.mark.parametrize("email", REFUSED_EMAILS.values(), ids=REFUSED_EMAILS.keys())
def test_emails_with_invisible_or_control_characters_are_refused(redis_client, auth_app, email):
    client = auth_app.test_client()
    # json.dumps escapes the lone surrogate as \ud800, as a hostile client would send it.
    response = client.post("/register", data=json.dumps({"email": email, "password": PASSWORD}),
                           content_type="application/json")
    assert_client_error(response, 400, "invalid_request")
    # Logging in with one is a wrong email, like any other.
    response = client.post("/login", data=json.dumps({"email": email, "password": PASSWORD}),
                           content_type="application/json")
    assert_client_error(response, 401, "invalid_credentials")


# Spellings NFKC folds into one email: each is the account registered as the plain spelling.
SAME_EMAILS = {
    "fullwidth at sign": ("alice@example.com", "alice\uff20example.com"),
    "fullwidth letters": ("alice@example.com", "\uff41\uff4c\uff49\uff43\uff45@example.com"),
    "Kelvin sign": ("kate@example.com", "\u212aate@example.com"),
    "fi ligature": ("fiona@example.com", "\ufb01ona@example.com"),
    "combining acute": ("jos\u00e9@example.com", "jose\u0301@example.com"),
    "precomposed acute": ("jose\u0301@example.com", "jos\u00e9@example.com"),
    "upper case and spaces": ("alice@example.com", "  ALICE@Example.COM "),
}


@pytest.mark.parametrize(("registered", "variant"), SAME_EMAILS.values(), ids=SAME_EMAILS.keys())
def test_spellings_nfkc_folds_are_one_account(redis_client, auth_app, registered, variant):
    client = auth_app.test_client()
    created = client.post("/register", json={"email": registered, "password": PASSWORD})
    assert created.status_code == 201
    assert_client_error(client.post("/register", json={"email": variant, "password": PASSWORD}), 409, "email_taken")
    login = client.post("/login", json={"email": variant, "password": PASSWORD})
    assert login.status_code == 200
    assert login.json["access_token"]


# Look-alikes from other scripts are other addresses (mail servers deliver them elsewhere):
# they never reach the account they mimic.
LOOKALIKES = {"Cyrillic a": "\u0430lice@example.com", "Greek omicron": "alice@example.c\u03bfm"}


@pytest.mark.parametrize("lookalike", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalike_emails_are_other_accounts(redis_client, auth_app, lookalike):
    client = auth_app.test_client()
    alice = client.post("/register", json={"email": "alice@example.com", "password": PASSWORD}).json
    assert_client_error(client.post("/login", json={"email": lookalike, "password": PASSWORD}), 401,
                        "invalid_credentials")
    other = client.post("/register", json={"email": lookalike, "password": PASSWORD})
    assert other.status_code == 201 and other.json["id"] != alice["id"]


@pytest.mark.parametrize("name", ["\u202eecilA", "Al\u200bice", "Alice\x00", "Alice\ud800", "a" * 201])
def test_names_with_control_characters_are_refused_by_both_services(
    redis_client, auth_app, resource_app, rsa_private_key, name
):
    body = json.dumps({"name": name})
    response = auth_app.test_client().post(
        "/register", data=json.dumps({"email": "alice@example.com", "password": PASSWORD, "name": name}),
        content_type="application/json",
    )
    assert_client_error(response, 400, "invalid_request")
    token = sign(rsa_private_key, make_claims(sub=USER_ID))
    response = resource_app.test_client().patch(f"/users/{USER_ID}", data=body, content_type="application/json",
                                                headers={"Authorization": f"Bearer {token}"})
    assert_client_error(response, 400, "invalid_request")
