"""Invoices of approved time: the preview, the confirmed job (create → update → mark), its lines and document.

A confirmed invoice is a recorded job the worker runs step by step, committing after each, so a crash or a
Clockify failure anywhere is finished by the next run: the create is looked up by number before it is
(re-)sent (Clockify ignores idempotency keys: docs/clockify.md#quirk-8), entries are marked
invoiced only once the invoice exists, and only the entries the job recorded. One unfinished job per client
lives in the schema, and a preview's entries are confirmed at most once, so double clicks, two tabs and two
admins make one invoice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..clockify.errors import (
    ClockifyError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    refusal_text,
)
from ..crypto import DecryptionError, decrypt, encrypt, same_secret
from ..exceptions import BillingError
from ..extensions import db, utcnow
from ..platform.clients import Clients
from ..platform.installations import PAUSED, REMOVED, JobStopped, StepGuard, paused_workspace_jobs
from ..platform.models import AuditEntry, Installation
from ..settings.store import get_settings
from ..tokens import Verifier
from . import numbering, receivables
from .models import InvoiceJob, InvoiceJobStep, InvoiceLine, InvoiceNumber
from .ready import Entry, approved_entries, currency_of

log = logging.getLogger(__name__)

INVOICE_TASK = "run_invoice_job"
STEPS = ("create", "update", "mark")
# Entries marked invoiced per call: a 2,000-entry invoice is four paced calls, each safe to repeat.
MARK_CHUNK = 500
# Seconds a stored token must still be valid for the job to act with it.
TOKEN_MARGIN_SECONDS = 15
# An unfinished job with no progress for this long lost its worker: the sweep queues it again.
STALL_SECONDS = 120
NOTE_LIMIT = 1000
UNFINISHED = ("queued", "running", "retrying", "waiting_token", PAUSED)


class RetryLater(Exception):
    """Clockify failed in a way worth retrying (5xx, timeout, 429): the task is retried by the worker."""


class InvoiceConflict(BillingError):
    """The same time is already (being) invoiced: the view shows a link to that invoice."""

    def __init__(self, message: str, job: InvoiceJob) -> None:
        super().__init__(message, 409)
        self.job_id = job.id


# --- money -------------------------------------------------------------------------------------------


def basis_points(percent: Any) -> int:
    """A settings percent (10, 10.5) in hundredths of a percent, exactly."""
    return int((Decimal(str(percent or 0)) * 100).to_integral_value())


def _share(amount: int, bp: int) -> int:
    """amount * bp / 10000 in minor units, rounded half up, in integers only."""
    return (amount * bp + 5000) // 10000


@dataclass(frozen=True)
class Totals:
    seconds: int
    subtotal: int
    discount_amount: int
    tax_amount: int
    tax2_amount: int
    total: int


def compute_totals(entries: Iterable[Entry | InvoiceLine], discount_bp: int, tax_bp: int, tax2_bp: int) -> Totals:
    """Subtotal of the lines, the discount off it, both taxes on what is left (Clockify's simple taxes)."""
    listed = list(entries)
    subtotal = sum(e.amount for e in listed)
    discount = _share(subtotal, discount_bp)
    taxable = subtotal - discount
    tax, tax2 = _share(taxable, tax_bp), _share(taxable, tax2_bp)
    return Totals(sum(e.seconds for e in listed), subtotal, discount, tax, tax2, taxable + tax + tax2)


@dataclass
class Line:
    """One line of the invoice document: a project, a person or an entry, with the entries it bills."""

    key: str
    description: str
    seconds: int = 0
    amount: int = 0
    rates: set[int] = field(default_factory=set)
    entry_ids: list[str] = field(default_factory=list)

    @property
    def rate(self) -> int | None:
        """The hourly rate when every entry of the line has the same one."""
        return next(iter(self.rates)) if len(self.rates) == 1 else None


def group_lines(entries: Iterable[Entry | InvoiceLine], grouping: str) -> list[Line]:
    lines: dict[str, Line] = {}
    for e in entries:
        if grouping == "person":
            key, text = e.user_id or "", e.user_name or "Unknown person"
        elif grouping == "entry":
            when = e.started_at.date().isoformat() if e.started_at else ""
            key = _entry_id(e)
            text = " · ".join(x for x in (when, e.project_name, e.user_name, e.description) if x)
        else:
            key, text = e.project_id or "", e.project_name or "Without project"
        line = lines.setdefault(key, Line(key, text))
        line.seconds += e.seconds
        line.amount += e.amount
        line.rates.add(e.rate)
        line.entry_ids.append(_entry_id(e))
    return list(lines.values()) if grouping == "entry" else sorted(lines.values(), key=lambda x: x.description)


def _entry_id(entry: Entry | InvoiceLine) -> str:
    return str(entry.id if isinstance(entry, Entry) else entry.time_entry_id)


def entries_digest(entry_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(entry_ids)).encode()).hexdigest()


