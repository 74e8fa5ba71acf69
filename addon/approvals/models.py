"""Approvals tables: the mirror of Clockify's approval requests, auto-approval evaluations, decision jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import UTCDateTime, db, utcnow


class ApprovalRequestRecord(db.Model):  # type: ignore[name-defined]
    """Closeout's copy of one Clockify approval request, kept fresh by webhooks and reconciliation."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "clockify_id"),
        sa.Index("ix_approval_requests_workspace_period", "workspace_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64))
    clockify_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_name: Mapped[str | None] = mapped_column(sa.String(200))
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(32))
    status_note: Mapped[str | None] = mapped_column(sa.Text)
    # Clockify's status.updatedAt: the order of updates, since webhooks may arrive out of order.
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_updated_by: Mapped[str | None] = mapped_column(sa.String(64))
    status_updated_by_name: Mapped[str | None] = mapped_column(sa.String(200))
    tracked_seconds: Mapped[int] = mapped_column(default=0)
    billable_seconds: Mapped[int] = mapped_column(default=0)
    break_seconds: Mapped[int] = mapped_column(default=0)
    expense_total: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # Per-day tracked seconds and entry counts behind the flags, from the listing's embedded entries.
    entry_stats: Mapped[Any | None] = mapped_column(sa.JSON)
    has_details: Mapped[bool] = mapped_column(default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutoApprovalEvaluation(db.Model):  # type: ignore[name-defined]
    """One evaluation of the auto-approval rules against one request: inputs, outcome, dry run or live."""

    __tablename__ = "auto_approval_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    approval_request_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(64))
    user_name: Mapped[str | None] = mapped_column(sa.String(200))
    trigger: Mapped[str] = mapped_column(sa.String(32))
    rule: Mapped[str] = mapped_column(sa.String(200))
    inputs: Mapped[Any] = mapped_column(sa.JSON)
    # "approved", "would_approve", "held" (a rule did not pass) or "failed" (Clockify refused).
    outcome: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    is_dry_run: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DecisionJob(db.Model):  # type: ignore[name-defined]
    """Many approval decisions (or submissions on behalf) made in one action, run in the background."""

    __tablename__ = "decision_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_name: Mapped[str | None] = mapped_column(sa.String(200))
    # "approve", "reject", "withdraw" or "submit".
    action: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    period_start: Mapped[date | None] = mapped_column(sa.Date)
    period_kind: Mapped[str | None] = mapped_column(sa.String(16))
    # "queued", "running", "done".
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    # The decider's own token (encrypted), so Clockify records the real approver; refreshed by the tab.
    user_token_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DecisionItem(db.Model):  # type: ignore[name-defined]
    """One request (or user, for submissions) inside a decision job, with its result."""

    __tablename__ = "decision_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("decision_jobs.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    subject_name: Mapped[str | None] = mapped_column(sa.String(200))
    # "pending", "running" (claimed by a worker), "done", "failed", or "skipped" (not in the state the
    # decision needs when the job started; `error` says why).
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # "user" when the decider's token made the call, "installation" when it had to fall back.
    acted_as: Mapped[str | None] = mapped_column(sa.String(16))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
