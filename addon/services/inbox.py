"""The webhook inbox: verified deliveries stored once under a derived dedupe key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import InboxEvent, utcnow


def dedupe_key(workspace_id: str, event_type: str, body: dict[str, Any]) -> str:
    """Hash of workspace, event type and the canonical body.

    Clockify sends no event id, and an entity id alone would swallow later updates of the same
    entity; the whole canonical body tells a redelivery from a new event.
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{workspace_id}\n{event_type}\n{canonical}".encode()).hexdigest()


def entity_id_of(body: dict[str, Any]) -> str | None:
    for key in ("id", "assignmentId", "userId"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:64]
    return None


def accept(workspace_id: str, event_type: str, body: dict[str, Any]) -> int | None:
    """Store a delivery; return its inbox id, or None when it is a duplicate of one already stored."""
    values = {
        "workspace_id": workspace_id,
        "event_type": event_type,
        "dedupe_key": dedupe_key(workspace_id, event_type, body),
        "entity_id": entity_id_of(body),
        "payload": body,
        "status": "pending",
        "attempts": 0,
        "received_at": utcnow(),
    }
    # INSERT … ON CONFLICT DO NOTHING: concurrent duplicates race in the database, not in Python.
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(InboxEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(InboxEvent.id)
    )
    return db.session.execute(stmt).scalar_one_or_none()


def pending_count(workspace_id: str) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(InboxEvent).filter_by(workspace_id=workspace_id, status="pending")
        )
        or 0
    )
