"""Fixtures for the sandbox's API tests: a seeded sandbox with a fixed today and Closeout installed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sandbox import create_sandbox
from sandbox.seed import DEMO_WORKSPACE_ID, seed_world
from sandbox.state import AddonInstallation
from sandbox.world import World

# A Wednesday: the last full week is Mon 16 to Sun 22 November 2026.
TODAY = date(2026, 11, 25)
ADDON_ID = "6500000000000000000000a1"
ALL_SCOPES = frozenset(
    {
        "APPROVAL_READ",
        "APPROVAL_WRITE",
        "INVOICE_READ",
        "INVOICE_WRITE",
        "SCHEDULING_READ",
        "SCHEDULING_WRITE",
        "TIME_ENTRY_READ",
        "TIME_ENTRY_WRITE",
        "USER_READ",
        "GROUP_READ",
        "CLIENT_READ",
        "PROJECT_READ",
        "REPORTS_READ",
        "WORKSPACE_READ",
        "TIME_OFF_READ",
    }
)


@dataclass
class ApiSandbox:
    """A seeded sandbox app with Closeout installed on the demo workspace, driven through Flask's test client."""

    app: Flask
    client: FlaskClient
    installation_token: str
    ws: str = DEMO_WORKSPACE_ID

    @property
    def state(self) -> Any:
        return self.app.extensions["sandbox"]

    @property
    def world(self) -> World:
        return self.state.world  # type: ignore[no-any-return]

    @property
    def installation(self) -> AddonInstallation:
        return self.world.installations[self.ws]

    def user_id(self, role: str) -> str:
        return self.world.user_for_role(self.ws, role)

    def user_token(self, role: str = "OWNER", **claims: Any) -> str:
        """A 30-minute user token as the iframe gets it, for a seeded user holding `role`."""
        user_id = claims.pop("user", None) or self.user_id(role)
        body = {
            "workspaceId": self.ws,
            "addonId": ADDON_ID,
            "user": user_id,
            "workspaceRole": role,
            "backendUrl": self.state.backend_url,
            "reportsUrl": self.state.reports_url,
            **claims,
        }
        return self.state.signer.mint(body, ttl_seconds=1800)  # type: ignore[no-any-return]

    def call(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> TestResponse:
        """`path` relative to the host ("/api/v1/..."); `{ws}` is filled in; installation token by default."""
        headers = dict(kwargs.pop("headers", {}))
        chosen = self.installation_token if token is None else token
        if chosen:
            headers["X-Addon-Token"] = chosen
        return self.client.open(path.format(ws=self.ws), method=method, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)


def install(app: Flask, workspace_id: str = DEMO_WORKSPACE_ID, scopes: frozenset[str] = ALL_SCOPES) -> str:
    """Install Closeout the way the host shell does and return the installation token."""
    box = app.extensions["sandbox"]
    owner = box.world.user_for_role(workspace_id, "OWNER")
    token = box.signer.mint(
        {
            "workspaceId": workspace_id,
            "addonId": ADDON_ID,
            "user": owner,
            "backendUrl": box.backend_url,
            "reportsUrl": box.reports_url,
        }
    )
    box.world.installations[workspace_id] = AddonInstallation(
        workspace_id=workspace_id,
        addon_id=ADDON_ID,
        addon_url="http://closeout.invalid",
        installation_token=token,
        scopes=set(scopes),
    )
    return str(token)


@pytest.fixture(scope="session")
def api_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One signing key pair for every API test sandbox."""
    return tmp_path_factory.mktemp("sandbox-api")


def build_api_sandbox(instance: Path, overrides: dict[str, Any] | None = None) -> ApiSandbox:
    app = create_sandbox(
        {"SANDBOX_INSTANCE": str(instance), "SANDBOX_BASE_URL": "http://sandbox.test", **(overrides or {})}
    )
    return reseed(app)


def reseed(app: Flask) -> ApiSandbox:
    """A fresh world seeded on a fixed day, with no webhook delivery attached, and Closeout installed."""
    world = World()
    seed_world(world, seed=42, size="demo", today=TODAY)
    box = app.extensions["sandbox"]
    box.world = world
    box.rate_limiter = None
    token = install(app)
    return ApiSandbox(app=app, client=app.test_client(), installation_token=token)


@pytest.fixture(scope="session")
def api_app(api_instance: Path) -> Flask:
    return build_api_sandbox(api_instance).app


@pytest.fixture
def api_sandbox(api_app: Flask) -> Iterator[ApiSandbox]:
    yield reseed(api_app)
