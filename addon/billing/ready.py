"""Ready to bill: approved, billable, uninvoiced time per client, with the time still waiting for approval beside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..clockify.payloads import TimeEntry, to_int
from ..exceptions import BillingError
from ..extensions import db
from ..workspace import totals
from .models import InvoiceJob, InvoiceJobStep, InvoiceLine

# "Every such entry up to today" needs a start: the reports API wants a range, and nothing older is billed.
EARLIEST = date(2000, 1, 1)
WITHOUT_CLIENT = "Without client"


@dataclass(frozen=True)
class Entry:
    """One approved, billable, uninvoiced time entry as the detailed report gives it (money in minor units)."""

    id: str
    client_id: str
    client_name: str
    project_id: str
    project_name: str
    user_id: str
    user_name: str
    description: str
    started_at: datetime | None
    seconds: int
    rate: int
    amount: int


@dataclass
class Slice:
    """Hours and amount of one project or one person inside a client's row."""

    key: str
    name: str
    seconds: int = 0
    amount: int = 0
    entries: int = 0


@dataclass
class ClientRow:
    client_id: str
    name: str
    currency: str
    seconds: int = 0
    amount: int = 0
    entries: int = 0
    waiting_seconds: int = 0
    # Approved, billable, uninvoiced expenses (minor units), and those still waiting for approval: shown,
    # never put on Closeout's invoice (the API cannot mark an expense invoiced, so it would be billed twice).
    expenses_amount: int = 0
    expenses: int = 0
    waiting_expenses_amount: int = 0
    by_project: dict[str, Slice] = field(default_factory=dict)
    by_person: dict[str, Slice] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.seconds += entry.seconds
        self.amount += entry.amount
        self.entries += 1
        for slices, key, name in (
            (self.by_project, entry.project_id, entry.project_name),
            (self.by_person, entry.user_id, entry.user_name),
        ):
            part = slices.setdefault(key, Slice(key, name))
            part.seconds += entry.seconds
            part.amount += entry.amount
            part.entries += 1

    @property
    def projects(self) -> list[Slice]:
        return sorted(self.by_project.values(), key=lambda s: (-s.amount, s.name))

    @property
    def people(self) -> list[Slice]:
        return sorted(self.by_person.values(), key=lambda s: (-s.amount, s.name))


@dataclass
class ReadyToBill:
    start: date
    end: date
    rows: list[ClientRow]
    # Approved billable time on no client: it cannot be invoiced until its project has one.
    without_client_seconds: int = 0

    @property
    def amount(self) -> int:
        return sum(r.amount for r in self.rows)


def parse_range(start: Any, end: Any, today: date) -> tuple[date, date]:
    """The date range of a request (inclusive); by default every entry up to today. 422 on nonsense."""
    try:
        first = date.fromisoformat(str(start)) if start else EARLIEST
        last = date.fromisoformat(str(end)) if end else today
    except ValueError:
        raise BillingError("Enter dates as YYYY-MM-DD.") from None
    if last < first:
        raise BillingError("The range ends before it starts.")
    if first < EARLIEST:
        first = EARLIEST
    return first, last


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end] as the UTC instants [start 00:00, the day after end 00:00)."""
    return (
        datetime(start.year, start.month, start.day, tzinfo=UTC),
        datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1),
    )


def entry_of(item: TimeEntry) -> Entry:
    """A report row as billing reads it; the amount is Clockify's, else seconds * rate (integer, half up)."""
    raw = item.raw
    seconds = item.duration_seconds or 0
    rate = to_int(raw.get("rate")) or 0
    amount = item.amount if item.amount is not None else (seconds * rate + 1800) // 3600
    return Entry(
        id=item.id,
        client_id=str(raw.get("clientId") or ""),
        client_name=str(raw.get("clientName") or WITHOUT_CLIENT),
        project_id=item.project_id or "",
        project_name=str(raw.get("projectName") or "Without project"),
        user_id=item.user_id or "",
        user_name=str(raw.get("userName") or item.user_id or ""),
        description=str(item.description or "")[:500],
        started_at=item.start,
        seconds=max(0, seconds),
        rate=max(0, rate),
        amount=max(0, amount),
    )


def approved_entries(client: Any, start: date, end: date, client_ids: Iterable[str] | None = None) -> list[Entry]:
    """Every approved, billable, uninvoiced entry in the range (optionally of some clients), oldest first."""
    entries = [entry_of(e) for e in totals.billable_entries(client, bounds(start, end), client_ids=client_ids)]
    return sorted(entries, key=lambda e: (e.started_at or datetime.min.replace(tzinfo=UTC), e.id))


