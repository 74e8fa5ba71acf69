"""The dashboard's table: one snapshot of the period-close figures per workspace and period."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import UTCDateTime, db, utcnow


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
