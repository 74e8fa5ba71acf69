"""Invoice numbers: gap-free and race-safe, from the workspace pattern and sequence.

Every reservation locks the workspace's `invoice_sequences` row (a row lock on PostgreSQL, the write lock on
SQLite), so two web processes never get one number. A number freed by a failed create goes back into the
pool and the next reservation takes the lowest free one first, so a failure burns nothing. A number an
invoice made natively in Clockify already carries is marked taken and skipped (the worker checks with the
invoice list's number filter before creating).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db, utcnow
from ..settings.schema import preview_invoice_number
from ..settings.store import keep_counter
from .models import InvoiceNumber, InvoiceSequence

SEQUENCE_KEY = "invoicing.next_sequence"


def _locked_sequence(workspace_id: str, floor: int) -> InvoiceSequence:
    """The workspace's counter, locked for the rest of the transaction (created at `floor` on first use)."""
    query = sa.select(InvoiceSequence).filter_by(workspace_id=workspace_id)
    if db.session.scalar(query) is None:
        try:
            with db.session.begin_nested():
                db.session.add(InvoiceSequence(workspace_id=workspace_id, next_value=floor))
        except IntegrityError:
            pass  # a concurrent first reservation made it
    # An UPDATE takes the lock on every backend (SQLite ignores FOR UPDATE; its write lock is the lock).
    db.session.execute(
        sa.update(InvoiceSequence)
        .where(InvoiceSequence.workspace_id == workspace_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    row = db.session.scalar(query.execution_options(populate_existing=True))
    assert row is not None
    return row


def peek_number(workspace_id: str, pattern: str, floor: int, today: date) -> str:
    """The number the next reservation would take (for the preview; nothing is reserved)."""
    free = db.session.scalar(
        sa.select(sa.func.min(InvoiceNumber.sequence)).filter_by(workspace_id=workspace_id, status="free")
    )
    if free is not None:
        return preview_invoice_number(pattern, int(free), today)
    counter = db.session.scalar(sa.select(InvoiceSequence.next_value).filter_by(workspace_id=workspace_id))
    return preview_invoice_number(pattern, max(int(counter or 1), floor), today)


def reserve_number(workspace_id: str, job_id: int | None, pattern: str, floor: int, today: date) -> InvoiceNumber:
    """Reserve the next number for a job: the lowest free one, else the counter's (never below `floor`,
    the admin's "next sequence number" setting). The caller commits."""
    counter = _locked_sequence(workspace_id, floor)
    free = db.session.scalar(
        sa.select(InvoiceNumber)
        .filter_by(workspace_id=workspace_id, status="free")
        .order_by(InvoiceNumber.sequence)
        .limit(1)
    )
    if free is not None:
        free.status = "reserved"
        free.job_id = job_id
        # Formatted again: a number freed last year takes this year's {YYYY}.
        free.number = preview_invoice_number(pattern, free.sequence, today)
        db.session.flush()
        return free
    sequence = max(counter.next_value, floor)
    counter.next_value = sequence + 1
    reserved = InvoiceNumber(
        workspace_id=workspace_id,
        sequence=sequence,
        number=preview_invoice_number(pattern, sequence, today),
        status="reserved",
        job_id=job_id,
    )
    db.session.add(reserved)
    keep_counter(workspace_id, SEQUENCE_KEY, sequence + 1)
    db.session.flush()
    return reserved


def _reservation(workspace_id: str, sequence: int | None) -> InvoiceNumber | None:
    if sequence is None:
        return None
    return db.session.scalar(sa.select(InvoiceNumber).filter_by(workspace_id=workspace_id, sequence=sequence))


def mark_used(workspace_id: str, sequence: int | None) -> None:
    found = _reservation(workspace_id, sequence)
    if found is not None:
        found.status = "used"


def mark_taken(workspace_id: str, sequence: int | None) -> None:
    """An invoice made in Clockify itself already has this number: never hand it out again."""
    found = _reservation(workspace_id, sequence)
    if found is not None:
        found.status = "taken"
        found.job_id = None


def release(workspace_id: str, sequence: int | None) -> None:
    """Give a number back after a create that did not happen: the next reservation takes it."""
    found = _reservation(workspace_id, sequence)
    if found is not None and found.status == "reserved":
        found.status = "free"
        found.job_id = None
