"""Where webhook events and reconciliation meet the capabilities: a registry of handlers."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import Installation

# Capability modules that register handlers with @on / @reconciler; imported before dispatching so
# their registrations exist in the web process and in the worker alike. Add a module here when it
# starts handling events.
CAPABILITIES: tuple[str, ...] = ()


@dataclass
class EventContext:
    """One stored webhook event being processed for an active installation."""

    installation: Installation
    event_type: str
    payload: dict[str, Any]
    received_at: datetime
    # Builds the installation's Clockify client on first use (most handlers need none).
    client_factory: Callable[[], Any] = field(repr=False)

    @property
    def workspace_id(self) -> str:
        return self.installation.workspace_id


Handler = Callable[[EventContext], None]
Reconciler = Callable[[Installation, Any], None]

_handlers: dict[str, list[Handler]] = {}
_reconcilers: list[Reconciler] = []


def on(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler for webhook event types (it must be idempotent and order-tolerant)."""

    def register(fn: Handler) -> Handler:
        for event_type in event_types:
            bucket = _handlers.setdefault(event_type, [])
            if fn not in bucket:
                bucket.append(fn)
        return fn

    return register


def reconciler(fn: Reconciler) -> Reconciler:
    """Register `fn(installation, client)`, run for every active installation on the reconcile schedule."""
    if fn not in _reconcilers:
        _reconcilers.append(fn)
    return fn


def load_capabilities() -> None:
    for module in CAPABILITIES:
        importlib.import_module(module)


def handlers_for(event_type: str) -> list[Handler]:
    load_capabilities()
    return list(_handlers.get(event_type, []))


def reconcilers() -> list[Reconciler]:
    load_capabilities()
    return list(_reconcilers)
