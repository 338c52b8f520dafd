"""The bench's floor: a bare Flask app answering what /healthz answers, nothing else."""

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/healthz")
def hello() -> Response:
    return jsonify(status="ok")
