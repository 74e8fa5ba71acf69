"""create_sandbox(): the local Clockify — API under /api, reports under /reports, shell at /."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from . import api, control, reports, shell
from .sandbox import Sandbox
from .tokens import Signer
from .traffic import observe

ROOT = Path(__file__).resolve().parent.parent


def create_sandbox(overrides: dict[str, Any] | None = None) -> Flask:
    config: dict[str, Any] = {
        "SANDBOX_BASE_URL": "http://localhost:5001",
        "ADDON_URL": "http://localhost:5000",
        "ADDON_KEY": "closeout",
        "SANDBOX_INSTANCE": str(ROOT / "instance" / "sandbox"),
        "SANDBOX_PRIVATE_KEY": None,
        "SANDBOX_SEED": 42,
        "SANDBOX_SIZE": "demo",
        "SANDBOX_RATE_LIMIT": 50,
        # None: user tokens live 30 minutes, as Clockify's do; tests shorten it to exercise expiry.
        "SANDBOX_USER_TOKEN_TTL": None,
    }
    config.update(overrides or {})
    app = Flask(__name__, template_folder="templates", static_folder="static", static_url_path="/sandbox-static")
    app.config.update(config)
    if config["SANDBOX_PRIVATE_KEY"]:
        signer = Signer.from_pem(config["SANDBOX_PRIVATE_KEY"], config["ADDON_KEY"])
    else:
        signer = Signer.load_or_create(Path(config["SANDBOX_INSTANCE"]), config["ADDON_KEY"])
    sandbox = Sandbox.seeded(config, signer)
    app.extensions["sandbox"] = sandbox
    observe(app, sandbox.faults, sandbox.request_log)

    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(reports.bp, url_prefix="/reports")
    app.register_blueprint(control.bp, url_prefix="/__sandbox")
    app.register_blueprint(shell.bp)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return app
