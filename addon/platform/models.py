"""The platform's tables: installations and their tokens, webhook subscriptions, lifecycle log, inbox, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..crypto import digest, encrypt
from ..extensions import UTCDateTime, db, utcnow


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
    """A webhook Clockify delivers to us and the fixed token it signs every delivery with.

    One per workspace and event, whatever its source: a second registration of the same event (a race,
    a reinstall) is refused by the database rather than stored beside the first.
    """

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "event_type"),)

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


# --- Lifecycle trust: tokens used once, installations removed for good ---
# Neither table has a workspace_id column on purpose: DELETED empties every table that has one, and these
# must outlive it (a removed installation's tokens stay refused; a used token stays used).


class UsedLifecycleToken(db.Model):  # type: ignore[name-defined]
    """A lifecycle token Closeout has acted on: each is accepted once, and remembered until it expires."""

    __tablename__ = "used_lifecycle_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keyed digest of the token, never the token.
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # When the token stops verifying anyway; None for a token without exp, kept for good.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemovedInstallation(db.Model):  # type: ignore[name-defined]
    """The tombstone of an installation DELETED removed: tokens naming its addonId are refused for good."""

    __tablename__ = "removed_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    addon_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
