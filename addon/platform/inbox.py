"""The webhook inbox: deliveries stored once under a dedupe key, then claimed, processed, retried or dead-lettered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..clockify.errors import RateLimitedError, ServerError, TransportError
from ..extensions import db, utcnow
from . import events
from .models import InboxEvent, Installation

log = logging.getLogger(__name__)

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"  # waiting for a retry with backoff
DEAD = "dead"  # dead letter: kept failing, or failed in a way retrying cannot fix; an admin may retry it
SKIPPED = "skipped"  # the installation was paused or removed before the event was processed
STATUSES = (PENDING, PROCESSING, DONE, FAILED, DEAD, SKIPPED)

# Failures that may pass by themselves: Clockify unreachable, rate-limited or failing, the database
# briefly unavailable or a concurrent worker inserting the same row first (two events of one object
# processed at once), or a handler saying "not yet".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransportError,
    RateLimitedError,
    ServerError,
    events.RetryableError,
    sa.exc.OperationalError,
    sa.exc.IntegrityError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failing event is retried, and when a claim is presumed abandoned."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    # A claim older than this belongs to a worker that died mid-event; longer than any handler runs.
    lease_seconds: float = 300.0
    # A pending event this old has probably lost its queue message (the queue was down at intake).
    stale_seconds: float = 60.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        defaults = cls()
        return cls(
            max_attempts=int(config.get("INBOX_MAX_ATTEMPTS", defaults.max_attempts)),
            base_seconds=float(config.get("INBOX_RETRY_BASE_SECONDS", defaults.base_seconds)),
            max_seconds=float(config.get("INBOX_RETRY_MAX_SECONDS", defaults.max_seconds)),
            lease_seconds=float(config.get("INBOX_LEASE_SECONDS", defaults.lease_seconds)),
            stale_seconds=float(config.get("INBOX_STALE_SECONDS", defaults.stale_seconds)),
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: exponential from base_seconds, capped at max_seconds."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0)))


def claim(inbox_id: int, now: datetime | None = None) -> InboxEvent | None:
    """Take an event for processing, or None when another worker has it, it is done, or its retry is not due.

    A single conditional UPDATE: of two workers (or a duplicate enqueue) racing for one event,
    exactly one sees a row change. `attempts` grows with every claim and fences the later outcome.
    """
    now = now or utcnow()
    # A second of slack: the queue's own clock decides when a delayed retry runs.
    due = now + timedelta(seconds=1)
    result = db.session.execute(
        sa.update(InboxEvent)
        .where(
            InboxEvent.id == inbox_id,
            sa.or_(
                InboxEvent.status == PENDING,
                sa.and_(
                    InboxEvent.status == FAILED,
                    sa.or_(InboxEvent.next_attempt_at.is_(None), InboxEvent.next_attempt_at <= due),
                ),
            ),
        )
        .values(status=PROCESSING, attempts=InboxEvent.attempts + 1, claimed_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return db.session.get(InboxEvent, inbox_id, populate_existing=True)


def dispatch(
    event: InboxEvent,
    installation: Installation,
    client_factory: Callable[[], Any],
    handlers: Iterable[events.Handler],
    config: Mapping[str, Any] | None = None,
) -> events.EventContext:
    """Run the event type's handlers (from handlers.py); they raise to fail it. Returns the context they
    filled, whose follow-ups the worker queues once the outcome is committed."""
    ctx = events.EventContext(
        installation=installation,
        event_type=event.event_type,
        payload=dict(event.payload or {}),
        received_at=event.received_at,
        client_factory=client_factory,
        inbox_id=event.id,
        config=config or {},
    )
    for handler in handlers:
        handler(ctx)
    return ctx


def _finish(inbox_id: int, attempts: int, **values: Any) -> bool:
    # Fenced on attempts: if the claim was presumed abandoned and re-taken, this outcome is stale and
    # the caller must roll back whatever its handlers wrote.
    result = db.session.execute(
        sa.update(InboxEvent)
        .where(InboxEvent.id == inbox_id, InboxEvent.status == PROCESSING, InboxEvent.attempts == attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def complete(inbox_id: int, attempts: int, now: datetime | None = None) -> bool:
    """Mark a claimed event done (in the same transaction as its handlers' writes); False if the claim was lost."""
    now = now or utcnow()
    return _finish(inbox_id, attempts, status=DONE, processed_at=now, last_error=None, claimed_at=None)


def skip(inbox_id: int, attempts: int, reason: str, now: datetime | None = None) -> bool:
    """Mark a claimed event skipped: its installation is paused or gone."""
    now = now or utcnow()
    return _finish(inbox_id, attempts, status=SKIPPED, processed_at=now, last_error=reason, claimed_at=None)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT_ERRORS)


def describe(error: BaseException) -> str:
    """What an admin sees for a failure: the error class and message (Clockify errors carry no tokens)."""
    text = str(error).strip() or "no message"
    return f"{type(error).__name__}: {text}"[:1000]


