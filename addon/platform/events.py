"""What a webhook handler is given and may hand back: the event's context, follow-up work, and "retry later"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..clockify.payloads import parse_datetime
from ..extensions import db, utcnow
from .models import EntityVersion, Installation


@dataclass(frozen=True)
class FollowUp:
    """Work a handler or sweeper asks for; the worker queues it by task name once the transaction commits."""

    task: str
    args: tuple[Any, ...] = ()
    delay: float = 0.0


@dataclass
class EventContext:
    """One stored webhook event being processed for an active installation."""

    installation: Installation
    event_type: str
    payload: dict[str, Any]
    received_at: datetime
    # Builds the installation's Clockify client on first use (most handlers need none).
    client_factory: Callable[[], Any] = field(repr=False)
    # The inbox row being processed (None when a handler is called outside the inbox).
    inbox_id: int | None = None
    # The app's configuration (read-only), for handlers whose behaviour an operator tunes.
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)
    follow_ups: list[FollowUp] = field(default_factory=list)

    @property
    def workspace_id(self) -> str:
        return self.installation.workspace_id

    def defer(self, task: str, *args: Any, delay: float = 0.0) -> None:
        """Queue `task(*args)` after this event's outcome commits (handlers never enqueue themselves)."""
        follow_up = FollowUp(task, args, delay)
        if follow_up not in self.follow_ups:
            self.follow_ups.append(follow_up)


Handler = Callable[[EventContext], None]
Reconciler = Callable[[Installation, Any], None]
# A sweeper runs every minute in the worker (committed after) and names the work to queue again.
Sweeper = Callable[[], list[FollowUp]]


class RetryableError(Exception):
    """Raised by a handler when the event cannot be handled yet but may be later (it is retried with backoff)."""


CHANGE_TIME_FIELDS = ("status.updatedAt", "status.changedAt", "updatedAt", "changedAt", "dateUpdated")


def change_time(payload: dict[str, Any], fields: tuple[str, ...] = CHANGE_TIME_FIELDS) -> datetime | None:
    """Clockify's own time of the change a payload describes: the first dotted field present and readable."""
    for dotted in fields:
        value: Any = payload
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def is_newer(incoming_at: datetime, stored_at: datetime | None, incoming_rank: int = 0, stored_rank: int = 0) -> bool:
    """Whether a change stamped (incoming_at, incoming_rank) supersedes the stored one; equal is not newer."""
    if stored_at is None:
        return True
    return (incoming_at, incoming_rank) > (stored_at, stored_rank)


def advance(
    workspace_id: str,
    entity_type: str,
    entity_id: str,
    version_at: datetime,
    *,
    rank: int = 0,
    state: str | None = None,
) -> bool:
    """Claim the right to apply a change to one Clockify object; False means a newer one is already applied.

    Call it in the handler's transaction before writing: True → apply the change; False → the event is
    late (an older update after a newer one, a creation after its status update) and must not regress
    anything. Atomic under concurrent workers: the row insert races in the database, the update is
    conditional. `rank` orders changes stamped with the same time (e.g. APPROVED over PENDING).
    """
    values = {
        "workspace_id": workspace_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "version_at": version_at,
        "rank": rank,
        "state": state,
        "updated_at": utcnow(),
    }
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = db.session.execute(
        insert(EntityVersion)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["workspace_id", "entity_type", "entity_id"])
        .returning(EntityVersion.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return True
    result = db.session.execute(
        sa.update(EntityVersion)
        .where(
            EntityVersion.workspace_id == workspace_id,
            EntityVersion.entity_type == entity_type,
            EntityVersion.entity_id == entity_id,
            sa.or_(
                EntityVersion.version_at < version_at,
                sa.and_(EntityVersion.version_at == version_at, EntityVersion.rank < rank),
            ),
        )
        .values(version_at=version_at, rank=rank, state=state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