def ready_to_bill(client: Any, start: date, end: date, default_currency: str) -> ReadyToBill:
    """One row per client with approved, billable, uninvoiced time, and that client's time waiting for approval.

    Clockify calls: the detailed report's pages, one summary report, the expense report's pages (approved, and
    waiting) and the client list, whatever the size.
    """
    currencies = {c.id: c.currency_code for c in client.iter_clients()}
    rows: dict[str, ClientRow] = {}
    without_client = 0
    for entry in approved_entries(client, start, end):
        if not entry.client_id:
            without_client += entry.seconds
            continue
        row = rows.get(entry.client_id)
        if row is None:
            currency = currencies.get(entry.client_id) or default_currency
            row = rows[entry.client_id] = ClientRow(entry.client_id, entry.client_name, currency)
        row.add(entry)
    for waiting in totals.unbilled_by_client(client, bounds(start, end), filters=totals.AWAITING_APPROVAL):
        if not waiting.client_id or waiting.seconds <= 0:
            continue
        row = rows.get(waiting.client_id)
        if row is None:
            currency = currencies.get(waiting.client_id) or default_currency
            row = rows[waiting.client_id] = ClientRow(waiting.client_id, waiting.name, currency)
        row.waiting_seconds += waiting.seconds
    for approved, filters in ((True, totals.BILLABLE_APPROVED), (False, totals.AWAITING_APPROVAL)):
        for expense in totals.billable_expenses(client, bounds(start, end), filters):
            if not expense.client_id or expense.amount <= 0:
                continue
            row = rows.get(expense.client_id)
            if row is None:
                currency = currencies.get(expense.client_id) or default_currency
                name = expense.client_name or WITHOUT_CLIENT
                row = rows[expense.client_id] = ClientRow(expense.client_id, name, currency)
            if approved:
                row.expenses_amount += expense.amount
                row.expenses += 1
            else:
                row.waiting_expenses_amount += expense.amount
    ordered = sorted(rows.values(), key=lambda r: (-r.amount, r.name))
    return ReadyToBill(start, end, ordered, without_client)


def client_row(client: Any, client_id: str, start: date, end: date, default_currency: str) -> ClientRow:
    """One client's ready-to-bill row alone (the drill-down), read from Clockify again."""
    row = ClientRow(client_id, WITHOUT_CLIENT, default_currency)
    for entry in approved_entries(client, start, end, [client_id]):
        if entry.client_id == client_id:
            row.name = entry.client_name
            row.add(entry)
    return row


def currency_of(client: Any, client_id: str, default_currency: str) -> tuple[str, str | None]:
    """The client's currency and name from the client list (one call), the workspace's invoicing currency else."""
    for found in client.iter_clients():
        if found.id == client_id:
            return (found.currency_code or default_currency).upper(), found.name
    return default_currency, None


def held_by_client(workspace_id: str, bounds_utc: tuple[datetime, datetime]) -> dict[str, tuple[int, int]]:
    """(amount, seconds) per client of the time on invoices Closeout is still making in [start, end): Clockify
    shows it uninvoiced until the job's mark step reaches it, but it is billed."""
    start, end = bounds_utc
    held: dict[str, tuple[int, int]] = {}
    jobs = db.session.scalars(
        sa.select(InvoiceJob).where(InvoiceJob.workspace_id == workspace_id, InvoiceJob.active_client_id.is_not(None))
    )
    for job in jobs:
        marked = db.session.scalar(sa.select(InvoiceJobStep.progress).filter_by(job_id=job.id, name="mark")) or 0
        lines = db.session.scalars(
            sa.select(InvoiceLine).filter_by(job_id=job.id).order_by(InvoiceLine.started_at, InvoiceLine.id)
        ).all()
        for line in lines[marked:]:
            if line.started_at is not None and start <= line.started_at < end:
                amount, seconds = held.get(job.client_id, (0, 0))
                held[job.client_id] = (amount + line.amount, seconds + line.seconds)
    return held


def unbilled_by_client(workspace_id: str, client: Any, bounds_utc: tuple[datetime, datetime]) -> list[totals.Unbilled]:
    """Billing's figure of approved, billable, uninvoiced time per client in [start, end) (the dashboard's):
    the summary report with billing's filters (one call), less the time already on an invoice being made."""
    held = held_by_client(workspace_id, bounds_utc)
    rows = []
    for row in totals.unbilled_by_client(client, bounds_utc):
        amount, seconds = held.get(row.client_id, (0, 0))
        left = totals.Unbilled(row.client_id, row.name, max(0, row.amount - amount), max(0, row.seconds - seconds))
        if left.amount > 0 or left.seconds > 0:
            rows.append(left)
    return sorted(rows, key=lambda r: -r.amount)