# --- the preview ---------------------------------------------------------------------------------------


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: dict[str, str]) -> str:
    """A settings template with its {placeholders} filled (unknown ones left empty, never an error)."""
    try:
        return template.format_map(_Blank(values))
    except (ValueError, IndexError, AttributeError):
        return template


@dataclass
class Draft:
    """Everything the preview shows and the confirmation records."""

    client_id: str
    client_name: str
    start: date
    end: date
    currency: str
    number: str
    issued_on: date
    due_on: date
    tax_bp: int
    tax2_bp: int
    discount_bp: int
    subject: str
    note: str
    grouping: str
    entries: list[Entry]
    lines: list[Line]
    totals: Totals
    digest: str


def draft_invoice(workspace_id: str, client: Any, client_id: str, start: date, end: date, today: date) -> Draft:
    """The invoice Confirm would create for a client now: number, dates, terms, lines and totals.

    Clockify calls: the client's detailed report pages and the client list.
    """
    settings = get_settings(workspace_id)
    currency, listed_name = currency_of(client, client_id, settings["invoicing.currency"])
    entries = [e for e in approved_entries(client, start, end, [client_id]) if e.client_id == client_id]
    name = entries[0].client_name if entries else (listed_name or client_id)
    number = numbering.peek_number(
        workspace_id, settings["invoicing.number_pattern"], settings["invoicing.next_sequence"], today
    )
    due_on = today + timedelta(days=int(settings["invoicing.due_days"]))
    tax_bp = basis_points(settings["invoicing.tax_percent"])
    tax2_bp = basis_points(settings["invoicing.tax2_percent"])
    discount_bp = basis_points(settings["invoicing.discount_percent"])
    grouping = settings["invoicing.line_grouping"]
    totals = compute_totals(entries, discount_bp, tax_bp, tax2_bp)
    values = {
        "number": number,
        "client": name,
        "period_start": (entries[0].started_at.date() if entries and entries[0].started_at else start).isoformat(),
        "period_end": (entries[-1].started_at.date() if entries and entries[-1].started_at else end).isoformat(),
        "due_date": due_on.isoformat(),
    }
    return Draft(
        client_id=client_id,
        client_name=name,
        start=start,
        end=end,
        currency=currency,
        number=number,
        issued_on=today,
        due_on=due_on,
        tax_bp=tax_bp,
        tax2_bp=tax2_bp,
        discount_bp=discount_bp,
        subject=fill(settings["invoicing.subject_template"], values),
        note=fill(settings["invoicing.note_template"], values),
        grouping=grouping,
        entries=entries,
        lines=group_lines(entries, grouping),
        totals=totals,
        digest=entries_digest(e.id for e in entries),
    )


