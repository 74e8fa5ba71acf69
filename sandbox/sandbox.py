"""The Sandbox object: what every sandbox route reaches through current_app.extensions["sandbox"]."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .delivery import Deliverer
from .ratelimit import RateLimiter
from .seed import DEMO_WORKSPACE_ID, seed_world
from .tokens import Signer
from .traffic import FaultPlan, RequestLog
from .world import World


@dataclass
class Sandbox:
    """The local Clockify's parts: its world, signing key, webhook deliverer, faults, logs and rate limiter."""

    config: dict[str, Any]
    signer: Signer
    world: World = field(default_factory=World)
    # POSTs the world's events to the webhooks of whichever world is current (reset replaces it).
    deliverer: Deliverer = field(init=False)
    faults: FaultPlan = field(default_factory=FaultPlan)
    request_log: RequestLog = field(default_factory=RequestLog)
    # Built on the first API call (see limiter()); None again after a reset.
    rate_limiter: RateLimiter | None = None
    # workspace id → the manifest read when Closeout was installed there (components, lifecycle paths)
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    # every lifecycle call sent: {event, url, status, time, duration_ms, workspaceId}
    lifecycle_log: list[dict[str, Any]] = field(default_factory=list)
    _limiter_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.deliverer = Deliverer(lambda: self.world.installations)

    @classmethod
    def seeded(cls, config: dict[str, Any], signer: Signer) -> Sandbox:
        """A sandbox whose world holds the configured seed's data and delivers its events as webhooks."""
        sandbox = cls(config=config, signer=signer)
        sandbox.world = sandbox._seeded_world(int(config["SANDBOX_SEED"]), str(config["SANDBOX_SIZE"]))
        return sandbox

    def _seeded_world(self, seed: int, size: str) -> World:
        world = World()
        seed_world(world, seed, size)  # raises ValueError on a bad size
        world.subscribe(self.deliverer.on_event)
        return world

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
        """The API hosts every installation and user token names (docs/clockify.md#tokens)."""
        return {
            "backendUrl": self.backend_url,
            "reportsUrl": self.reports_url,
            "locationsUrl": self.base_url + "/locations",
            "screenshotsUrl": self.base_url + "/screenshots",
        }

    @property
    def demo_workspace_id(self) -> str:
        return DEMO_WORKSPACE_ID

    def user_id_for_role(self, workspace_id: str, role: str) -> str:
        """The id of a seeded user holding `role` (OWNER, ADMIN, TEAM_MANAGER, MEMBER) in the workspace."""
        if workspace_id in self.world.workspaces:
            return self.world.user_for_role(workspace_id, role.upper())
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

    def limiter(self) -> RateLimiter:
        """The rate limiter the gate counts calls with; rebuilt when SANDBOX_RATE_LIMIT changes."""
        limit = int(self.config.get("SANDBOX_RATE_LIMIT", 50))
        found = self.rate_limiter
        if found is None or found.limit != limit:
            with self._limiter_lock:
                found = self.rate_limiter
                if found is None or found.limit != limit:
                    found = RateLimiter(limit)
                    self.rate_limiter = found
        return found

    def reset(self, seed: int | None = None, size: str | None = None) -> None:
        """Fresh state: a newly seeded world, no installations, faults, logs, deliveries or counted calls."""
        seed = int(self.config["SANDBOX_SEED"]) if seed is None else seed
        size = str(self.config["SANDBOX_SIZE"]) if size is None else size
        world = self._seeded_world(seed, size)  # a bad size raises here, leaving everything as it was
        self.config.update(SANDBOX_SEED=seed, SANDBOX_SIZE=size)
        self.world = world
        self.manifests.clear()
        self.lifecycle_log.clear()
        self.deliverer.reset()
        self.faults.clear()
        self.request_log.clear()
        self.rate_limiter = None


def current_sandbox() -> Sandbox:
    """The sandbox serving the current request."""
    sandbox: Sandbox = current_app.extensions["sandbox"]
    return sandbox
