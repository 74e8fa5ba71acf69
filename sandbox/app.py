"""create_sandbox(): the local Clockify — API under /api, reports under /reports, shell at /."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from .tokens import Signer
from .world import World

ROOT = Path(__file__).resolve().parent.parent
# Used only until the seed module provides the demo workspace.
FALLBACK_DEMO_WORKSPACE_ID = "64f0c0ffee0000000000d3e0"

log = logging.getLogger(__name__)


@dataclass
class Sandbox:
    """What every sandbox route reaches through current_app.extensions["sandbox"]."""

    config: dict[str, Any]
    world: World
    signer: Signer
    extras: dict[str, Any] = field(default_factory=dict)
    # workspace id → the manifest read when Closeout was installed there (components, lifecycle paths)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    # every lifecycle call sent: {event, url, status, time, duration_ms, workspaceId}
    lifecycle_log: list[dict[str, Any]] = field(default_factory=list)

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

    @property
    def addon_url(self) -> str:
        """Where Closeout serves its manifest."""
        return str(self.config["ADDON_URL"]).rstrip("/")

    @property
    def urls(self) -> dict[str, str]:
        """The API hosts every installation and user token names (platform.md §3.2)."""
        return {
            "backendUrl": self.backend_url,
            "reportsUrl": self.reports_url,
            "locationsUrl": self.base_url + "/locations",
            "screenshotsUrl": self.base_url + "/screenshots",
        }

    @property
    def demo_workspace_id(self) -> str:
        try:
            from .seed import DEMO_WORKSPACE_ID
        except ImportError:
            return FALLBACK_DEMO_WORKSPACE_ID
        return str(DEMO_WORKSPACE_ID)

    @property
    def deliverer(self) -> Any:
        return self.extras["deliverer"]

    def user_id_for_role(self, workspace_id: str, role: str) -> str:
        """The id of a seeded user holding `role` (OWNER, ADMIN, TEAM_MANAGER, MEMBER) in the workspace."""
        finder = getattr(self.world, "user_for_role", None)
        if finder is not None and workspace_id in self.world.workspaces:
            user = finder(workspace_id, role.upper())
            if isinstance(user, dict):
                return str(user["id"])
            if user is not None:
                return str(getattr(user, "id", user))
        return f"{role.lower().replace('_', '-')}-{workspace_id}"[:24]

    def user_token(
        self,
        workspace_id: str,
        role: str,
        *,
        user_id: str | None = None,
        theme: str = "DEFAULT",
        ttl_seconds: int | None = None,
    ) -> str:
        """A fresh user token for Closeout on `workspace_id`, as the host gives an iframe."""
        installation = self.world.installations.get(workspace_id)
        addon_id = installation.addon_id if installation else "not-installed"
        kwargs: dict[str, Any] = {"theme": theme}
        ttl = ttl_seconds if ttl_seconds is not None else self.config.get("SANDBOX_USER_TOKEN_TTL")
        if ttl is not None:
            kwargs["ttl_seconds"] = int(ttl)
        user = user_id or self.user_id_for_role(workspace_id, role)
        return self.signer.user_token(workspace_id, addon_id, user, role, self.urls, **kwargs)

    def reset(self, seed: int | None = None, size: str | None = None) -> None:
        """Fresh state: a newly seeded world, no installations, faults, logs or deliveries."""
        seed = int(self.config["SANDBOX_SEED"]) if seed is None else seed
        size = str(self.config["SANDBOX_SIZE"]) if size is None else size
        world = World()
        seed_world(world, seed, size)  # raises ValueError on a bad size, leaving everything as it was
        self.config.update(SANDBOX_SEED=seed, SANDBOX_SIZE=size)
        world.subscribe(self.deliverer.on_event)
        self.world = world
        self.manifests.clear()
        self.lifecycle_log.clear()
        self.deliverer.reset()
        self.extras["faults"].clear()
        self.extras["requests"].clear()
        for hook in self.extras.get("reset_hooks", []):
            hook(self)


def seed_world(world: World, seed: int, size: str) -> None:
    """Fill `world` with the seeded demo (or large) workspace when the seed module is present."""
    try:
        from .seed import seed_world as seed_fn
    except ImportError:
        log.warning("sandbox seed data is not available; the world starts empty")
        return
    seed_fn(world, seed, size)


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
    world = World()
    sandbox = Sandbox(config=config, world=world, signer=signer)
    app.extensions["sandbox"] = sandbox

    from . import api, control, reports, shell
    from .delivery import Deliverer

    sandbox.extras["deliverer"] = Deliverer(lambda: sandbox.world.installations)
    control.attach(app, sandbox)
    seed_world(world, int(config["SANDBOX_SEED"]), str(config["SANDBOX_SIZE"]))
    world.subscribe(sandbox.deliverer.on_event)

    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(reports.bp, url_prefix="/reports")
    app.register_blueprint(control.bp, url_prefix="/__sandbox")
    app.register_blueprint(shell.bp)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return app
