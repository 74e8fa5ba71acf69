"""Recurring invoices: on a client's day each month, its template invoice duplicated with the next number and new dates.

Plans live in settings (`invoicing.recurring_clients`, and `invoicing.recurring_templates`: per client the
template invoice and the day). A month is billed once: each run is a row keyed (workspace, client, month) in the
schema, recorded before the duplicate is sent, and committed after each step. Clockify ignores idempotency
keys (docs/clockify.md#quirk-8) and a copy carries nothing of Closeout's, so before a duplicate is re-sent the
client's invoices are read again: one that was not there before the first attempt is the copy, and is kept.
The number comes from billing's gap-free counter; a number made natively in Clockify meanwhile is skipped.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..clockify.errors import ClockifyError, NotFoundError, RateLimitedError, ServerError, TransportError
from ..exceptions import BillingError
from ..extensions import db, utcnow
from ..platform.models import AuditEntry
from ..settings.schema import RECURRING_DAY_MAX, RECURRING_DAY_MIN, SettingsError, recurring_plans
from ..settings.store import Actor, ConflictError, get_settings, save
from . import numbering, receivables
from .invoicing import RetryLater
from .models import InvoiceJob, InvoiceRecord, RecurringRun

log = logging.getLogger(__name__)

RECURRING_TASK = "run_recurring_invoices"
CLIENTS_KEY = "invoicing.recurring_clients"
PLANS_KEY = "invoicing.recurring_templates"
EARLIEST = date(2000, 1, 1)
# A duplicate sent less than this long ago may still be answering: nobody reads for its copy or re-sends yet.
ATTEMPT_LEASE_SECONDS = 120


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def run_date(day_of_month: int, year: int, month: int) -> date:
    """The plan's day in that month; 29-31 fall on the last day of a shorter month."""
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass(frozen=True)
class Plan:
    """One client's recurring invoice as the tab shows it."""

    client_id: str
    client_name: str
    active: bool  # the client is in invoicing.recurring_clients
    template_invoice_id: str | None
    template: InvoiceRecord | None
    day: int | None
    since: date
    last: RecurringRun | None
    next_on: date | None

    @property
    def ready(self) -> bool:
        return self.active and self.template_invoice_id is not None and self.day is not None


def _runs(workspace_id: str, client_ids: Iterable[str] | None = None) -> list[RecurringRun]:
    query = sa.select(RecurringRun).filter_by(workspace_id=workspace_id)
    ids = list(client_ids or ())
    if ids:
        query = query.where(RecurringRun.client_id.in_(ids))
    return list(db.session.scalars(query.order_by(RecurringRun.month.desc(), RecurringRun.id.desc())))


def next_run(day: int, since: date, today: date, billed_months: set[str]) -> date:
    """The next day this plan bills: this month's day if not billed yet (today if that day has passed since the
    plan began: the daily run catches up), else the first later month's."""
    year, month = today.year, today.month
    on = run_date(day, year, month)
    for _ in range(24):
        on = run_date(day, year, month)
        if month_key(on) not in billed_months and on >= since:
            break
        year, month = _next_month(year, month)
    return max(on, today)


def plans(workspace_id: str, today: date) -> list[Plan]:
    """Every client with a recurring plan or in the recurring list, with its template, last run and next run."""
    settings = get_settings(workspace_id)
    active = list(settings[CLIENTS_KEY])
    stored = settings[PLANS_KEY]
    client_ids = list(dict.fromkeys([*active, *stored]))
    if not client_ids:
        return []
    templates = {
        r.clockify_id: r
        for r in db.session.scalars(
            sa.select(InvoiceRecord).where(
                InvoiceRecord.workspace_id == workspace_id,
                InvoiceRecord.clockify_id.in_([p["invoice"] for p in stored.values()] or [""]),
            )
        )
    }
    runs: dict[str, list[RecurringRun]] = {}
    for run in _runs(workspace_id, client_ids):
        runs.setdefault(run.client_id, []).append(run)
    names = dict(
        db.session.execute(
            sa.select(InvoiceRecord.client_id, InvoiceRecord.client_name).where(
                InvoiceRecord.workspace_id == workspace_id, InvoiceRecord.client_id.in_(client_ids)
            )
        ).all()
    )
    out = []
    for client_id in client_ids:
        plan = stored.get(client_id)
        template = templates.get(plan["invoice"]) if plan else None
        mine = runs.get(client_id, [])
        since = date.fromisoformat(plan["since"]) if plan and plan.get("since") else EARLIEST
        billed = {r.month for r in mine}
        is_active = client_id in active
        out.append(
            Plan(
                client_id=client_id,
                client_name=(template.client_name if template else None)
                or (mine[0].client_name if mine else None)
                or names.get(client_id)
                or client_id,
                active=is_active,
                template_invoice_id=plan["invoice"] if plan else None,
                template=template,
                day=plan["day"] if plan else None,
                since=since,
                last=mine[0] if mine else None,
                next_on=next_run(plan["day"], since, today, billed) if plan and is_active else None,
            )
        )
    return sorted(out, key=lambda p: p.client_name.lower())


