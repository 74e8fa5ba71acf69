"""The audit trail: who did what to which Clockify object through Closeout. The one writer and reader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..extensions import db, utcnow
from .models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acted: a person (their Clockify user id and name) or Closeout itself (no user id)."""

    user_id: str | None
    name: str | None


def record(
    workspace_id: str,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to the session, in the caller's transaction: it commits with the change it describes.

    `action` is namespaced by capability ("approval.approve", "invoice.create" …) so each reads its own.
    """
    entry = AuditEntry(
        workspace_id=workspace_id,
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        detail=detail,
    )
    db.session.add(entry)
    return entry


def entries(workspace_id: str, prefix: str, *, actor_user_id: str | None = None, limit: int = 30) -> list[AuditEntry]:
    """The newest entries whose action starts with `prefix`, optionally only one person's."""
    query = sa.select(AuditEntry).where(AuditEntry.workspace_id == workspace_id, AuditEntry.action.startswith(prefix))
    if actor_user_id is not None:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def prune(retention_days: float, now: datetime | None = None, limit: int = 5000) -> int:
    """Delete up to `limit` entries older than the retention (oldest first); 0 days keeps every entry."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    ids = db.session.scalars(
        sa.select(AuditEntry.id).where(AuditEntry.created_at < cutoff).order_by(AuditEntry.id).limit(limit)
    ).all()
    if not ids:
        return 0
    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)
