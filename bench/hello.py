"""The bench's floors: a bare Flask app answering what /healthz answers, and one Argon2id verify
per POST /verify (the login's floor, on the same gunicorn workers and threads as the logins)."""

import os

from flask import Flask, Response, jsonify, request

from auth_service.config import HashingConfig
from auth_service.passwords import PasswordHasher

app = Flask(__name__)
hasher = PasswordHasher(HashingConfig.from_env())
stored_hash = hasher.hash("correct horse battery staple")  # bench/run.py's PASSWORD
# One byte per verify answered, in every worker: the bench counts the verifies wrk left in flight too.
served = os.open(os.environ.get("BENCH_VERIFIES_FILE", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT)


@app.get("/healthz")
def hello() -> Response:
    return jsonify(status="ok")


@app.post("/verify")
def verify() -> Response:
    answer = jsonify(ok=hasher.verify(request.get_json()["password"], stored_hash))
    os.write(served, b".")
    return answer
