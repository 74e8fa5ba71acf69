"""Receivables: every invoice of the workspace (Closeout's and native ones) as Closeout keeps it, and its ageing.

The tab reads the mirror only; `NEW_INVOICE`/`INVOICE_UPDATED` deliveries re-read the one invoice they name,
and reconciliation re-reads the whole list (paged), so opening the tab never re-reads every invoice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import sqlalchemy as sa

from ..clockify.payloads import Invoice, as_dict, parse_datetime, to_int
from ..extensions import db, utcnow
from .models import InvoiceJob, InvoiceRecord

STATUSES = ("UNSENT", "SENT", "PARTIALLY_PAID", "OVERDUE", "PAID", "VOID")
CLOSED = ("PAID", "VOID")
BUCKETS = (("current", "Current"), ("1_30", "1-30 days"), ("31_60", "31-60"), ("61_90", "61-90"), ("90_plus", "90+"))


def record(workspace_id: str, raw: Any) -> InvoiceRecord | None:
    """Store one Clockify invoice (a list row, an overview or a create answer); None without an id."""
    data = as_dict(raw)
    clockify_id = str(data.get("id") or "")
    if not clockify_id:
        return None
    row = db.session.scalar(sa.select(InvoiceRecord).filter_by(workspace_id=workspace_id, clockify_id=clockify_id))
    if row is None:
        row = InvoiceRecord(workspace_id=workspace_id, clockify_id=clockify_id)
        db.session.add(row)
    row.number = _text(data.get("number"), 64) or row.number
    row.client_id = _text(data.get("clientId"), 64) or row.client_id
    row.client_name = _text(data.get("clientName"), 200) or row.client_name
    row.status = _text(data.get("status"), 32) or row.status or "UNSENT"
    row.currency = _text(data.get("currency"), 8) or row.currency
    for name in ("amount", "paid", "balance"):
        value = to_int(data.get(name))
        if value is not None:
            setattr(row, name, value)
    row.issued_at = parse_datetime(data.get("issuedDate")) or row.issued_at
    row.due_at = parse_datetime(data.get("dueDate")) or row.due_at
    row.synced_at = utcnow()
    db.session.flush()
    return row


def local_day(when: datetime | None, zone: tzinfo) -> date | None:
    """The day an instant falls on in the workspace's time zone."""
    return when.astimezone(zone).date() if when is not None else None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str) and value else None


def sync_all(workspace_id: str, invoices: Iterable[Invoice]) -> int:
    """Replace the mirror with Clockify's whole list (reconciliation); returns how many invoices it holds."""
    seen: set[str] = set()
    for invoice in invoices:
        if record(workspace_id, invoice.raw) is not None:
            seen.add(invoice.id)
    stale = sa.delete(InvoiceRecord).where(InvoiceRecord.workspace_id == workspace_id)
    if seen:
        stale = stale.where(InvoiceRecord.clockify_id.not_in(seen))
    db.session.execute(stale)
    return len(seen)


def forget(workspace_id: str, clockify_id: str) -> None:
    db.session.execute(sa.delete(InvoiceRecord).filter_by(workspace_id=workspace_id, clockify_id=clockify_id))


def has_records(workspace_id: str) -> bool:
    return db.session.scalar(sa.select(InvoiceRecord.id).filter_by(workspace_id=workspace_id).limit(1)) is not None


def fill_once(workspace_id: str, client: Any) -> bool:
    """Fill the copy from Clockify's list (paged) when it is empty; after that deliveries and reconciliation
    keep it fresh. True when it read Clockify."""
    if has_records(workspace_id):
        return False
    sync_all(workspace_id, client.iter_invoices())
    return True