def note_with_summary(note: str, lines: list[Line], currency: str) -> str:
    """The invoice note: the settings note, then one line per invoice line (the API cannot add items)."""
    summary = [f"{line.description}: {line.seconds / 3600:.2f} h, {_money(line.amount, currency)}" for line in lines]
    text = "\n".join([note.strip(), "", "Approved time billed by Closeout:", *summary]).strip()
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def _money(minor: int, currency: str) -> str:
    return f"{currency} {Decimal(minor).scaleb(-2):.2f}"


# --- confirming --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    name: str | None


def _unfinished_job(workspace_id: str, client_id: str) -> InvoiceJob | None:
    return db.session.scalar(sa.select(InvoiceJob).filter_by(workspace_id=workspace_id, active_client_id=client_id))


def _job_for_digest(workspace_id: str, client_id: str, digest: str) -> InvoiceJob | None:
    return db.session.scalar(
        sa.select(InvoiceJob)
        .filter_by(workspace_id=workspace_id, client_id=client_id, entries_digest=digest)
        .where(InvoiceJob.status != "failed")
        .order_by(InvoiceJob.id.desc())
        .limit(1)
    )


def _conflict(job: InvoiceJob) -> InvoiceConflict:
    if job.status == "done":
        return InvoiceConflict(f"This time is already invoiced as {job.number} for {job.client_name}.", job)
    return InvoiceConflict(
        f"An invoice for {job.client_name} is already being made ({job.number or 'numbering'}); it includes this time.",
        job,
    )


def confirm_invoice(
    workspace_id: str,
    actor: Actor,
    client: Any,
    client_id: str,
    start: date,
    end: date,
    digest: str,
    today: date,
    token: str | None,
) -> InvoiceJob:
    """Record the invoice the admin confirmed as a job (number reserved, lines kept); the caller commits and
    queues INVOICE_TASK. Refuses (409, with the other invoice) when this time is already being invoiced."""
    earlier = _job_for_digest(workspace_id, client_id, digest) or _unfinished_job(workspace_id, client_id)
    if earlier is not None:
        raise _conflict(earlier)
    # Re-read from Clockify (before any write): what is billed is what Clockify says now, and only if it
    # is what the admin saw.
    draft = draft_invoice(workspace_id, client, client_id, start, end, today)
    if not draft.entries:
        raise BillingError("There is no approved, billable, uninvoiced time for this client in the range.", 409)
    if draft.digest != digest:
        raise BillingError("The approved time changed since the preview: review the new preview and confirm again.")
    job = InvoiceJob(
        workspace_id=workspace_id,
        client_id=client_id,
        client_name=draft.client_name,
        active_client_id=client_id,
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        entries_digest=draft.digest,
        status="queued",
        step="create",
        currency=draft.currency,
        issued_on=draft.issued_on,
        due_on=draft.due_on,
        range_start=start,
        range_end=end,
        tax_bp=draft.tax_bp,
        tax2_bp=draft.tax2_bp,
        discount_bp=draft.discount_bp,
        subject=draft.subject,
        grouping=draft.grouping,
        seconds=draft.totals.seconds,
        subtotal=draft.totals.subtotal,
        discount_amount=draft.totals.discount_amount,
        tax_amount=draft.totals.tax_amount,
        tax2_amount=draft.totals.tax2_amount,
        total=draft.totals.total,
    )
    try:
        with db.session.begin_nested():
            db.session.add(job)
            db.session.flush()
            for entry in draft.entries:
                db.session.add(_line(workspace_id, job.id, entry))
            db.session.flush()
    except IntegrityError:
        # Another confirmation won the race (one unfinished job per client; an entry on one invoice only).
        other = _unfinished_job(workspace_id, client_id) or _job_for_digest(workspace_id, client_id, digest)
        if other is not None:
            raise _conflict(other) from None
        raise BillingError("Some of this time is already on another invoice; refresh and try again.", 409) from None
    settings = get_settings(workspace_id)
    reserved = numbering.reserve_number(
        workspace_id, job.id, settings["invoicing.number_pattern"], settings["invoicing.next_sequence"], today
    )
    _number_job(job, reserved, draft.note, draft.lines)
    for name in STEPS:
        db.session.add(InvoiceJobStep(workspace_id=workspace_id, job_id=job.id, name=name, status="pending"))
    _keep_token(job, token)
    _audit(job, "invoice.confirmed", {"entries": len(draft.entries), "total": job.total, "number": job.number})
    db.session.flush()
    return job


