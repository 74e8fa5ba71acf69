"""The sandbox's state: every workspace's data, guarded by one lock, with change events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Listener = Callable[[str, str, dict[str, Any]], None]


class World:
    """All sandbox state. Mutations happen under `lock` and announce themselves through `emit`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, Any] = {}
        # workspace id → Closeout's installation there (absent when not installed)
        self.installations: dict[str, AddonInstallation] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(workspace_id, event_type, payload)` on every change (webhook delivery hooks in)."""
        self._listeners.append(listener)

    def emit(self, workspace_id: str, event_type: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(workspace_id, event_type, payload)


@dataclass
class AddonInstallation:
    """Closeout as installed on one sandbox workspace: what the API checks tokens and scopes against."""

    workspace_id: str
    addon_id: str
    addon_url: str  # Closeout's baseUrl from its manifest
    installation_token: str
    scopes: set[str]
    is_active: bool = True
    # Every webhook that delivers to Closeout: {"id", "event", "url", "token", "source": "manifest"|"api"}
    webhooks: list[dict[str, Any]] = field(default_factory=list)
