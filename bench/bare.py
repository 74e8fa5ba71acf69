"""The baseline for webhook intake: a bare Flask app that answers every POST with 200 and does nothing else."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/<path:path>")
def accept(path: str) -> Response:
    request.get_data()  # read the body as intake must, and nothing more
    return jsonify({"status": "accepted"})


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})
