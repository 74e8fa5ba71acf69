"""Fixtures for the Clockify client's tests: a sandbox installation without Closeout, clients, faults."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from addon.clockify import ClockifyClient, LocalLimiter, pacing_for
from sandbox.lifecycle import new_id
from sandbox.state import AddonInstallation

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"


@dataclass
class Installation:
    workspace_id: str
    addon_id: str
    token: str


def install_directly(state: Any, workspace_id: str) -> Installation:
    """Put Closeout's installation into the sandbox world the way INSTALLED would, without running Closeout."""
    scopes = set(json.loads(MANIFEST.read_text()).get("scopes") or [])
    with state.world.lock:
        owner_id = state.user_id_for_role(workspace_id, "OWNER")
        addon_id = new_id()
        token = state.signer.installation_token(workspace_id, addon_id, owner_id, state.urls)
        state.world.installations[workspace_id] = AddonInstallation(
            workspace_id=workspace_id,
            addon_id=addon_id,
            addon_url="http://127.0.0.1:9/closeout",
            installation_token=token,
            scopes=scopes,
        )
    return Installation(workspace_id, addon_id, token)


@pytest.fixture
def installation(sandbox: Any) -> Installation:
    return install_directly(sandbox.state, sandbox.demo_workspace_id)


@pytest.fixture
def make_client(sandbox: Any, installation: Installation) -> Iterator[Callable[..., ClockifyClient]]:
    """make_client(**options): a client on the sandbox's demo workspace with the installation token."""
    made: list[ClockifyClient] = []

    def factory(**options: Any) -> ClockifyClient:
        options.setdefault("limiter", LocalLimiter(*pacing_for(50)))
        options.setdefault("max_retries", 4)
        options.setdefault("backoff_base", 0.01)
        token = options.pop("token", installation.token)
        client = ClockifyClient(sandbox.backend_url, sandbox.reports_url, token, installation.workspace_id, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def fault(sandbox: Any) -> Callable[..., dict[str, Any]]:
    """fault(pattern, **rule): add a sandbox fault rule (latencyMs, errorRate, errorStatus, rateLimitBurst …)."""

    def add(pattern: str, **rule: Any) -> dict[str, Any]:
        response = sandbox.control("POST", "/faults", {"pattern": pattern, **rule})
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    return add


class FakeTime:
    """An injectable clock whose sleep advances it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
