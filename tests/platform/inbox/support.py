"""Helpers for inbox tests: deliver signed webhooks, count stored events and handler effects."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from addon import handlers
from addon.extensions import db
from addon.manifest import webhook_paths
from addon.platform import events
from addon.platform.models import AuditEntry, InboxEvent
from tests.conftest import WORKSPACE_ID

EFFECT = "test-effect"


def approval_body(request_id: str = "req-1", state: str = "PENDING", at: str = "2026-11-02T10:00:00Z", **extra: Any):
    """An approval-request webhook body in the documented shape (docs/clockify.md#webhooks)."""
    return {
        "id": request_id,
        "workspaceId": WORKSPACE_ID,
        "dateRange": {"start": "2026-10-26T00:00:00Z", "end": "2026-11-01T23:59:59Z"},
        "owner": {"userId": "user-1", "userName": "Ada", "timezone": "UTC", "startOfWeek": "MONDAY"},
        "status": {"state": state, "updatedBy": "user-2", "updatedByUserName": "Bo", "updatedAt": at, "note": ""},
        **extra,
    }


def deliver(
    client: FlaskClient,
    token: str | None,
    event_type: str,
    body: Any,
    *,
    header_event: str | None = None,
    path: str | None = None,
) -> Any:
    headers = {"Clockify-Webhook-Event-Type": header_event if header_event is not None else event_type}
    if token is not None:
        headers["Clockify-Signature"] = token
    return client.post(path or webhook_paths()[event_type], json=body, headers=headers)


def inbox_rows(app: Flask) -> list[InboxEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(InboxEvent).order_by(InboxEvent.id)))
        db.session.expunge_all()
        return rows


def effects(app: Flask) -> list[AuditEntry]:
    """What the counting handler did: one audit row per handled event."""
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEntry).filter_by(action=EFFECT).order_by(AuditEntry.id)))
        db.session.expunge_all()
        return rows


def count_effect(ctx: events.EventContext) -> None:
    """A handler with a database effect, written in the same transaction that marks the event done."""
    db.session.add(
        AuditEntry(
            workspace_id=ctx.workspace_id,
            action=EFFECT,
            subject_type=ctx.event_type,
            subject_id=str(ctx.inbox_id),
            detail={"payload_id": ctx.payload.get("id")},
        )
    )


def apply_latest_approval_state(ctx: events.EventContext) -> None:
    """An order-tolerant handler: applies a status only when it is newer than the one applied."""
    status = ctx.payload.get("status") or {}
    at = events.change_time(ctx.payload) or ctx.received_at
    if events.advance(ctx.workspace_id, "approval_request", ctx.payload["id"], at, state=status.get("state")):
        db.session.add(
            AuditEntry(
                workspace_id=ctx.workspace_id,
                action="test-applied",
                subject_type="approval_request",
                subject_id=ctx.payload["id"],
                detail={"state": status.get("state")},
            )
        )


@contextmanager
def registered(handler: Callable[[events.EventContext], None], *event_types: str) -> Iterator[None]:
    handlers.register_extra(handler, *event_types)
    try:
        yield
    finally:
        handlers.unregister_extra(handler)


def forget_queue(app: Flask) -> None:
    """Drop the app's queue and tasks, so the next use builds them from the config as it is now."""
    app.extensions.pop("closeout_jobs", None)
    app.extensions.pop("closeout_queue", None)


def unique_queue_name() -> str:
    return f"closeout-test-{uuid.uuid4().hex[:10]}"


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy or the deadline passes (then fail with what it last returned)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        threading_event_wait(interval)


def threading_event_wait(seconds: float) -> None:
    # Waiting on an Event releases the GIL for the consumer's threads, like a sleep, but is interruptible.
    import threading

    threading.Event().wait(seconds)


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