def _number_job(job: InvoiceJob, reserved: InvoiceNumber, note_template: str | None, lines: list[Line]) -> None:
    """Give the job its number; the note's {number} follows it."""
    previous = job.number
    job.sequence, job.number = reserved.sequence, reserved.number
    if job.subject and previous:
        job.subject = job.subject.replace(previous, reserved.number)
    if note_template is not None:
        job.note = note_with_summary(note_template, lines, job.currency)
    elif job.note and previous:
        job.note = job.note.replace(previous, reserved.number)


def _line(workspace_id: str, job_id: int, entry: Entry) -> InvoiceLine:
    return InvoiceLine(
        workspace_id=workspace_id,
        job_id=job_id,
        time_entry_id=entry.id,
        user_id=entry.user_id or None,
        user_name=entry.user_name or None,
        project_id=entry.project_id or None,
        project_name=entry.project_name or None,
        description=entry.description or None,
        started_at=entry.started_at,
        seconds=entry.seconds,
        rate=entry.rate,
        amount=entry.amount,
    )


def get_job(workspace_id: str, job_id: int) -> InvoiceJob:
    job = db.session.scalar(sa.select(InvoiceJob).filter_by(workspace_id=workspace_id, id=job_id))
    if job is None:
        raise BillingError("That invoice does not exist.", 404)
    return job


def job_lines(job: InvoiceJob) -> list[InvoiceLine]:
    query = sa.select(InvoiceLine).filter_by(job_id=job.id).order_by(InvoiceLine.started_at, InvoiceLine.id)
    return list(db.session.scalars(query))


def job_steps(job: InvoiceJob) -> dict[str, InvoiceJobStep]:
    return {s.name: s for s in db.session.scalars(sa.select(InvoiceJobStep).filter_by(job_id=job.id))}


def recent_jobs(workspace_id: str, limit: int = 10) -> list[InvoiceJob]:
    query = sa.select(InvoiceJob).filter_by(workspace_id=workspace_id).order_by(InvoiceJob.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def hand_token(job: InvoiceJob, token: str | None) -> bool:
    """Give an unfinished job its confirmer's fresh token (from the tab's poll); True when a job that was
    waiting for one must be queued again (after the commit)."""
    if job.status not in UNFINISHED:
        return False
    _keep_token(job, token)
    if job.status == "waiting_token" and job.user_token_ciphertext:
        job.status = "queued"
        job.updated_at = utcnow()
        return True
    return False


def retry_job(job: InvoiceJob, token: str | None) -> InvoiceJob:
    """Queue a job that stopped on a refusal again from the step it stopped at (the invoice exists)."""
    if job.status != "failed" or job.step == "create" or job.active_client_id is None:
        raise BillingError("Only an invoice stopped after its creation can be retried.", 409)
    job.status = "queued"
    job.error = None
    job.updated_at = utcnow()
    _keep_token(job, token)
    return job


# --- the worker ---------------------------------------------------------------------------------------------


def run_invoice_job(job_id: int, clients: Clients, verifier: Verifier) -> str:
    """Task body: run the job's remaining steps with the confirmer's token, committing after each.

    Never with the installation's token: when the confirmer's token has lapsed the job waits for the tab to
    hand it a fresh one. Before every call and every commit the installation is looked at again (StepGuard):
    paused holds the job until STATUS_CHANGED ACTIVE queues it again; removed ends it with no further call.
    Raises RetryLater on failures worth retrying (the worker retries the task).
    """
    job = db.session.get(InvoiceJob, job_id)
    if job is None or job.status in ("done", "failed"):
        return "finished"
    installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=job.workspace_id))
    if installation is None:
        return "removed"
    if not installation.is_active:
        _pause(job)
        db.session.commit()
        return "paused"
    guard = StepGuard.of(installation)
    made = clients.for_stored_token(
        job.user_token_ciphertext, installation, verifier, margin=TOKEN_MARGIN_SECONDS, guard=guard
    )
    if made is None:
        _wait_for_token(job)
        db.session.commit()
        return "waiting_token"
    client, _ = made
    job.status, job.updated_at = "running", utcnow()
    try:
        guard.commit()
        while job.step != "done":
            step = job.step
            _STEP_RUNNERS[step](job, client, guard.commit)
            job.updated_at = utcnow()
            guard.commit()
    except JobStopped as stop:
        return _stopped(job, stop)
    except ClockifyError as exc:
        try:
            guard.stopped_by(exc)  # refused because Closeout was paused or removed meanwhile
        except JobStopped as stop:
            return _stopped(job, stop)
        return _failed(job, exc)
    finally:
        client.close()
    _finish(job)
    db.session.commit()
    log.info("workspace %s: invoice job %s done (%s)", job.workspace_id, job.id, job.number)
    return "done"


