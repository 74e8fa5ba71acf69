"""Where webhook events and reconciliation meet the capabilities: a registry of handlers, and order tolerance."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import EntityVersion, Installation, utcnow

# Capability modules that register handlers with @on / @reconciler / @sweeper; imported before dispatching so
# their registrations exist in the web process and in the worker alike. Add a module here when it
# starts handling events.
CAPABILITIES: tuple[str, ...] = ("addon.services.approvals", "addon.services.dashboard")


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

    @property
    def workspace_id(self) -> str:
        return self.installation.workspace_id


Handler = Callable[[EventContext], None]
Reconciler = Callable[[Installation, Any], None]
Sweeper = Callable[[], Any]

_handlers: dict[str, list[Handler]] = {}
_reconcilers: list[Reconciler] = []
_sweepers: list[Sweeper] = []


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


def sweeper(fn: Sweeper) -> Sweeper:
    """Register `fn()`, run by the worker every minute in an app context and committed after: a cheap
    database check for background work whose queue message was lost (a worker restarted mid-task)."""
    if fn not in _sweepers:
        _sweepers.append(fn)
    return fn


def off(fn: Callable[..., Any]) -> None:
    """Unregister a handler, reconciler or sweeper (tests register their own and remove them afterwards)."""
    for bucket in _handlers.values():
        if fn in bucket:
            bucket.remove(fn)
    for registered in (_reconcilers, _sweepers):
        if fn in registered:
            registered.remove(fn)


def load_capabilities() -> None:
    # CLOSEOUT_EXTRA_CAPABILITIES (comma-separated modules) lets a benchmark plug in a counting handler
    # without shipping it in the product.
    extra = [m.strip() for m in os.environ.get("CLOSEOUT_EXTRA_CAPABILITIES", "").split(",") if m.strip()]
    for module in (*CAPABILITIES, *extra):
        importlib.import_module(module)


def handlers_for(event_type: str) -> list[Handler]:
    load_capabilities()
    return list(_handlers.get(event_type, []))


def reconcilers() -> list[Reconciler]:
    load_capabilities()
    return list(_reconcilers)


def sweepers() -> list[Sweeper]:
    load_capabilities()
    return list(_sweepers)


class RetryableError(Exception):
    """Raised by a handler when the event cannot be handled yet but may be later (it is retried with backoff)."""


# --- Order tolerance: Clockify delivers at least once and in any order; never let an older change win. ---

CHANGE_TIME_FIELDS = ("status.updatedAt", "status.changedAt", "updatedAt", "changedAt", "dateUpdated")


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp from a Clockify payload as aware UTC, or None when absent or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def change_time(payload: dict[str, Any], fields: tuple[str, ...] = CHANGE_TIME_FIELDS) -> datetime | None:
    """Clockify's own time of the change a payload describes: the first dotted field present and readable."""
    for dotted in fields:
        value: Any = payload
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        parsed = parse_time(value)
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
