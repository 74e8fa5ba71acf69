"""Fixtures that run the sandbox and a live Closeout over real HTTP (loaded by conftest as a plugin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask

from sandbox import create_sandbox
from sandbox.sandbox import Sandbox
from sandbox.state import AddonInstallation
from sandbox.world import World
from tests.live import LiveServer

SEED = 42
# Surface name → manifest component type; "settings" is the self-hosted settings page.
SURFACES = {
    "sidebar": "sidebar",
    "approvals": "approvals.tab",
    "schedule": "schedule.tab",
    "invoices": "invoices.action",
    "settings": "settings",
}


@dataclass
class SandboxHandle:
    """The running sandbox as tests see it: URLs, state, signer and its control API."""

    app: Flask
    server: LiveServer

    @property
    def state(self) -> Sandbox:
        return self.app.extensions["sandbox"]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def backend_url(self) -> str:
        return self.state.backend_url

    @property
    def reports_url(self) -> str:
        return self.state.reports_url

    @property
    def world(self) -> World:
        return self.state.world

    @property
    def signer(self) -> Any:
        return self.state.signer

    @property
    def demo_workspace_id(self) -> str:
        return self.state.demo_workspace_id

    def control(self, method: str, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        """Call the control API, e.g. control("POST", "/faults", {...})."""
        return requests.request(method, self.url + "/__sandbox" + path, json=json, timeout=30, **kwargs)

    def drain(self, timeout: float = 10.0) -> None:
        response = self.control("POST", "/deliveries/drain", {"timeout": timeout})
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """One sandbox for the session on a free loopback port, with a key pair of its own."""
    app = create_sandbox({"SANDBOX_INSTANCE": str(tmp_path_factory.mktemp("sandbox"))})
    server = LiveServer(app).start()
    # The port is known only once the server listens; URLs in tokens and INSTALLED follow it.
    app.extensions["sandbox"].config["SANDBOX_BASE_URL"] = server.url
    yield SandboxHandle(app, server)
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    """The session's sandbox, reseeded and with no faults, logs, deliveries or installations."""
    sandbox_server.state.config["SANDBOX_USER_TOKEN_TTL"] = None
    # Explicit seed and size: a test that reseeded through the control API must not change the next one's data.
    sandbox_server.state.reset(seed=SEED, size="demo")
    return sandbox_server


@pytest.fixture
def closeout_live(app: Flask, sandbox: SandboxHandle) -> Iterator[LiveServer]:
    """Closeout on its own loopback port, trusting the sandbox's key and framed by the sandbox's shell."""
    server = LiveServer(app)
    app.config.update(
        ADDON_BASE_URL=server.url,
        CLOCKIFY_PUBLIC_KEY=sandbox.signer.public_pem,
        FRAME_ANCESTORS=sandbox.url,
        CLOCKIFY_API_HOSTS=(*app.config["CLOCKIFY_API_HOSTS"], sandbox.url),
    )
    app.extensions.pop("closeout_verifier", None)
    app.extensions.pop("closeout_clients", None)
    sandbox.state.config["ADDON_URL"] = server.url
    server.start()
    yield server
    # Deliveries still queued for this Closeout must not reach the next test's.
    sandbox.state.deliverer.drain(5)
    server.stop()


@dataclass
class Installed:
    workspace_id: str
    installation: AddonInstallation


@pytest.fixture
def installed(sandbox: SandboxHandle, closeout_live: LiveServer) -> Installed:
    """Closeout installed on the demo workspace through the real INSTALLED call."""
    workspace_id = sandbox.demo_workspace_id
    response = sandbox.control("POST", "/install", {"workspaceId": workspace_id})
    assert response.status_code == 201, response.text
    return Installed(workspace_id, sandbox.world.installations[workspace_id])


@pytest.fixture
def user_token(sandbox: SandboxHandle) -> Callable[..., str]:
    """user_token(role, **options): a fresh user token on the demo workspace (options as the control API's)."""

    def mint(role: str = "OWNER", **options: Any) -> str:
        response = sandbox.control("POST", "/tokens/user", {"role": role, **options})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    return mint


@pytest.fixture
def open_component(
    closeout_live: LiveServer, sandbox: SandboxHandle, user_token: Callable[..., str]
) -> Callable[..., str]:
    """open_component(role, surface): the iframe URL Clockify would load for that role."""
    from addon.manifest import component_paths, settings_path

    def url(role: str = "OWNER", surface: str = "sidebar", **options: Any) -> str:
        component = SURFACES[surface]
        path = settings_path() if component == "settings" else component_paths()[component]
        return f"{closeout_live.url}{path}?auth_token={user_token(role, **options)}"

    return url


@pytest.fixture
def request_log(sandbox: SandboxHandle) -> Callable[..., list[dict[str, Any]]]:
    """request_log(**filters): what reached the sandbox's API (method, path, status, since)."""

    def read(**filters: Any) -> list[dict[str, Any]]:
        response = sandbox.control("GET", "/requests", params=filters)
        assert response.status_code == 200, response.text
        return list(response.json())

    return read


@pytest.fixture
def deliveries(sandbox: SandboxHandle) -> Callable[..., list[dict[str, Any]]]:
    """deliveries(**filters): every webhook delivery once the queue has drained (event, outcome filters)."""

    def read(**filters: Any) -> list[dict[str, Any]]:
        sandbox.drain()
        response = sandbox.control("GET", "/deliveries", params=filters)
        assert response.status_code == 200, response.text
        return list(response.json())

    return read