def _failed(job: InvoiceJob, exc: ClockifyError) -> str:
    """A Clockify failure of the job's own: wait for a token, retry later, or stop on a refusal."""
    if isinstance(exc, UnauthorizedError):
        db.session.rollback()
        _wait_for_token(job)
        db.session.commit()
        return "waiting_token"
    db.session.rollback()
    if isinstance(exc, ServerError | TransportError | RateLimitedError):
        job.status, job.error, job.updated_at = "retrying", clockify_message(exc), utcnow()
        db.session.commit()
        raise RetryLater(job.error) from exc
    _fail(job, clockify_message(exc))
    db.session.commit()
    return "failed"


def _pause(job: InvoiceJob) -> None:
    job.status = PAUSED
    job.error = "Closeout is paused on this workspace; the invoice goes on when it is active again."
    job.updated_at = utcnow()


def _stopped(job: InvoiceJob, stop: JobStopped) -> str:
    """A step found Closeout paused (hold), removed (end: the job went with the workspace) or reinstalled."""
    db.session.rollback()
    if stop.state == REMOVED:
        log.info("workspace %s: removed; invoice job %s ends here", job.workspace_id, job.id)
        return "removed"
    try:
        if stop.paused:
            _pause(job)
        else:
            _fail(job, "Closeout was reinstalled on this workspace; confirm the invoice again.")
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return "removed"
    return "paused" if stop.paused else "failed"


def paused_jobs(workspace_id: str) -> list[int]:
    """The invoice jobs a pause held on this workspace, set to go on (STATUS_CHANGED ACTIVE queues them)."""
    ids = paused_workspace_jobs(InvoiceJob, workspace_id)
    for job_id in ids:
        job = db.session.get(InvoiceJob, job_id)
        if job is not None:
            job.status, job.error, job.updated_at = "queued", None, utcnow()
    return ids


def _step(job: InvoiceJob, name: str) -> InvoiceJobStep:
    step = db.session.scalar(sa.select(InvoiceJobStep).filter_by(job_id=job.id, name=name))
    if step is None:
        step = InvoiceJobStep(workspace_id=job.workspace_id, job_id=job.id, name=name, status="pending")
        db.session.add(step)
    return step


def _done(job: InvoiceJob, step: InvoiceJobStep, following: str) -> None:
    step.status, step.finished_at = "done", utcnow()
    job.step = following


