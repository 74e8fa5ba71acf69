"""The approval queue of a period: who sees and decides what, filters, sorting, paging, missing submissions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..tokens import Role
from ..workspace.directory import Directory
from ..workspace.periods import Period, last_closed_period, parse_period
from .mirror import STATES
from .models import ApprovalRequestRecord

SORT_KEYS = (
    "user",
    "period",
    "status",
    "tracked",
    "billable",
    "break",
    "expenses",
    "scheduled",
    "variance",
    "variance_pct",
    "flags",
)


PAGE_SIZE = 50


@dataclass(frozen=True)
class Viewer:
    user_id: str
    role: Role
    name: str | None = None


@dataclass(frozen=True)
class Scope:
    """The requests a viewer may see (`everyone` or `user_ids`) and decide (`decidable`)."""

    everyone: bool
    user_ids: frozenset[str]
    decidable: frozenset[str]
    can_decide_all: bool

    def sees(self, user_id: str) -> bool:
        return self.everyone or user_id in self.user_ids

    def may_decide(self, user_id: str) -> bool:
        return self.can_decide_all or user_id in self.decidable

    @property
    def read_only(self) -> bool:
        return not self.can_decide_all and not self.decidable


def scope_for(viewer: Viewer, directory: Directory) -> Scope:
    """Owners and admins: everyone. Team managers: members of the groups they manage. Members: themselves."""
    if viewer.role in (Role.OWNER, Role.ADMIN):
        return Scope(everyone=True, user_ids=frozenset(), decidable=frozenset(), can_decide_all=True)
    if viewer.role == Role.TEAM_MANAGER:
        managed = frozenset(directory.managed_by(viewer.user_id))
        return Scope(everyone=False, user_ids=managed | {viewer.user_id}, decidable=managed, can_decide_all=False)
    return Scope(everyone=False, user_ids=frozenset({viewer.user_id}), decidable=frozenset(), can_decide_all=False)


@dataclass
class QueueFilters:
    status: str = ""
    group_id: str = ""
    manager_id: str = ""
    sort: str = "user"
    descending: bool = False
    page: int = 1


def parse_filters(args: Any) -> QueueFilters:
    """Filters from query or form values; anything unknown falls back to the default, never errors."""
    status = str(args.get("status") or "").upper()
    sort = str(args.get("sort") or "user")
    try:
        page = max(int(args.get("page") or 1), 1)
    except (TypeError, ValueError):
        page = 1
    return QueueFilters(
        status=status if status in STATES else "",
        group_id=str(args.get("group") or "")[:64],
        manager_id=str(args.get("manager") or "")[:64],
        sort=sort if sort in SORT_KEYS else "user",
        descending=str(args.get("order") or "") == "desc",
        page=min(page, 10_000),
    )


@dataclass
class QueueRow:
    record: ApprovalRequestRecord
    user_name: str
    scheduled_seconds: int | None
    groups: list[str]
    flags: list[str]
    decidable: bool

    @property
    def variance_seconds(self) -> int | None:
        if self.scheduled_seconds is None:
            return None
        return self.record.tracked_seconds - self.scheduled_seconds

    @property
    def variance_pct(self) -> float | None:
        if not self.scheduled_seconds:
            return None
        return 100.0 * (self.record.tracked_seconds - self.scheduled_seconds) / self.scheduled_seconds


@dataclass
class Queue:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)
    # (id, state) of every decidable row across all pages: what "all matching the filter" decides.
    matching: list[tuple[str, str]] = field(default_factory=list)


def flags_for(record: ApprovalRequestRecord, max_daily_hours: float | None) -> list[str]:
    stats = record.entry_stats or {}
    flags = []
    per_day = stats.get("per_day") or {}
    if max_daily_hours and any(int(s) > max_daily_hours * 3600 for s in per_day.values()):
        flags.append("over_daily_max")
    if stats.get("without_project"):
        flags.append("no_project")
    if stats.get("overlapping"):
        flags.append("overlap")
    return flags


def period_records(workspace_id: str, period: Period) -> list[ApprovalRequestRecord]:
    """Mirror rows whose period starts inside `period` (a request's range is one approval period)."""
    return list(
        db.session.scalars(
            sa.select(ApprovalRequestRecord).where(
                ApprovalRequestRecord.workspace_id == workspace_id,
                ApprovalRequestRecord.period_start >= period.start,
                ApprovalRequestRecord.period_start <= period.end,
            )
        )
    )


def build_queue(
    workspace_id: str,
    period: Period,
    scope: Scope,
    directory: Directory,
    scheduled: dict[str, int] | None,
    filters: QueueFilters,
    *,
    max_daily_hours: float | None = None,
    page_size: int = PAGE_SIZE,
) -> Queue:
    """The visible requests of a period, filtered, sorted and paged; counts per state before the status filter."""
    rows: list[QueueRow] = []
    group_members: set[str] | None = None
    if filters.group_id:
        group = next((g for g in directory.groups if g.get("id") == filters.group_id), None)
        group_members = set(group.get("userIds") or []) if group else set()
    managed: set[str] | None = directory.managed_by(filters.manager_id) if filters.manager_id else None
    counts = dict.fromkeys(STATES, 0)
    for record in period_records(workspace_id, period):
        if not scope.sees(record.user_id):
            continue
        if group_members is not None and record.user_id not in group_members:
            continue
        if managed is not None and record.user_id not in managed:
            continue
        counts[record.state] = counts.get(record.state, 0) + 1
        if filters.status and record.state != filters.status:
            continue
        rows.append(
            QueueRow(
                record=record,
                user_name=directory.name(record.user_id) or record.user_name or record.user_id,
                scheduled_seconds=None if scheduled is None else scheduled.get(record.user_id, 0),
                groups=[str(g.get("name") or "") for g in directory.groups_of(record.user_id)],
                flags=flags_for(record, max_daily_hours),
                decidable=scope.may_decide(record.user_id),
            )
        )
    rows.sort(key=_sort_key(filters.sort), reverse=filters.descending)
    total = len(rows)
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(filters.page, pages)
    start = (page - 1) * page_size
    return Queue(
        rows=rows[start : start + page_size],
        total=total,
        page=page,
        pages=pages,
        counts=counts,
        matching=[(r.record.clockify_id, r.record.state) for r in rows if r.decidable],
    )


def _sort_key(sort: str) -> Callable[[QueueRow], Any]:
    def missing_last(value: float | None) -> tuple[int, float]:
        return (1, 0.0) if value is None else (0, value)

    keys: dict[str, Callable[[QueueRow], Any]] = {
        "user": lambda r: (r.user_name.lower(), r.record.clockify_id),
        "period": lambda r: (r.record.period_start, r.user_name.lower()),
        "status": lambda r: (r.record.state, r.user_name.lower()),
        "tracked": lambda r: r.record.tracked_seconds,
        "billable": lambda r: r.record.billable_seconds,
        "break": lambda r: r.record.break_seconds,
        "expenses": lambda r: r.record.expense_total,
        "scheduled": lambda r: missing_last(r.scheduled_seconds),
        "variance": lambda r: missing_last(r.variance_seconds),
        "variance_pct": lambda r: missing_last(r.variance_pct),
        "flags": lambda r: (len(r.flags), r.flags),
    }
    return keys.get(sort, keys["user"])


def last_synced(workspace_id: str) -> datetime | None:
    """When a request of the workspace was last written from Clockify."""
    return db.session.scalar(
        sa.select(sa.func.max(ApprovalRequestRecord.synced_at)).where(
            ApprovalRequestRecord.workspace_id == workspace_id
        )
    )


def queue_version(workspace_id: str) -> str:
    """Changes whenever a request in the mirror or a decision job changes: what an open tab polls."""
    synced = last_synced(workspace_id)
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApprovalRequestRecord)
        .where(ApprovalRequestRecord.workspace_id == workspace_id)
    )
    stamp = synced.timestamp() if synced else 0
    return f"{count or 0}-{stamp:.6f}"