@dataclass
class Receivable:
    """One invoice row: Clockify's figures, with Closeout's lines total for the invoices Closeout made."""

    record: InvoiceRecord
    job: InvoiceJob | None
    today: date
    # The workspace's time zone: a due instant is a day on the workspace's calendar, not UTC's.
    zone: tzinfo = UTC

    @property
    def amount(self) -> int:
        # What the client was sent: Closeout's document for its own invoices (the API cannot add line
        # items, so Clockify's copy may read less until the admin adds them), Clockify's amount otherwise.
        return self.job.total if self.job is not None else self.record.amount

    @property
    def paid(self) -> int:
        return self.record.paid

    @property
    def balance(self) -> int:
        return max(0, self.amount - self.paid) if self.record.status not in CLOSED else 0

    @property
    def differs(self) -> bool:
        return self.job is not None and self.record.amount != self.job.total

    @property
    def due_on(self) -> date | None:
        return local_day(self.record.due_at, self.zone)

    @property
    def days_overdue(self) -> int:
        """Days past due as of `today` (computed on every read, never stored), 0 once paid or void."""
        due = self.due_on
        if due is None or self.record.status in CLOSED:
            return 0
        return max(0, (self.today - due).days)

    @property
    def bucket(self) -> str:
        days = self.days_overdue
        if days <= 0:
            return "current"
        if days <= 30:
            return "1_30"
        if days <= 60:
            return "31_60"
        if days <= 90:
            return "61_90"
        return "90_plus"


@dataclass
class Ageing:
    """Open balances per ageing bucket (minor units), and each bucket's share for the stacked bar."""

    name: str
    currency: str | None
    buckets: dict[str, int] = field(default_factory=lambda: {key: 0 for key, _ in BUCKETS})

    @property
    def total(self) -> int:
        return sum(self.buckets.values())

    def percent(self, key: str) -> float:
        return round(100 * self.buckets[key] / self.total, 1) if self.total else 0.0


@dataclass
class Receivables:
    rows: list[Receivable]
    total: Ageing
    per_client: list[Ageing]
    clients: list[tuple[str, str]]


def receivables(
    workspace_id: str,
    today: date,
    *,
    status: str | None = None,
    client_id: str | None = None,
    zone: tzinfo = UTC,
) -> Receivables:
    """The receivables table and ageing from the mirror (no Clockify call); filters by status and client."""
    query = sa.select(InvoiceRecord).filter_by(workspace_id=workspace_id)
    everything = list(db.session.scalars(query.order_by(InvoiceRecord.due_at.desc(), InvoiceRecord.id.desc())))
    jobs = {
        j.clockify_invoice_id: j
        for j in db.session.scalars(
            sa.select(InvoiceJob).where(
                InvoiceJob.workspace_id == workspace_id, InvoiceJob.clockify_invoice_id.is_not(None)
            )
        )
    }
    rows = [Receivable(r, jobs.get(r.clockify_id), today, zone) for r in everything]
    clients = sorted({(r.client_id or "", r.client_name or "Without client") for r in everything}, key=lambda c: c[1])
    shown = [
        row
        for row in rows
        if (not status or row.record.status == status) and (not client_id or row.record.client_id == client_id)
    ]
    currencies = {r.record.currency for r in rows if r.balance}
    total = Ageing("All clients", currencies.pop() if len(currencies) == 1 else None)
    per_client: dict[str, Ageing] = {}
    for row in rows:
        if row.balance <= 0:
            continue
        total.buckets[row.bucket] += row.balance
        key = row.record.client_id or ""
        ageing = per_client.setdefault(key, Ageing(row.record.client_name or "Without client", row.record.currency))
        ageing.buckets[row.bucket] += row.balance
    ordered = sorted(per_client.values(), key=lambda a: -a.total)
    return Receivables(shown, total, ordered, clients)


def receivable(workspace_id: str, clockify_id: str, today: date, zone: tzinfo = UTC) -> Receivable | None:
    row = db.session.scalar(sa.select(InvoiceRecord).filter_by(workspace_id=workspace_id, clockify_id=clockify_id))
    if row is None:
        return None
    job = db.session.scalar(
        sa.select(InvoiceJob).filter_by(workspace_id=workspace_id, clockify_invoice_id=clockify_id).limit(1)
    )
    return Receivable(row, job, today, zone)


@dataclass(frozen=True)
class Overdue:
    count: int
    amount: int  # open balance, minor units
    currency: str | None  # None when the late invoices are in several currencies


def open_overdue(workspace_id: str, today: date, zone: tzinfo = UTC) -> Overdue:
    """The invoices past due with a balance, and that balance (billing's figure for the dashboard): from
    Closeout's copy, with days overdue as of `today` on the workspace's calendar."""
    rows = receivables(workspace_id, today, zone=zone).rows
    late = [r for r in rows if r.days_overdue > 0 and r.balance > 0 and r.record.status != "UNSENT"]
    currencies = {r.record.currency for r in late if r.record.currency}
    return Overdue(len(late), sum(r.balance for r in late), currencies.pop() if len(currencies) == 1 else None)
