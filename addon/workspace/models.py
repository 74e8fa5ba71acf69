"""What Clockify last said about a workspace or user, cached with the time it was read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import UTCDateTime, db, utcnow


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