def template_choices(workspace_id: str) -> list[InvoiceRecord]:
    """Invoices that can be a template (from receivables: no Clockify call): every invoice with a client."""
    query = (
        sa.select(InvoiceRecord)
        .where(InvoiceRecord.workspace_id == workspace_id, InvoiceRecord.client_id.is_not(None))
        .order_by(InvoiceRecord.client_name, InvoiceRecord.issued_at.desc())
    )
    return list(db.session.scalars(query))


# --- the admin's plan (saved in settings, audited there) ------------------------------------------------------


def save_plan(workspace_id: str, actor: Actor, invoice_id: str, day_text: Any, today: date) -> str:
    """Bill the template invoice's client monthly on `day`: the client joins the recurring list and its plan
    is stored. A failed month that made no copy may run again. Returns the client's id; the caller commits."""
    try:
        day = int(str(day_text or "").strip())
    except ValueError:
        raise BillingError(f"Choose a day from {RECURRING_DAY_MIN} to {RECURRING_DAY_MAX}.") from None
    if not RECURRING_DAY_MIN <= day <= RECURRING_DAY_MAX:
        raise BillingError(f"Choose a day from {RECURRING_DAY_MIN} to {RECURRING_DAY_MAX}.")
    template = db.session.scalar(sa.select(InvoiceRecord).filter_by(workspace_id=workspace_id, clockify_id=invoice_id))
    if template is None or not template.client_id:
        raise BillingError("Choose a template invoice of one of your clients.")
    settings = get_settings(workspace_id)
    current_plans, current_clients = settings[PLANS_KEY], list(settings[CLIENTS_KEY])
    client_id = template.client_id
    earlier = current_plans.get(client_id)
    unchanged = earlier is not None and earlier["invoice"] == invoice_id and earlier["day"] == day
    since = earlier.get("since") if unchanged and earlier else today.isoformat()
    try:
        new_plans = recurring_plans({**current_plans, client_id: {"invoice": invoice_id, "day": day, "since": since}})
    except SettingsError as exc:
        raise BillingError(str(exc)) from None
    changes: dict[str, Any] = {PLANS_KEY: new_plans}
    if client_id not in current_clients:
        changes[CLIENTS_KEY] = [*current_clients, client_id]
    _save(workspace_id, actor, changes, {PLANS_KEY: current_plans, CLIENTS_KEY: current_clients})
    # The admin fixed what made this month fail before any copy existed: let the daily run try again.
    db.session.execute(
        sa.delete(RecurringRun).where(
            RecurringRun.workspace_id == workspace_id,
            RecurringRun.client_id == client_id,
            RecurringRun.status == "failed",
            RecurringRun.clockify_invoice_id.is_(None),
        )
    )
    return client_id


def stop_plan(workspace_id: str, actor: Actor, client_id: str) -> None:
    """No more recurring invoices for this client (its past runs stay on record); the caller commits."""
    settings = get_settings(workspace_id)
    current_plans, current_clients = settings[PLANS_KEY], list(settings[CLIENTS_KEY])
    if client_id not in current_plans and client_id not in current_clients:
        raise BillingError("That client has no recurring invoice.", 404)
    _save(
        workspace_id,
        actor,
        {
            PLANS_KEY: {k: v for k, v in current_plans.items() if k != client_id},
            CLIENTS_KEY: [c for c in current_clients if c != client_id],
        },
        {PLANS_KEY: current_plans, CLIENTS_KEY: current_clients},
    )


def _save(workspace_id: str, actor: Actor, changes: dict[str, Any], expected: dict[str, Any]) -> None:
    try:
        save(workspace_id, changes, actor, expected=expected)
    except ConflictError:
        raise BillingError("Another admin changed recurring invoices meanwhile; reload and try again.", 409) from None


# --- the monthly run ------------------------------------------------------------------------------------------


