"""create_sandbox(): the local Clockify — API under /api, reports under /reports, shell at /."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from .tokens import Signer
from .world import World

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sandbox:
    """What every sandbox route reaches through current_app.extensions["sandbox"]."""

    config: dict[str, Any]
    world: World
    signer: Signer
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.config["SANDBOX_BASE_URL"]).rstrip("/")

    @property
    def backend_url(self) -> str:
        """What tokens carry as backendUrl and INSTALLED as apiUrl."""
        return self.base_url + "/api"

    @property
    def reports_url(self) -> str:
        return self.base_url + "/reports"


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
    }
    config.update(overrides or {})
    app = Flask(__name__, template_folder="templates", static_folder="static", static_url_path="/sandbox-static")
    app.config.update(config)
    if config["SANDBOX_PRIVATE_KEY"]:
        signer = Signer.from_pem(config["SANDBOX_PRIVATE_KEY"], config["ADDON_KEY"])
    else:
        signer = Signer.load_or_create(Path(config["SANDBOX_INSTANCE"]), config["ADDON_KEY"])
    app.extensions["sandbox"] = Sandbox(config=config, world=World(), signer=signer)

    from . import api, control, reports, shell

    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(reports.bp, url_prefix="/reports")
    app.register_blueprint(control.bp, url_prefix="/__sandbox")
    app.register_blueprint(shell.bp)
    return app
