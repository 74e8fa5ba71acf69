"""The one table of what runs for each webhook event, at reconciliation and in the minute sweep.

A capability's handlers live in its own `handlers.py`; this module is where they are wired, so a reader sees
in one place everything a delivery of, say, `APPROVAL_REQUEST_STATUS_UPDATED` sets off. Handlers must be
idempotent and order-tolerant (Clockify delivers at least once, in any order; see docs/clockify.md).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from typing import Any

from .approvals import handlers as approvals
from .billing import handlers as billing
from .dashboard import handlers as dashboard
from .dashboard.figures import RELEVANT_EVENTS as DASHBOARD_EVENTS
from .platform.events import FollowUp, Handler, Reconciler, Sweeper
from .scheduling import handlers as scheduling
from .scheduling.handlers import RELEVANT_EVENTS as SCHEDULE_EVENTS

APPROVAL_EVENTS = ("NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED")


def _table() -> dict[str, tuple[Handler, ...]]:
    table: dict[str, list[Handler]] = {}
    for event_type in APPROVAL_EVENTS:
        table.setdefault(event_type, []).append(approvals.on_approval_request)
    for event_type in billing.INVOICE_EVENTS:
        table.setdefault(event_type, []).append(billing.on_invoice_event)
    for event_type in DASHBOARD_EVENTS:
        table.setdefault(event_type, []).append(dashboard.on_relevant_event)
    for event_type in SCHEDULE_EVENTS:
        table.setdefault(event_type, []).append(scheduling.on_schedule_event)
    return {event_type: tuple(fns) for event_type, fns in table.items()}


HANDLERS: dict[str, tuple[Handler, ...]] = _table()

# Run in order for every active installation on the reconcile schedule, each in its own transaction.
RECONCILERS: tuple[tuple[str, Reconciler], ...] = (
    ("approvals", approvals.reconcile_approvals),
    ("billing", billing.reconcile_billing),
    ("dashboard", dashboard.reconcile_dashboard),
    ("scheduling", scheduling.reconcile_schedule),
)

# Run every minute by the worker: cheap database checks for background work whose queue message was lost.
SWEEPERS: tuple[tuple[str, Sweeper], ...] = (
    ("approvals.resume_stalled_jobs", approvals.resume_stalled_jobs),
    ("billing.resume_stalled_jobs", billing.resume_stalled_jobs),
    ("scheduling.resume_stalled_jobs", scheduling.resume_stalled_jobs),
)

# Run for a workspace when STATUS_CHANGED makes it ACTIVE again: the jobs each capability's pause held.
RESUMERS: tuple[tuple[str, Callable[[str], list[FollowUp]]], ...] = (
    ("approvals.resume_paused_jobs", approvals.resume_paused_jobs),
    ("billing.resume_paused_jobs", billing.resume_paused_jobs),
    ("scheduling.resume_paused_jobs", scheduling.resume_paused_jobs),
)


# --- Extra handlers: tests and benchmarks plug in their own, never the product ---

_extra_lock = threading.Lock()
_extra: dict[str, list[Handler]] = {}
_extra_loaded = False


def register_extra(handler: Handler, *event_types: str) -> None:
    """Run `handler` after the table's for these event types (tests and benchmarks only)."""
    with _extra_lock:
        for event_type in event_types:
            bucket = _extra.setdefault(event_type, [])
            if handler not in bucket:
                bucket.append(handler)


def unregister_extra(handler: Callable[..., Any]) -> None:
    with _extra_lock:
        for bucket in _extra.values():
            if handler in bucket:
                bucket.remove(handler)


def _load_extra_modules() -> None:
    # CLOSEOUT_EXTRA_CAPABILITIES (comma-separated modules, each with `register()`) lets a benchmark's worker
    # process plug in a counting handler without shipping it in the product.
    global _extra_loaded
    if _extra_loaded:
        return
    _extra_loaded = True
    for name in (m.strip() for m in os.environ.get("CLOSEOUT_EXTRA_CAPABILITIES", "").split(",")):
        if name:
            importlib.import_module(name).register()


def handlers_for(event_type: str) -> tuple[Handler, ...]:
    _load_extra_modules()
    with _extra_lock:
        extra = tuple(_extra.get(event_type, ()))
    return HANDLERS.get(event_type, ()) + extra
