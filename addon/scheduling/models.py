"""Scheduling tables: publish and roll-forward jobs with their items, and each workspace's schedule version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import UTCDateTime, db, utcnow


class ScheduleJob(db.Model):  # type: ignore[name-defined]
    """One Publish or Copy to next weeks, made with its author's token and run in the background."""

    __tablename__ = "schedule_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    # "publish" or "copy".
    kind: Mapped[str] = mapped_column(sa.String(16))
    actor_user_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_name: Mapped[str | None] = mapped_column(sa.String(200))
    # What was asked: range, people, weeks, notify, allow over-booking.
    params: Mapped[Any] = mapped_column(sa.JSON)
    # "queued", "running", "waiting" (for a fresh token of its author) or "done".
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    # The author's own token (encrypted): a person's action is made with their token or not at all.
    user_token_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScheduleJobItem(db.Model):  # type: ignore[name-defined]
    """One call of a job: a week to publish, or one assignment to copy into one later week."""

    __tablename__ = "schedule_job_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("schedule_jobs.id", ondelete="CASCADE"), index=True)
    # The assignment copied (or, for publish, the week's first day as text).
    source_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[str | None] = mapped_column(sa.String(64))
    user_name: Mapped[str | None] = mapped_column(sa.String(200))
    project_id: Mapped[str | None] = mapped_column(sa.String(64))
    project_name: Mapped[str | None] = mapped_column(sa.String(200))
    target_start: Mapped[date] = mapped_column(sa.Date)
    target_end: Mapped[date] = mapped_column(sa.Date)
    seconds_per_day: Mapped[int] = mapped_column(default=0)
    # "pending", "running", "done", "failed" or "skipped".
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # The copy Clockify created, kept before it is moved: a retry moves it rather than copying again.
    copy_id: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScheduleVersion(db.Model):  # type: ignore[name-defined]
    """A counter per workspace that moves whenever Clockify reports a schedule, time or time-off change."""

    __tablename__ = "schedule_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
