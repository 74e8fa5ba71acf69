"""Billing tables: the invoice number counter and its reservations, invoice jobs and their steps, the lines
Closeout keeps for each invoice, and the receivables mirror of every Clockify invoice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import UTCDateTime, db, utcnow


class InvoiceSequence(db.Model):  # type: ignore[name-defined]
    """The workspace's next invoice sequence number; its row is the lock every reservation takes."""

    __tablename__ = "invoice_sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    next_value: Mapped[int] = mapped_column(sa.BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InvoiceNumber(db.Model):  # type: ignore[name-defined]
    """One sequence number handed out: reserved by a job, used by its invoice, free again after a failed
    create (the next job takes it, so no number is lost), or taken by an invoice made natively in Clockify."""

    __tablename__ = "invoice_numbers"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64))
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    number: Mapped[str] = mapped_column(sa.String(64))
    # "reserved", "used", "free" or "taken".
    status: Mapped[str] = mapped_column(sa.String(16), default="reserved")
    job_id: Mapped[int | None] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InvoiceJob(db.Model):  # type: ignore[name-defined]
    """One confirmed invoice: what it bills, its number, and how far create → update → mark has come."""

    __tablename__ = "invoice_jobs"
    # One unfinished job per client: a double click, a second tab or a second admin finds the first.
    __table_args__ = (sa.UniqueConstraint("workspace_id", "active_client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    client_name: Mapped[str | None] = mapped_column(sa.String(200))
    # The client id while the job is unfinished, NULL after: the uniqueness above lives in the schema.
    active_client_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_name: Mapped[str | None] = mapped_column(sa.String(200))
    # Digest of the entry ids the admin saw in the preview: the same time confirmed twice is one invoice.
    entries_digest: Mapped[str] = mapped_column(sa.String(64))
    # "queued", "running", "waiting_token", "retrying", "failed" or "done".
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    # The step to run next: "create", "update", "mark" or "done".
    step: Mapped[str] = mapped_column(sa.String(16), default="create")
    sequence: Mapped[int | None] = mapped_column(sa.BigInteger)
    number: Mapped[str | None] = mapped_column(sa.String(64))
    clockify_invoice_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    issued_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date] = mapped_column(sa.Date)
    range_start: Mapped[date] = mapped_column(sa.Date)
    range_end: Mapped[date] = mapped_column(sa.Date)
    # Percents in hundredths (10.5% is 1050): exact, and never a float.
    tax_bp: Mapped[int] = mapped_column(default=0)
    tax2_bp: Mapped[int] = mapped_column(default=0)
    discount_bp: Mapped[int] = mapped_column(default=0)
    subject: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    grouping: Mapped[str] = mapped_column(sa.String(16), default="project")
    seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    subtotal: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    discount_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax2_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # The confirming admin's token (encrypted): their action is made with their token or not at all.
    user_token_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceJobStep(db.Model):  # type: ignore[name-defined]
    """One step of an invoice job with its attempts: a create attempt is recorded before it is sent."""

    __tablename__ = "invoice_job_steps"
    __table_args__ = (sa.UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice_jobs.id", ondelete="CASCADE"))
    # "create", "update" or "mark".
    name: Mapped[str] = mapped_column(sa.String(16))
    # "pending", "done" or "failed".
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # Entries marked so far (the mark step goes in chunks).
    progress: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceLine(db.Model):  # type: ignore[name-defined]
    """One approved time entry billed on one invoice; an entry is billed at most once (the schema says so)."""

    __tablename__ = "invoice_lines"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "time_entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64))
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice_jobs.id", ondelete="CASCADE"), index=True)
    time_entry_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[str | None] = mapped_column(sa.String(64))
    user_name: Mapped[str | None] = mapped_column(sa.String(200))
    project_id: Mapped[str | None] = mapped_column(sa.String(64))
    project_name: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rate: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # minor units per hour
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # minor units


class InvoiceRecord(db.Model):  # type: ignore[name-defined]
    """Closeout's copy of one Clockify invoice (any invoice, not only Closeout's), for receivables."""

    __tablename__ = "invoice_records"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "clockify_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    clockify_id: Mapped[str] = mapped_column(sa.String(64))
    number: Mapped[str | None] = mapped_column(sa.String(64))
    client_id: Mapped[str | None] = mapped_column(sa.String(64))
    client_name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str | None] = mapped_column(sa.String(32))
    currency: Mapped[str | None] = mapped_column(sa.String(8))
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RecurringRun(db.Model):  # type: ignore[name-defined]
    """One month's recurring invoice of one client: the template duplicated, then numbered and dated.

    The (workspace, client, month) key lives in the schema, so a month is billed once whatever runs twice.
    """

    __tablename__ = "recurring_invoice_runs"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "client_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    client_name: Mapped[str | None] = mapped_column(sa.String(200))
    # "YYYY-MM" on the workspace's calendar.
    month: Mapped[str] = mapped_column(sa.String(7))
    run_on: Mapped[date] = mapped_column(sa.Date)
    template_invoice_id: Mapped[str] = mapped_column(sa.String(64))
    # "running", "done" or "failed".
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    # The step to run next: "duplicate", "update" or "done".
    step: Mapped[str] = mapped_column(sa.String(16), default="duplicate")
    # Duplicate POSTs sent; the first is recorded before it is sent.
    attempts: Mapped[int] = mapped_column(default=0)
    # The client's invoice ids before the first duplicate: after a crash, a new one of theirs is the copy.
    known_invoice_ids: Mapped[Any | None] = mapped_column(sa.JSON)
    sequence: Mapped[int | None] = mapped_column(sa.BigInteger)
    number: Mapped[str | None] = mapped_column(sa.String(64))
    clockify_invoice_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    issued_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date] = mapped_column(sa.Date)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
