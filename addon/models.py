"""Closeout's tables: installations and their tokens, lifecycle log, webhook inbox, settings, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Installation(db.Model):  # type: ignore[name-defined]
    """One Closeout installation on one Clockify workspace (a reinstall updates the same row)."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    addon_id: Mapped[str] = mapped_column(sa.String(64))
    api_url: Mapped[str] = mapped_column(sa.String(500))
    reports_url: Mapped[str | None] = mapped_column(sa.String(500))
    token_ciphertext: Mapped[str] = mapped_column(sa.Text)
    as_user: Mapped[str | None] = mapped_column(sa.String(64))
    addon_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    clockify_settings: Mapped[Any | None] = mapped_column(sa.JSON)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never the token
        return f"<Installation {self.workspace_id} active={self.is_active}>"


class WebhookSubscription(db.Model):  # type: ignore[name-defined]
    """A webhook Clockify delivers to us and the fixed token it signs every delivery with."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "event_type", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(64))
    # "manifest": declared in manifest.json, token from INSTALLED; "api": registered by us through
    # the Webhooks API (ASSIGNMENT_* events, which schema 1.4 cannot declare).
    source: Mapped[str] = mapped_column(sa.String(16), default="manifest")
    path: Mapped[str] = mapped_column(sa.String(500))
    clockify_webhook_id: Mapped[str | None] = mapped_column(sa.String(64))
    token_ciphertext: Mapped[str] = mapped_column(sa.Text)
    # Keyed digest of the token: webhook intake finds the subscription by it in one indexed query.
    token_digest: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def set_token(self, token: str) -> None:
        """Store the webhook's token encrypted, with the digest intake looks it up by."""
        from .crypto import digest, encrypt

        self.token_ciphertext = encrypt(token)
        self.token_digest = digest(token)

    def __repr__(self) -> str:
        return f"<WebhookSubscription {self.workspace_id} {self.event_type} {self.source}>"


class LifecycleEvent(db.Model):  # type: ignore[name-defined]
    """Every lifecycle call as received, stored before any other work (encrypted: it holds tokens)."""

    __tablename__ = "lifecycle_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(32))
    payload_ciphertext: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxEvent(db.Model):  # type: ignore[name-defined]
    """A verified webhook delivery waiting for, or done with, background processing."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(64))
    # sha256 of workspace, event type and canonical body: Clockify sends no event id.
    dedupe_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    payload: Mapped[Any] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the current claim was taken: a claim older than the lease belongs to a worker that died.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a failed event is due again (backoff); the sweep re-enqueues it if its queued retry was lost.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkspaceSetting(db.Model):  # type: ignore[name-defined]
    """One setting of one workspace; a row per key so concurrent saves of different keys never clash."""

    __tablename__ = "workspace_settings"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))


class SettingChange(db.Model):  # type: ignore[name-defined]
    """History of settings: who changed which key, when, from what to what."""

    __tablename__ = "setting_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    old_value: Mapped[Any | None] = mapped_column(sa.JSON)
    new_value: Mapped[Any | None] = mapped_column(sa.JSON)
    changed_by: Mapped[str | None] = mapped_column(sa.String(64))
    changed_by_name: Mapped[str | None] = mapped_column(sa.String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """Who did what to which Clockify object through Closeout (approvals, billing, schedules)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_name: Mapped[str | None] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(64))
    subject_type: Mapped[str] = mapped_column(sa.String(64))
    subject_id: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[Any | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def workspace_tables() -> list[sa.Table]:
    """Every table that holds workspace data (has a workspace_id column): what DELETED must empty."""
    return [t for t in db.metadata.sorted_tables if "workspace_id" in t.c]


# --- Approvals: the mirror of Clockify's approval requests, auto-approval evaluations, decision jobs ---


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
    # "pending", "running" (claimed by a worker), "done" or "failed".
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # "user" when the decider's token made the call, "installation" when it had to fall back.
    acted_as: Mapped[str | None] = mapped_column(sa.String(16))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Webhook processing: the newest change applied per Clockify object (order tolerance) ---


class EntityVersion(db.Model):  # type: ignore[name-defined]
    """The newest change Closeout has applied to one Clockify object, so late or replayed events never regress it."""

    __tablename__ = "entity_versions"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(32))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    # Clockify's own change time (status.updatedAt, changedAt …) of the newest applied change.
    version_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Breaks ties between changes stamped with the same time (e.g. a terminal state outranks PENDING).
    rank: Mapped[int] = mapped_column(default=0)
    state: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- Settings panel and period-close dashboard: preferences cache and dashboard snapshots ---


class PreferenceCache(db.Model):  # type: ignore[name-defined]
    """What Clockify last said about a user's formats or the workspace (info, groups, clients), kept for a TTL."""

    __tablename__ = "preference_cache"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    # "user:<id>", "workspace", "groups" or "clients".
    scope: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[Any] = mapped_column(sa.JSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DashboardSnapshot(db.Model):  # type: ignore[name-defined]
    """The period-close figures of one workspace and period, so the sidebar opens without calling Clockify."""

    __tablename__ = "dashboard_snapshots"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    period_kind: Mapped[str] = mapped_column(sa.String(16))
    figures: Mapped[Any] = mapped_column(sa.JSON)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by a relevant webhook; the debounced refresh job clears it.
    stale_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