def _create(job: InvoiceJob, client: Any, commit: Callable[[], None]) -> None:
    step = _step(job, "create")
    if job.clockify_invoice_id is None:
        assert job.number is not None
        # Read before (re-)sending: an earlier run may have created it and crashed before recording it.
        found = client.find_invoice_by_number(job.number)
        if found is not None and step.attempts > 0 and found.client_id == job.client_id:
            job.clockify_invoice_id = found.id
        elif found is not None:
            # Made natively in Clockify with this number: it is used, so skip it for good (no gap).
            _renumber(job)
            return
        else:
            step.attempts += 1
            commit()  # the attempt is on record before it is sent
            created = client.create_invoice(
                client_id=job.client_id,
                currency=job.currency,
                number=job.number,
                issued_date=job.issued_on,
                due_date=job.due_on,
            )
            job.clockify_invoice_id = created.id
    numbering.mark_used(job.workspace_id, job.sequence)
    _done(job, step, "update")


def _renumber(job: InvoiceJob) -> None:
    numbering.mark_taken(job.workspace_id, job.sequence)
    settings = get_settings(job.workspace_id)
    reserved = numbering.reserve_number(
        job.workspace_id,
        job.id,
        settings["invoicing.number_pattern"],
        settings["invoicing.next_sequence"],
        job.issued_on,
    )
    previous = job.number
    _number_job(job, reserved, None, [])
    log.info("workspace %s: number %s is taken in Clockify; job %s takes the next", job.workspace_id, previous, job.id)


def _update(job: InvoiceJob, client: Any, commit: Callable[[], None]) -> None:
    """Note, subject, taxes and discount: create drops note and subject (quirk 4), and update_invoice reads
    the invoice and converts its x100 percents before the full PUT (quirk 1)."""
    step = _step(job, "update")
    assert job.clockify_invoice_id is not None
    step.attempts += 1
    invoice = client.update_invoice(
        job.clockify_invoice_id,
        {
            "note": job.note or "",
            "subject": job.subject or "",
            "taxPercent": job.tax_bp / 100,
            "tax2Percent": job.tax2_bp / 100,
            "discountPercent": job.discount_bp / 100,
        },
    )
    receivables.record(job.workspace_id, invoice.raw)
    _done(job, step, "mark")


def _mark(job: InvoiceJob, client: Any, commit: Callable[[], None]) -> None:
    """Mark exactly the job's entries invoiced, in chunks, each recorded as it lands (PATCH: safe to repeat)."""
    step = _step(job, "mark")
    ids = [line.time_entry_id for line in job_lines(job)]
    while step.progress < len(ids):
        chunk = ids[step.progress : step.progress + MARK_CHUNK]
        step.attempts += 1
        client.mark_time_entries_invoiced(chunk)
        step.progress += len(chunk)
        commit()
    _done(job, step, "done")


_STEP_RUNNERS = {"create": _create, "update": _update, "mark": _mark}


def _wait_for_token(job: InvoiceJob) -> None:
    job.status = "waiting_token"
    job.error = "Waiting for the confirming admin's session: keep or reopen the Invoices tab to finish."
    job.updated_at = utcnow()


def _fail(job: InvoiceJob, message: str) -> None:
    """A refusal. Before the invoice exists the job ends and frees its number and entries; after, it stops
    at its step (its entries stay reserved) until an admin retries."""
    job.status, job.error, job.updated_at = "failed", message[:500], utcnow()
    if job.clockify_invoice_id is None:
        numbering.release(job.workspace_id, job.sequence)
        db.session.execute(sa.delete(InvoiceLine).where(InvoiceLine.job_id == job.id))
        job.active_client_id = None
        job.user_token_ciphertext = None
        job.finished_at = utcnow()
    _audit(job, "invoice.failed", {"step": job.step, "error": job.error})


def _finish(job: InvoiceJob) -> None:
    job.status, job.step, job.error = "done", "done", None
    job.active_client_id = None
    job.user_token_ciphertext = None
    job.finished_at = utcnow()
    _audit(job, "invoice.created", {"number": job.number, "invoice": job.clockify_invoice_id, "total": job.total})


def _audit(job: InvoiceJob, action: str, detail: dict[str, Any]) -> None:
    db.session.add(
        AuditEntry(
            workspace_id=job.workspace_id,
            actor_user_id=job.actor_user_id,
            actor_name=job.actor_name,
            action=action,
            subject_type="invoice_job",
            subject_id=str(job.id),
            detail=detail,
        )
    )