# A request in any other state counts as the period's submission (a rejected one waits on its owner).
NOT_SUBMITTED = ("WITHDRAWN_SUBMISSION",)


@dataclass
class MissingSubmission:
    user_id: str
    name: str
    tracked_seconds: int


def missing_submissions(
    workspace_id: str, period: Period, scope: Scope, directory: Directory, tracked: dict[str, int]
) -> list[MissingSubmission]:
    """Active users with tracked time in the period and no (live) request for it, that the viewer sees."""
    submitted = {r.user_id for r in period_records(workspace_id, period) if r.state not in NOT_SUBMITTED}
    missing = [
        MissingSubmission(user_id=user_id, name=directory.name(user_id) or user_id, tracked_seconds=seconds)
        for user_id, seconds in tracked.items()
        if seconds > 0
        and user_id not in submitted
        and directory.is_active(user_id)
        and user_id in directory.users
        and scope.sees(user_id)
    ]
    return sorted(missing, key=lambda m: m.name.lower())


def choose_period(value: str | None, today: date, *, kind: str, week_start: str) -> Period:
    """The period asked for (an ISO date inside it), else the last closed one.

    `kind` and `week_start` are the workspace's (preferences.workspace_info: the one place that works out the
    approval period, from Clockify's workspace settings or its latest requests).
    """
    try:
        chosen = parse_period(value, kind, week_start)
    except ValueError:
        chosen = None
    return chosen or last_closed_period(today, kind, week_start)
