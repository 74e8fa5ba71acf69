"""The sandbox's state: every workspace's data, guarded by one lock, with change events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, str, dict[str, Any]], None]


class World:
    """All sandbox state. Mutations happen under `lock` and announce themselves through `emit`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, Any] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(workspace_id, event_type, payload)` on every change (webhook delivery hooks in)."""
        self._listeners.append(listener)

    def emit(self, workspace_id: str, event_type: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(workspace_id, event_type, payload)