def stalled_jobs(now: datetime | None = None) -> list[int]:
    """Unfinished jobs (not waiting for a token) that stopped moving: their queue message was lost."""
    cutoff = (now or utcnow()) - timedelta(seconds=STALL_SECONDS)
    jobs = db.session.scalars(
        sa.select(InvoiceJob).where(
            InvoiceJob.status.in_(("queued", "running", "retrying")), InvoiceJob.updated_at < cutoff
        )
    ).all()
    for job in jobs:
        job.updated_at = utcnow()  # restarts the stall clock: queued again once per stall
    return [job.id for job in jobs]


def clockify_message(exc: Exception) -> str:
    if isinstance(exc, RateLimitedError):
        return "Clockify asked Closeout to slow down; the worker tries again shortly."
    if isinstance(exc, TransportError):
        return "Clockify could not be reached; the worker tries again shortly."
    if isinstance(exc, ServerError):
        return "Clockify failed to answer; the worker tries again shortly."
    return refusal_text(exc, "Clockify refused the request")


# --- the document --------------------------------------------------------------------------------------------


CSV_HEADER = ("entry_id", "date", "person", "project", "description", "hours", "rate", "amount", "currency")


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @, tab and CR are neutralised)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def lines_csv(job: InvoiceJob) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in job_lines(job):
        writer.writerow(
            [
                _cell(v)
                for v in (
                    line.time_entry_id,
                    line.started_at.date().isoformat() if line.started_at else "",
                    line.user_name,
                    line.project_name,
                    line.description,
                    f"{Decimal(line.seconds) / 3600:.2f}",
                    f"{Decimal(line.rate).scaleb(-2):.2f}",
                    f"{Decimal(line.amount).scaleb(-2):.2f}",
                    job.currency,
                )
            ]
        )
    return out.getvalue()


@dataclass
class Document:
    job: InvoiceJob
    lines: list[Line]
    entries: int
    clockify: dict[str, Any] | None
    todo: list[str]

    @property
    def clockify_amount(self) -> int | None:
        value = (self.clockify or {}).get("amount")
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def document(job: InvoiceJob, client: Any | None) -> Document:
    """The invoice as Closeout sends it, with what is left to do in Clockify (one read of Clockify's copy)."""
    entries = job_lines(job)
    raw: dict[str, Any] | None = None
    if client is not None and job.clockify_invoice_id:
        try:
            raw = client.get_invoice(job.clockify_invoice_id).raw
            receivables.record(job.workspace_id, raw)
        except ClockifyError as exc:
            log.info("workspace %s: reading invoice %s failed (%s)", job.workspace_id, job.number, exc.status)
    todo: list[str] = []
    if job.status != "done":
        todo.append("Closeout is still creating this invoice in Clockify.")
    elif raw is not None:
        amount = raw.get("amount")
        if amount != job.total:
            todo.append(
                f"Clockify's copy of {job.number} totals {_money(int(amount or 0), job.currency)}, Closeout's lines "
                f"{_money(job.total, job.currency)}: the API cannot add line items, so in Clockify open the invoice "
                "and add the lines below (its note lists them) before you send it from Clockify."
            )
        if raw.get("status") == "UNSENT":
            todo.append("Send this document to the client, then mark the invoice sent in Clockify.")
    return Document(job, group_lines(entries, job.grouping), len(entries), raw, todo)


def _keep_token(job: InvoiceJob, token: str | None) -> None:
    """Keep the confirmer's newest token on the job, encrypted; written only when it really changed (the tab
    hands it over on every poll)."""
    if not token:
        return
    if job.user_token_ciphertext:
        try:
            if same_secret(decrypt(job.user_token_ciphertext), token):
                return
        except DecryptionError:
            pass
    job.user_token_ciphertext = encrypt(token)
