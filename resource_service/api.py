"""The resource service's HTTP endpoints: the user directory and the caller's own identity."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request

from resource_service.openapi import DOCUMENT
from resource_service.shapes import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Rename
from shared.accounts import check_name
from shared.directory import AccountDirectory, is_cursor, is_user_id
from shared.errors import InsufficientScopeError, InvalidRequestError, NotFoundError
from shared.shapes import parse_json
from shared.store import RedisClient
from shared.verify import TokenAuth

bp = Blueprint("resource", __name__)
auth = TokenAuth()  # its keys and settings come with each app (create_app)

READ_SCOPE = "users:read"
WRITE_SCOPE = "users:write"


@dataclass(frozen=True)
class ResourceServices:
    """What the handlers need, built once per app by create_app."""

    redis: RedisClient
    users: AccountDirectory


def services() -> ResourceServices:
    """The app's service objects."""
    return current_app.extensions["resource"]  # type: ignore[no-any-return]


@bp.after_request
def no_store(response: Response) -> Response:
    """Answers about users depend on the caller's token: no shared cache may keep them."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def page_size(raw: str | None) -> int:
    """The `limit` query parameter: 1 to MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def json_response(text: str) -> Response:
    """An answer whose JSON was already made (profiles are stored as JSON)."""
    return Response(text + "\n", mimetype="application/json")


def user_or_404(profile: str | None) -> Response:
    if profile is None:
        raise NotFoundError("no such user")
    return json_response(profile)


@bp.get("/users")
@auth.require(READ_SCOPE)
def list_users() -> Response:
    limit = page_size(request.args.get("limit"))
    cursor = request.args.get("cursor")
    if cursor is not None and not is_cursor(cursor):
        raise InvalidRequestError("cursor is not one this service gave out")
    profiles, next_cursor = services().users.list_page(limit, cursor)
    return json_response(f'{{"users":[{",".join(profiles)}],"next_cursor":{json.dumps(next_cursor)}}}')


@bp.get("/users/<user_id>")
@auth.require(READ_SCOPE)
def get_user(user_id: str) -> Response:
    if not is_user_id(user_id):
        raise NotFoundError("no such user")
    return user_or_404(services().users.get(user_id))


@bp.patch("/users/<user_id>")
@auth.require()
def update_user(user_id: str) -> Response:
    claims = auth.claims()
    # Anyone may rename themselves; renaming others takes users:write. Checked before the
    # lookup, so that a caller without the scope learns nothing about which ids exist.
    if user_id != claims["sub"] and WRITE_SCOPE not in claims.get("scope", "").split():
        raise InsufficientScopeError(WRITE_SCOPE)
    name = check_name(parse_json(Rename).name)
    if not is_user_id(user_id):
        raise NotFoundError("no such user")
    return user_or_404(services().users.update_name(user_id, name))


@bp.get("/me")
@auth.require()
def me() -> Response:
    claims = auth.claims()
    return jsonify(id=claims["sub"], email=claims.get("email"), scope=claims.get("scope", ""))


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Ready whenever the process serves: tokens verify without Redis. Under REVOCATION_PUSH,
    `revocation_push` says whether this worker hears of revocations (`disconnected`: Redis
    is away, and tokens of sessions ended meanwhile are accepted until it is back)."""
    listener = current_app.extensions.get("revocation_listener")
    push = "off" if listener is None else "connected" if listener.connected else "disconnected"
    return jsonify(status="ok", revocation_push=push)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(DOCUMENT)