def fail(
    inbox_id: int, attempts: int, error: BaseException, policy: RetryPolicy, now: datetime | None = None
) -> float | None:
    """Record a failed attempt; return the seconds until the retry, or None when the event is now dead.

    Transient errors are retried with exponential backoff (at least Clockify's Retry-After) until
    max_attempts; any other error cannot pass by retrying and goes straight to the dead letters.
    """
    now = now or utcnow()
    if is_transient(error) and attempts < policy.max_attempts:
        delay = policy.backoff(attempts)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        changed = _finish(
            inbox_id,
            attempts,
            status=FAILED,
            last_error=describe(error),
            claimed_at=None,
            next_attempt_at=now + timedelta(seconds=delay),
        )
        return delay if changed else None
    _finish(inbox_id, attempts, status=DEAD, last_error=describe(error), claimed_at=None, processed_at=now)
    return None


def retry_dead(workspace_id: str, inbox_id: int) -> bool:
    """Send a dead letter back to the queue with a fresh set of attempts; False if it is not a dead letter here."""
    result = db.session.execute(
        sa.update(InboxEvent)
        .where(InboxEvent.id == inbox_id, InboxEvent.workspace_id == workspace_id, InboxEvent.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=None, claimed_at=None, processed_at=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def recover(policy: RetryPolicy, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Find events whose queue message was lost and return their ids to enqueue again.

    - pending for longer than stale_seconds (the queue was down at intake, or the message was dropped);
    - failed and overdue for their retry by stale_seconds (the delayed retry was lost);
    - processing with a claim older than lease_seconds (the worker died mid-event): counted as a
      failed attempt, dead once attempts are used up.
    Enqueueing an id twice is harmless: only one claim succeeds.
    """
    now = now or utcnow()
    stale = now - timedelta(seconds=policy.stale_seconds)
    abandoned = sa.and_(
        InboxEvent.status == PROCESSING, InboxEvent.claimed_at < now - timedelta(seconds=policy.lease_seconds)
    )
    lost = "worker stopped while processing"
    db.session.execute(
        sa.update(InboxEvent)
        .where(abandoned, InboxEvent.attempts >= policy.max_attempts)
        .values(status=DEAD, last_error=lost, claimed_at=None, processed_at=now)
        .execution_options(synchronize_session=False)
    )
    reclaimed = db.session.scalars(
        sa.update(InboxEvent)
        .where(abandoned)
        .values(status=FAILED, last_error=lost, claimed_at=None, next_attempt_at=now)
        .returning(InboxEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    overdue = db.session.scalars(
        sa.select(InboxEvent.id)
        .where(
            sa.or_(
                sa.and_(InboxEvent.status == PENDING, InboxEvent.received_at < stale),
                sa.and_(InboxEvent.status == FAILED, InboxEvent.next_attempt_at < stale),
            )
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    ).all()
    return sorted({*reclaimed, *overdue})


def dead_letters(workspace_id: str, limit: int = 50) -> list[InboxEvent]:
    return list(
        db.session.scalars(
            sa.select(InboxEvent)
            .filter_by(workspace_id=workspace_id, status=DEAD)
            .order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc())
            .limit(limit)
        )
    )


def recent(workspace_id: str, limit: int = 25) -> list[InboxEvent]:
    return list(
        db.session.scalars(
            sa.select(InboxEvent)
            .filter_by(workspace_id=workspace_id)
            .order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc())
            .limit(limit)
        )
    )


def counts(workspace_id: str) -> dict[str, int]:
    """Events of the workspace per status (every status present, zero when none)."""
    rows = db.session.execute(
        sa.select(InboxEvent.status, sa.func.count())
        .where(InboxEvent.workspace_id == workspace_id)
        .group_by(InboxEvent.status)
    ).all()
    found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def counts_by_workspace() -> dict[str, dict[str, int]]:
    """Events per workspace and status, for every workspace with any (operators and /metrics)."""
    rows = db.session.execute(
        sa.select(InboxEvent.workspace_id, InboxEvent.status, sa.func.count()).group_by(
            InboxEvent.workspace_id, InboxEvent.status
        )
    ).all()
    found: dict[str, dict[str, int]] = {}
    for workspace_id, status, n in rows:
        found.setdefault(str(workspace_id), dict.fromkeys(STATUSES, 0))[str(status)] = int(n)
    return found


def totals() -> dict[str, int]:
    """Events per status over every workspace (every status present)."""
    rows = db.session.execute(sa.select(InboxEvent.status, sa.func.count()).group_by(InboxEvent.status)).all()
    found = {str(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def prune(retention_days: float, now: datetime | None = None, limit: int = 5000) -> int:
    """Delete processed events (done, skipped) older than the retention; dead letters stay for admins."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    ids = db.session.scalars(
        sa.select(InboxEvent.id)
        .where(InboxEvent.status.in_((DONE, SKIPPED)), InboxEvent.processed_at < cutoff)
        .limit(limit)
    ).all()
    if not ids:
        return 0
    db.session.execute(sa.delete(InboxEvent).where(InboxEvent.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)