def due_plans(workspace_id: str, today: date) -> list[tuple[str, dict[str, Any], date]]:
    """(client, plan, day) for each plan whose day this month has come and whose month is not billed yet."""
    settings = get_settings(workspace_id)
    stored = settings[PLANS_KEY]
    billed = {
        (r.client_id, r.month)
        for r in db.session.scalars(
            sa.select(RecurringRun).filter_by(workspace_id=workspace_id, month=month_key(today))
        )
    }
    due = []
    for client_id in settings[CLIENTS_KEY]:
        plan = stored.get(client_id)
        if plan is None:
            continue
        on = run_date(plan["day"], today.year, today.month)
        since = date.fromisoformat(plan["since"]) if plan.get("since") else EARLIEST
        if since <= on <= today and (client_id, month_key(on)) not in billed:
            due.append((client_id, plan, on))
    return due


def run_recurring(workspace_id: str, client: Any, today: date) -> list[RecurringRun]:
    """Start this month's due runs and finish unfinished ones (any month), committing after each step.

    Clockify calls per new invoice: the client's invoice list (paged), the duplicate, a number lookup, and the
    update (its read and PUT). Raises RetryLater when Clockify failed in a way worth retrying.
    """
    for client_id, plan, on in due_plans(workspace_id, today):
        _start(workspace_id, client_id, plan, on, today)
    unfinished = list(
        db.session.scalars(
            sa.select(RecurringRun).filter_by(workspace_id=workspace_id, status="running").order_by(RecurringRun.id)
        )
    )
    retry: str | None = None
    for run in unfinished:
        try:
            _advance(run, client)
        except AttemptInFlight:
            db.session.rollback()
            retry = "A recurring invoice is being made by another run; trying again shortly."
        except (ServerError, TransportError, RateLimitedError) as exc:
            db.session.rollback()
            run.error, run.updated_at = f"Clockify failed ({type(exc).__name__}); the next run tries again.", utcnow()
            db.session.commit()
            retry = run.error
        except ClockifyError as exc:
            db.session.rollback()
            _fail(run, exc)
            db.session.commit()
    if retry:
        raise RetryLater(retry)
    return unfinished


def _start(workspace_id: str, client_id: str, plan: dict[str, Any], on: date, today: date) -> None:
    """Record the month's run with its number; a second run of the month finds the row and adds nothing."""
    settings = get_settings(workspace_id)
    template = db.session.scalar(
        sa.select(InvoiceRecord).filter_by(workspace_id=workspace_id, clockify_id=plan["invoice"])
    )
    run = RecurringRun(
        workspace_id=workspace_id,
        client_id=client_id,
        client_name=template.client_name if template else None,
        month=month_key(on),
        run_on=on,
        template_invoice_id=plan["invoice"],
        status="running",
        step="duplicate",
        issued_on=today,
        due_on=today + timedelta(days=int(settings["invoicing.due_days"])),
    )
    # The number first: its reservation locks the workspace's counter, so concurrent starts queue up here.
    _number(run)
    try:
        db.session.add(run)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # another run of this month got there first; the number goes back with this
        return
    db.session.commit()


def _number(run: RecurringRun) -> None:
    settings = get_settings(run.workspace_id)
    reserved = numbering.reserve_number(
        run.workspace_id,
        None,
        settings["invoicing.number_pattern"],
        settings["invoicing.next_sequence"],
        run.issued_on,
    )
    run.sequence, run.number = reserved.sequence, reserved.number


def _advance(run: RecurringRun, client: Any) -> None:
    if run.step == "duplicate":
        _duplicate(run, client)
        db.session.commit()
    if run.step == "update":
        _update(run, client)
        db.session.commit()
    if run.step == "done":
        _finish(run)
        db.session.commit()


def _client_invoice_ids(client: Any, client_id: str) -> set[str]:
    return {i.id for i in client.iter_invoices_info(clients={"ids": [client_id], "contains": "CONTAINS"})}


