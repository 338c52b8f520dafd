"""The bench's peer: the same three paths written the usual way with flask-jwt-extended.

Login checks an Argon2id hash kept in Redis; refresh rotates (the spent refresh token's
jti goes on a Redis blocklist, a new access and refresh token are signed); /users reads
50 JSON profiles from Redis. RS256 with the service's own 2048-bit key. Bench only.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import redis
from cryptography.hazmat.primitives import serialization
from flask import Flask, Response, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)

from auth_service.config import HashingConfig
from auth_service.passwords import PasswordHasher

USERS = "peer:users"  # sorted set of user ids
PROFILES = "peer:profiles"  # user id -> JSON profile
HASHES = "peer:hashes"  # email -> "user id:password hash"


def create_app() -> Flask:
    app = Flask(__name__)
    pem = open(os.environ["JWT_PRIVATE_KEY_FILE"], "rb").read()  # noqa: SIM115
    key = serialization.load_pem_private_key(pem, password=None)
    app.config.update(
        JWT_ALGORITHM="RS256",
        # Key objects, not PEM text: PyJWT would parse (and check) a PEM private key at every signature.
        JWT_PRIVATE_KEY=key,
        JWT_PUBLIC_KEY=key.public_key(),  # type: ignore[union-attr]
        JWT_TOKEN_LOCATION=["headers", "json"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=15),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=14),
    )
    jwt = JWTManager(app)
    store = redis.Redis.from_url(os.environ["REDIS_URL"])
    hasher = PasswordHasher(HashingConfig.from_env())

    @jwt.token_in_blocklist_loader
    def revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return bool(payload["type"] == "refresh" and store.exists(f"peer:revoked:{payload['jti']}"))

    def pair(identity: str) -> Response:
        response = jsonify(access_token=create_access_token(identity), refresh_token=create_refresh_token(identity),
                           token_type="Bearer")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.post("/login")
    def login() -> Response | tuple[Response, int]:
        body = request.get_json()
        found = store.hget(HASHES, body["email"])
        user_id, _, stored = found.decode().partition(":") if found else ("", "", "")
        if not found or not hasher.verify(body["password"], stored):
            return jsonify(error="invalid_credentials"), 401
        return pair(user_id)

    @app.post("/refresh")
    @jwt_required(refresh=True)
    def refresh() -> Response:
        claims = get_jwt()
        store.set(f"peer:revoked:{claims['jti']}", 1, ex=14 * 86400)
        return pair(get_jwt_identity())

    @app.get("/users")
    @jwt_required()
    def users() -> Response:
        limit = min(int(request.args.get("limit", "50")), 200)
        ids = store.zrange(USERS, 0, limit - 1)
        profiles = store.hmget(PROFILES, ids) if ids else []
        return jsonify(users=[json.loads(p) for p in profiles if p], next_cursor=None)

    return app


def seed(client: redis.Redis, hasher: PasswordHasher, emails: list[str], password: str) -> None:
    """The peer's own users, as many as the service's."""
    stored = hasher.hash(password)
    for number, email in enumerate(emails):
        user_id = f"{number:032x}"
        client.zadd(USERS, {user_id: number})
        client.hset(PROFILES, user_id, json.dumps({"id": user_id, "email": email, "name": None}))
        client.hset(HASHES, email, f"{user_id}:{stored}")
