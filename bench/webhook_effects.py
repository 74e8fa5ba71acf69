"""A benchmark-only capability: records every processing of an event, so "exactly once" can be counted.

Loaded by the worker only when CLOSEOUT_EXTRA_CAPABILITIES names it; never part of the product.
"""

from __future__ import annotations

import sqlalchemy as sa

from addon import handlers
from addon.extensions import db
from addon.platform import events

EVENTS = ("NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED")

# The benchmark's scratch database gets this table; it is not part of Closeout's schema.
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_effects (
    id SERIAL PRIMARY KEY,
    inbox_id INTEGER NOT NULL,
    entity_id VARCHAR(64) NOT NULL,
    event_type VARCHAR(64) NOT NULL
)
"""


def register() -> None:
    """Called by the worker when CLOSEOUT_EXTRA_CAPABILITIES names this module."""
    handlers.register_extra(record_effect, *EVENTS)


def record_effect(ctx: events.EventContext) -> None:
    """One row per processing, written in the transaction that marks the event done (no unique key: twice shows)."""
    entity_id = str(ctx.payload.get("id"))
    db.session.execute(
        sa.text("INSERT INTO bench_effects (inbox_id, entity_id, event_type) VALUES (:i, :e, :t)"),
        {"i": ctx.inbox_id, "e": entity_id, "t": ctx.event_type},
    )
    status = ctx.payload.get("status") or {}
    at = events.change_time(ctx.payload) or ctx.received_at
    events.advance(ctx.workspace_id, "bench_request", entity_id, at, state=status.get("state"))