def _copy_made_earlier(run: RecurringRun, client: Any) -> str | None:
    """After an attempt that may have landed: the client's invoice that was not there before it, unless it is
    one Closeout made otherwise (an invoice job, another run)."""
    known = set(run.known_invoice_ids or [])
    ours = set(
        db.session.scalars(
            sa.select(InvoiceJob.clockify_invoice_id).where(
                InvoiceJob.workspace_id == run.workspace_id, InvoiceJob.clockify_invoice_id.is_not(None)
            )
        )
    ) | set(
        db.session.scalars(
            sa.select(RecurringRun.clockify_invoice_id).where(
                RecurringRun.workspace_id == run.workspace_id, RecurringRun.clockify_invoice_id.is_not(None)
            )
        )
    )
    fresh = [
        i
        for i in client.iter_invoices_info(clients={"ids": [run.client_id], "contains": "CONTAINS"})
        if i.id not in known and i.id not in ours and i.client_id == run.client_id
    ]
    # A copy starts UNSENT; its number is the one Clockify gave it, or Closeout's once the update landed.
    fresh = [i for i in fresh if i.status == "UNSENT" or i.number == run.number]
    return fresh[0].id if fresh else None


class AttemptInFlight(Exception):
    """Another runner sent this month's duplicate moments ago: leave the run to it (or to a later run)."""


def _duplicate(run: RecurringRun, client: Any) -> None:
    if run.clockify_invoice_id is None:
        if run.attempts > 0:
            if run.updated_at > utcnow() - timedelta(seconds=ATTEMPT_LEASE_SECONDS):
                # Its answer may still be on the way: a read now could miss the copy and send another.
                raise AttemptInFlight(run.id)
            # Read before re-sending: the earlier duplicate may have landed before its answer was recorded.
            run.clockify_invoice_id = _copy_made_earlier(run, client)
        if run.clockify_invoice_id is None:
            known = run.known_invoice_ids
            if known is None:
                known = sorted(_client_invoice_ids(client, run.client_id))
            _claim_attempt(run, known)  # on record before it is sent, and sent by one runner only
            copy = client.duplicate_invoice(run.template_invoice_id)
            run.clockify_invoice_id = copy.id
    run.step = "update"
    run.updated_at = utcnow()


def _claim_attempt(run: RecurringRun, known: list[str]) -> None:
    """Count the attempt, with what the client had before it, unless another runner counted it first (the
    attempt count is the lock: a concurrent runner's update matches no row)."""
    seen = run.attempts
    claimed = db.session.execute(
        sa.update(RecurringRun)
        .where(RecurringRun.id == run.id, RecurringRun.attempts == seen)
        .values(attempts=seen + 1, known_invoice_ids=known, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if getattr(claimed, "rowcount", 0) != 1:
        raise AttemptInFlight(run.id)
    db.session.refresh(run)


def _update(run: RecurringRun, client: Any) -> None:
    """The copy takes the run's number (skipping one made natively in Clockify) and new dates."""
    assert run.clockify_invoice_id is not None and run.number is not None
    while True:
        found = client.find_invoice_by_number(run.number)
        if found is None or found.id == run.clockify_invoice_id:
            break
        numbering.mark_taken(run.workspace_id, run.sequence)
        _number(run)
    invoice = client.update_invoice(
        run.clockify_invoice_id,
        {"number": run.number, "issuedDate": _iso(run.issued_on), "dueDate": _iso(run.due_on)},
    )
    numbering.mark_used(run.workspace_id, run.sequence)
    receivables.record(run.workspace_id, invoice.raw)
    run.step = "done"
    run.updated_at = utcnow()


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def _finish(run: RecurringRun) -> None:
    run.status, run.error, run.finished_at, run.updated_at = "done", None, utcnow(), utcnow()
    _audit(run, "invoice.recurring", {"number": run.number, "invoice": run.clockify_invoice_id, "month": run.month})
    log.info("workspace %s: recurring invoice %s for %s", run.workspace_id, run.number, run.month)


def _fail(run: RecurringRun, exc: ClockifyError) -> None:
    """A refusal. Without a copy the number goes back to the pool; the admin fixes the plan and saves it."""
    if isinstance(exc, NotFoundError) and run.clockify_invoice_id is None:
        message = "The template invoice no longer exists in Clockify: choose another template."
    else:
        message = f"Clockify refused: {getattr(exc, 'message', '') or 'the request'}"
    run.status, run.error, run.updated_at = "failed", message[:500], utcnow()
    if run.clockify_invoice_id is None:
        numbering.release(run.workspace_id, run.sequence)
        run.sequence = run.number = None
    _audit(run, "invoice.recurring_failed", {"step": run.step, "error": run.error, "month": run.month})


def _audit(run: RecurringRun, action: str, detail: dict[str, Any]) -> None:
    db.session.add(
        AuditEntry(
            workspace_id=run.workspace_id,
            actor_user_id=None,
            actor_name="Recurring invoices",
            action=action,
            subject_type="recurring_run",
            subject_id=str(run.id),
            detail=detail,
        )
    )
