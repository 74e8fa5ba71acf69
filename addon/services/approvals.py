"""Approvals: the mirror of Clockify's approval requests, the queue, who sees what, decisions, submissions."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..clockify import payloads
from ..clockify.errors import (
    ClockifyError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    UnauthorizedError,
)
from ..crypto import DecryptionError, decrypt, encrypt, same_secret
from ..extensions import db
from ..models import ApprovalRequestRecord, AuditEntry, DecisionItem, DecisionJob, Installation, utcnow
from ..security import AuthError, Role, TokenContext, TokenKind, public_key, verify_token
from .events import EventContext, on, reconciler, sweeper
from .installations import client_for, user_client
from .periods import Period, kind_of_request, last_closed_period, parse_period, request_days, zone_or_utc

log = logging.getLogger(__name__)

STATES = ("PENDING", "APPROVED", "REJECTED", "WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL")
# The state each decision sets, and the state a request must be in for it (Clockify's approval flow:
# only a pending request is approved or rejected; only an approved one has its approval withdrawn).
TARGET_STATE = {"approve": "APPROVED", "reject": "REJECTED", "withdraw": "WITHDRAWN_APPROVAL"}
REQUIRED_STATE = {"approve": "PENDING", "reject": "PENDING", "withdraw": "APPROVED"}
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
NOTE_MAX = 1000
DIRECTORY_TTL_SECONDS = 60.0
# How far back reconciliation re-reads requests: a monthly period plus late decisions on it.
RECONCILE_DAYS = 45


class ApprovalError(Exception):
    """A decision or query that cannot be made as asked; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- parsing Clockify's shapes -------------------------------------------------------------------


def parse_duration(value: Any) -> int:
    """Seconds in an ISO-8601 duration such as PT1H30M (what the approvals API returns); 0 when unusable."""
    return max(payloads.parse_duration(value) or 0, 0)


def parse_instant(value: Any) -> datetime | None:
    return payloads.parse_datetime(value)


def _money(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _text(value: Any, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class RequestData:
    """The fields Closeout keeps from an ApprovalRequestDtoV1 (a webhook body or a listing's approvalRequest)."""

    clockify_id: str
    user_id: str
    user_name: str | None
    time_zone: str
    period_start: date
    period_end: date
    state: str
    note: str | None
    updated_at: datetime | None
    updated_by: str | None
    updated_by_name: str | None


def parse_request(body: Any) -> RequestData | None:
    """The request in a webhook body or listing item, or None when it lacks what the queue needs."""
    body = _dict(body)
    owner = _dict(body.get("owner"))
    status = _dict(body.get("status"))
    date_range = _dict(body.get("dateRange"))
    clockify_id = body.get("id")
    user_id = owner.get("userId")
    state = status.get("state")
    start = parse_instant(date_range.get("start"))
    end = parse_instant(date_range.get("end"))
    if not (isinstance(clockify_id, str) and clockify_id and isinstance(user_id, str) and user_id):
        return None
    if state not in STATES or start is None:
        return None
    # The webhook sample spells owner.timezone, the API's DTO owner.timeZone (platform.md §7.3).
    zone_name = owner.get("timeZone") or owner.get("timezone") or "UTC"
    owner_zone = zone_or_utc(zone_name if isinstance(zone_name, str) else "UTC")
    start_day, end_day = request_days(start, end, owner_zone.key)
    return RequestData(
        clockify_id=clockify_id[:64],
        user_id=user_id[:64],
        user_name=_text(owner.get("userName")),
        time_zone=owner_zone.key,
        period_start=start_day,
        period_end=end_day,
        state=state,
        note=_text(status.get("note"), NOTE_MAX),
        updated_at=parse_instant(status.get("updatedAt")),
        updated_by=_text(status.get("updatedBy"), 64),
        updated_by_name=_text(status.get("updatedByUserName")),
    )


def entry_stats(entries: Any, time_zone: str) -> dict[str, Any]:
    """Per-day tracked seconds, entries without a project and overlapping entries, from embedded entries."""
    zone = zone_or_utc(time_zone)
    per_day: dict[str, int] = {}
    without_project = 0
    intervals: list[tuple[datetime, datetime]] = []
    count = 0
    for entry in entries if isinstance(entries, list) else []:
        entry = _dict(entry)
        if entry.get("type") in ("BREAK", "HOLIDAY", "TIME_OFF"):
            continue
        interval = _dict(entry.get("timeInterval"))
        start = parse_instant(interval.get("start"))
        end = parse_instant(interval.get("end"))
        seconds = parse_duration(interval.get("duration"))
        if start is None:
            continue
        if end is None and seconds:
            end = start + timedelta(seconds=seconds)
        if not seconds and end is not None:
            seconds = max(int((end - start).total_seconds()), 0)
        count += 1
        day = start.astimezone(zone).date().isoformat()
        per_day[day] = per_day.get(day, 0) + seconds
        project = _dict(entry.get("project"))
        if not (project.get("id") or entry.get("projectId")):
            without_project += 1
        if end is not None and end > start:
            intervals.append((start, end))
    intervals.sort()
    overlapping = 0
    latest_end: datetime | None = None
    for start, end in intervals:
        if latest_end is not None and start < latest_end:
            overlapping += 1
        latest_end = end if latest_end is None or end > latest_end else latest_end
    return {"per_day": per_day, "without_project": without_project, "overlapping": overlapping, "entries": count}


# --- the mirror ----------------------------------------------------------------------------------


def record_request(
    workspace_id: str, data: RequestData, details: dict[str, Any] | None = None
) -> ApprovalRequestRecord:
    """Insert or update the mirror row; an older status never overwrites a newer one (webhooks reorder)."""
    record = db.session.scalar(
        sa.select(ApprovalRequestRecord).filter_by(workspace_id=workspace_id, clockify_id=data.clockify_id)
    )
    status = {
        "state": data.state,
        "status_note": data.note,
        "status_updated_at": data.updated_at,
        "status_updated_by": data.updated_by,
        "status_updated_by_name": data.updated_by_name,
    }
    status_changed = False
    if record is None:
        record = ApprovalRequestRecord(
            workspace_id=workspace_id,
            clockify_id=data.clockify_id,
            tracked_seconds=0,
            billable_seconds=0,
            break_seconds=0,
            expense_total=0.0,
            has_details=False,
            **status,
        )
        db.session.add(record)  # two workers inserting one request at once: the loser's event is retried
    elif _is_newer(data.updated_at, record.status_updated_at) and any(
        getattr(record, name) != value for name, value in status.items()
    ):
        _set_status_if_newer(record, data.updated_at, status)
        status_changed = True  # this change, or a newer one written meanwhile: either way the row moved
    record.user_id = data.user_id
    record.user_name = data.user_name or record.user_name
    record.period_start = data.period_start
    record.period_end = data.period_end
    if details is not None:
        record.tracked_seconds = parse_duration(details.get("trackedTime"))
        record.billable_seconds = parse_duration(details.get("billableTime"))
        record.break_seconds = parse_duration(details.get("breakTime"))
        record.expense_total = _money(details.get("expenseTotal"))
        record.entry_stats = entry_stats(details.get("entries"), data.time_zone)
        record.has_details = True
    # queue_version follows synced_at, and every open tab reloads when it moves: only a real change may.
    if record.synced_at is None or status_changed or db.session.is_modified(record):
        record.synced_at = utcnow()
    return record


def _set_status_if_newer(record: ApprovalRequestRecord, updated_at: datetime | None, status: dict[str, Any]) -> None:
    """Write the status in the database only if it is still newer there, then read back what it holds.

    The row read earlier may be stale: another worker can have applied a newer change of the same
    request since. The condition is checked by the UPDATE itself (PostgreSQL re-reads a row another
    transaction changed before updating it), so an older change never lands after a newer one.
    """
    column = ApprovalRequestRecord.status_updated_at
    still_newer = column.is_(None) if updated_at is None else sa.or_(column.is_(None), column <= updated_at)
    db.session.execute(
        sa.update(ApprovalRequestRecord)
        .where(ApprovalRequestRecord.id == record.id, still_newer)
        .values(**status)
        .execution_options(synchronize_session=False)
    )
    # The row as the database now has it: this change, or a newer one another worker applied first.
    db.session.refresh(record, list(status))


def _is_newer(incoming: datetime | None, stored: datetime | None) -> bool:
    if stored is None:
        return True
    if incoming is None:
        return False
    return incoming >= stored


def fetch_requests(client: Any, since: date) -> list[tuple[RequestData, dict[str, Any]]]:
    """Every approval request (with its totals and entries) whose period ends on or after `since`.

    The listing cannot filter by date (only PENDING/APPROVED/WITHDRAWN_APPROVAL, and rejected ones are
    not listable by status: platform.md quirk 5), so it is read unfiltered, newest period first, and
    reading stops at the first item that ends before `since`. Only Clockify calls: nothing is written.
    """
    fetched: list[tuple[RequestData, dict[str, Any]]] = []
    for item in client.iter_approval_requests(sort_column="START", sort_order="DESCENDING", page_size=200):
        details = _raw(item)
        data = parse_request(details.get("approvalRequest") or details)
        if data is None:
            continue
        if data.period_end < since:
            break
        fetched.append((data, details))
    return fetched


def store_requests(workspace_id: str, fetched: list[tuple[RequestData, dict[str, Any]]]) -> int:
    for data, details in fetched:
        record_request(workspace_id, data, details)
    db.session.flush()
    return len(fetched)


def _raw(item: Any) -> dict[str, Any]:
    """The JSON object behind a client payload (the client's dataclasses keep it as `.raw`)."""
    raw = getattr(item, "raw", item)
    return raw if isinstance(raw, dict) else {}


def find_request_details(client: Any, request_id: str, period_start: date) -> dict[str, Any] | None:
    """The listing item (with entries and totals) of one request: the API has no read by id."""
    for item in client.iter_approval_requests(sort_column="START", sort_order="DESCENDING", page_size=200):
        details = _raw(item)
        data = parse_request(details.get("approvalRequest") or details)
        if data is None:
            continue
        if data.clockify_id == request_id:
            return details
        if data.period_end < period_start:
            return None
    return None


# --- who is who: users and groups, cached briefly ------------------------------------------------


@dataclass
class Directory:
    """Users and user groups of a workspace, read once and shared by the queue's filters and visibility."""

    users: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]

    def name(self, user_id: str) -> str | None:
        return _text(self.users.get(user_id, {}).get("name"))

    def is_active(self, user_id: str) -> bool:
        user = self.users.get(user_id, {})
        status = user.get("status")
        if status is None:
            memberships = [m for m in user.get("memberships") or [] if isinstance(m, dict)]
            status = next((m.get("membershipStatus") for m in memberships), "ACTIVE")
        return str(status or "ACTIVE").upper() == "ACTIVE"

    def groups_of(self, user_id: str) -> list[dict[str, Any]]:
        return [g for g in self.groups if user_id in (g.get("userIds") or [])]

    def managers_of(self, user_id: str) -> list[dict[str, Any]]:
        managers: dict[str, dict[str, Any]] = {}
        for group in self.groups_of(user_id):
            for manager in group.get("teamManagers") or []:
                if isinstance(manager, dict) and manager.get("id") and manager["id"] != user_id:
                    managers[manager["id"]] = manager
        return list(managers.values())

    def managed_by(self, manager_id: str) -> set[str]:
        members: set[str] = set()
        for group in self.groups:
            ids = {m.get("id") for m in group.get("teamManagers") or [] if isinstance(m, dict)}
            if manager_id in ids:
                members.update(u for u in group.get("userIds") or [] if isinstance(u, str))
        members.discard(manager_id)
        return members

    def all_managers(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for group in self.groups:
            for manager in group.get("teamManagers") or []:
                if isinstance(manager, dict) and manager.get("id"):
                    seen[manager["id"]] = manager
        return sorted(seen.values(), key=lambda m: str(m.get("name") or ""))


_directory_cache: dict[tuple[str, str], tuple[float, Directory]] = {}
_directory_lock = threading.Lock()


def cache_key_for(installation: Installation) -> str:
    """Cached reads belong to one installation: a reinstall (or another API host) reads afresh."""
    return f"{installation.api_url}|{installation.installed_at.isoformat() if installation.installed_at else ''}"


def load_directory(workspace_id: str, client: Any, cache_key: str = "", *, fresh: bool = False) -> Directory:
    """Users and groups (with their team managers), cached for a minute per workspace and API host."""
    key = (cache_key, workspace_id)
    now = time.monotonic()
    with _directory_lock:
        cached = _directory_cache.get(key)
    if cached and not fresh and now - cached[0] < DIRECTORY_TTL_SECONDS:
        return cached[1]
    users: dict[str, dict[str, Any]] = {}
    for user in client.iter_users(memberships="WORKSPACE"):
        raw = _raw(user)
        if isinstance(raw.get("id"), str):
            users[raw["id"]] = raw
    groups = [_raw(g) for g in client.iter_user_groups(include_team_managers=True)]
    directory = Directory(users=users, groups=groups)
    with _directory_lock:
        _directory_cache[key] = (now, directory)
    return directory


def forget_directory(workspace_id: str) -> None:
    """Drop the cached users, groups and scheduled totals of a workspace (they are read again on next use)."""
    with _directory_lock:
        for key in [k for k in _directory_cache if k[1] == workspace_id]:
            _directory_cache.pop(key, None)
        for scheduled_key in [k for k in _scheduled_cache if k[1] == workspace_id]:
            _scheduled_cache.pop(scheduled_key, None)


# --- who sees what -------------------------------------------------------------------------------


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


# --- the queue -----------------------------------------------------------------------------------


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


def scheduled_seconds(client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """Every user's scheduled seconds in the period: the scheduling totals for all users, 200 per call."""
    start, end = period.utc_bounds(time_zone)
    totals: dict[str, int] = {}
    for item in client.iter_users_totals(start, end - timedelta(milliseconds=1)):
        item = _dict(item)
        user_id = item.get("userId")
        if not isinstance(user_id, str):
            continue
        hours = sum(_money(_dict(day).get("totalHours")) for day in item.get("totalHoursPerDay") or [])
        totals[user_id] = totals.get(user_id, 0) + round(hours * 3600)
    return totals


_scheduled_cache: dict[tuple[str, str, str], tuple[float, dict[str, int]]] = {}


def cached_scheduled_seconds(installation: Installation, client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """scheduled_seconds, kept for a minute per workspace and period (the queue re-renders often)."""
    key = (cache_key_for(installation), installation.workspace_id, f"{period.key}/{period.end}/{time_zone}")
    now = time.monotonic()
    with _directory_lock:
        cached = _scheduled_cache.get(key)
    if cached and now - cached[0] < DIRECTORY_TTL_SECONDS:
        return cached[1]
    totals = scheduled_seconds(client, period, time_zone)
    with _directory_lock:
        _scheduled_cache[key] = (now, totals)
    return totals


def queue_version(workspace_id: str) -> str:
    """Changes whenever a request in the mirror or a decision job changes: what an open tab polls."""
    synced = db.session.scalar(
        sa.select(sa.func.max(ApprovalRequestRecord.synced_at)).where(
            ApprovalRequestRecord.workspace_id == workspace_id
        )
    )
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApprovalRequestRecord)
        .where(ApprovalRequestRecord.workspace_id == workspace_id)
    )
    stamp = synced.timestamp() if synced else 0
    return f"{count or 0}-{stamp:.6f}"


# --- missing submissions -------------------------------------------------------------------------


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


def tracked_by_user(client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """Tracked seconds per user in the period, from one summary report grouped by user."""
    start, end = period.utc_bounds(time_zone)
    report = client.summary_report(start, end - timedelta(milliseconds=1), groups=("USER",))
    totals: dict[str, int] = {}
    for group in _dict(report).get("groupOne") or []:
        group = _dict(group)
        user_id = group.get("_id") or group.get("id")
        if isinstance(user_id, str):
            # Report durations are seconds (platform.md appendix), unlike the PT… of other endpoints.
            totals[user_id] = totals.get(user_id, 0) + int(_money(group.get("duration")))
    return totals


# --- decisions -----------------------------------------------------------------------------------


def clean_note(note: Any) -> str:
    return str(note or "").strip()[:NOTE_MAX]


def start_decisions(
    workspace_id: str,
    viewer: Viewer,
    scope: Scope,
    action: str,
    request_ids: Iterable[str],
    note: Any,
) -> DecisionJob:
    """Check a decision on many requests and queue it; the job runs in the background."""
    if action not in TARGET_STATE:
        raise ApprovalError("Unknown decision.", 400)
    # Withdrawing someone's approval overrides a decision already made: owners and admins only.
    if action == "withdraw" and not scope.can_decide_all:
        raise ApprovalError("Only workspace owners and admins can withdraw an approval.", 403)
    text = clean_note(note)
    if action == "reject" and not text:
        raise ApprovalError("Write a note saying why before rejecting.")
    ids = list(dict.fromkeys(i for i in request_ids if isinstance(i, str) and i))[:5000]
    if not ids:
        raise ApprovalError("Select at least one request.")
    records = {
        r.clockify_id: r
        for r in db.session.scalars(
            sa.select(ApprovalRequestRecord).where(
                ApprovalRequestRecord.workspace_id == workspace_id, ApprovalRequestRecord.clockify_id.in_(ids)
            )
        )
    }
    # Unknown ids and requests of people outside the viewer's teams are refused alike, so a crafted
    # call learns nothing about which ids exist.
    refused = [i for i in ids if i not in records or not scope.may_decide(records[i].user_id)]
    if refused:
        raise ApprovalError("You can only decide requests of people you manage.", 403)
    wrong_state = [records[i] for i in ids if records[i].state != REQUIRED_STATE[action]]
    if wrong_state:
        names = ", ".join(sorted({r.user_name or r.user_id for r in wrong_state})[:5])
        raise ApprovalError(
            f"{len(wrong_state)} selected request(s) are not {REQUIRED_STATE[action].lower()} ({names}); "
            "refresh and select again."
        )
    job = DecisionJob(
        workspace_id=workspace_id,
        actor_user_id=viewer.user_id,
        actor_name=viewer.name,
        action=action,
        note=text or None,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    for request_id in ids:
        record = records[request_id]
        db.session.add(
            DecisionItem(
                workspace_id=workspace_id,
                job_id=job.id,
                subject_id=request_id,
                subject_name=record.user_name or record.user_id,
                status="pending",
                attempts=0,
            )
        )
    db.session.flush()
    return job


def start_submissions(
    workspace_id: str, viewer: Viewer, scope: Scope, period: Period, user_ids: Iterable[str], directory: Directory
) -> DecisionJob:
    """Queue "submit on behalf" for users who have not submitted the period."""
    ids = list(dict.fromkeys(i for i in user_ids if isinstance(i, str) and i))[:5000]
    if not ids:
        raise ApprovalError("Select at least one person.")
    if any(not scope.may_decide(u) or u not in directory.users for u in ids):
        raise ApprovalError("You can only submit for people you manage.", 403)
    job = DecisionJob(
        workspace_id=workspace_id,
        actor_user_id=viewer.user_id,
        actor_name=viewer.name,
        action="submit",
        period_start=period.start,
        period_kind=period.kind,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    for user_id in ids:
        db.session.add(
            DecisionItem(
                workspace_id=workspace_id,
                job_id=job.id,
                subject_id=user_id,
                subject_name=directory.name(user_id) or user_id,
                status="pending",
                attempts=0,
            )
        )
    db.session.flush()
    return job


def retry_failed(workspace_id: str, job_id: int, viewer: Viewer, scope: Scope) -> DecisionJob:
    """Put a job's failed items back in the queue (its decider or an admin may)."""
    job = get_job(workspace_id, job_id)
    if not scope.can_decide_all and job.actor_user_id != viewer.user_id:
        raise ApprovalError("You can only retry your own decisions.", 403)
    if job.status != "done":
        raise ApprovalError("This job is still running.", 409)
    failed = _items(job, "failed")
    if not failed:
        raise ApprovalError("Nothing failed; there is nothing to retry.", 409)
    if not scope.can_decide_all and not all(scope.may_decide(u) for u in _subject_users(workspace_id, job, failed)):
        # Teams change: a manager may no longer manage someone a failed item was about.
        raise ApprovalError("You can only retry decisions about people you manage.", 403)
    for item in failed:
        item.status = "pending"
        item.error = None
    job.status = "queued"
    job.finished_at = None
    db.session.flush()
    return job


def _subject_users(workspace_id: str, job: DecisionJob, items: list[DecisionItem]) -> list[str]:
    """Whose timesheets the items are about: the users themselves for submissions, else the requests' owners."""
    subjects = [item.subject_id for item in items]
    if job.action == "submit":
        return list(subjects)
    owners = dict(
        db.session.execute(
            sa.select(ApprovalRequestRecord.clockify_id, ApprovalRequestRecord.user_id).where(
                ApprovalRequestRecord.workspace_id == workspace_id, ApprovalRequestRecord.clockify_id.in_(subjects)
            )
        ).tuples()
    )
    return [owners.get(subject) or "" for subject in subjects]


def get_job(workspace_id: str, job_id: int) -> DecisionJob:
    job = db.session.scalar(sa.select(DecisionJob).filter_by(workspace_id=workspace_id, id=job_id))
    if job is None:
        raise ApprovalError("That decision job does not exist.", 404)
    return job


def _items(job: DecisionJob, status: str | None = None) -> list[DecisionItem]:
    query = sa.select(DecisionItem).filter_by(job_id=job.id).order_by(DecisionItem.id)
    if status:
        query = query.filter_by(status=status)
    return list(db.session.scalars(query))


@dataclass
class JobProgress:
    job: DecisionJob
    total: int
    done: int
    failed: int
    pending: int
    failures: list[DecisionItem]

    @property
    def finished(self) -> bool:
        return self.job.status == "done"

    @property
    def percent(self) -> int:
        return int(100 * (self.done + self.failed) / self.total) if self.total else 100


def job_progress(workspace_id: str, job_id: int) -> JobProgress:
    job = get_job(workspace_id, job_id)
    items = _items(job)
    return JobProgress(
        job=job,
        total=len(items),
        done=sum(1 for i in items if i.status == "done"),
        failed=sum(1 for i in items if i.status == "failed"),
        pending=sum(1 for i in items if i.status in ("pending", "running")),
        failures=[i for i in items if i.status == "failed"],
    )


# A job with no progress for this long lost its worker (a restart drops huey's in-flight task).
STALL_SECONDS = 300


def release_if_stalled(job: DecisionJob, now: datetime | None = None) -> bool:
    """Give a stalled job's claimed items back and say it must be queued again (False: it is moving)."""
    if job.status == "done":
        return False
    items = _items(job)
    moments = [i.finished_at for i in items if i.finished_at is not None] + [job.created_at]
    if ((now or utcnow()) - max(moments)).total_seconds() < STALL_SECONDS:
        return False
    for item in items:
        if item.status == "running":
            item.status = "pending"
    job.created_at = now or utcnow()  # restarts the stall clock so one poll re-queues it once
    return True


def resume_if_stalled(job: DecisionJob, now: datetime | None = None) -> bool:
    """Queue a stalled job again (committing its released items first); True when it was stalled."""
    if not release_if_stalled(job, now):
        return False
    db.session.commit()
    from ..jobs import run_in_background

    log.warning("decision job %s of %s stalled; queued again", job.id, job.workspace_id)
    run_in_background("addon.services.approvals:run_decision_job", job.id)
    return True


@sweeper
def resume_stalled_jobs(now: datetime | None = None) -> list[int]:
    """Every minute, queue again the unfinished decision jobs that stopped moving, whether or not a tab
    is open to notice (a worker restart drops huey's in-flight task)."""
    unfinished = db.session.scalars(
        sa.select(DecisionJob).where(DecisionJob.status != "done").order_by(DecisionJob.id)
    ).all()
    return [job.id for job in unfinished if resume_if_stalled(job, now)]


def next_item(job: DecisionJob) -> DecisionItem | None:
    """Claim the job's next pending item (atomically: two runs of one job never decide an item twice)."""
    while True:
        item = db.session.scalar(
            sa.select(DecisionItem).filter_by(job_id=job.id, status="pending").order_by(DecisionItem.id).limit(1)
        )
        if item is None:
            return None
        claimed = db.session.execute(
            sa.update(DecisionItem)
            .where(DecisionItem.id == item.id, DecisionItem.status == "pending")
            .values(status="running")
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            db.session.refresh(item)
            return item


def apply_item(job: DecisionJob, item: DecisionItem, client: Any, acted_as: str) -> None:
    """Make one decision (or submission) in Clockify and record its result, mirror row and audit entry.

    Raises the client's errors; the caller records them on the item with `fail_item`.
    """
    item.attempts += 1
    if job.action == "submit":
        assert job.period_start is not None
        period_start = datetime.combine(job.period_start, datetime.min.time(), tzinfo=UTC)
        response = client.submit_approval_request_for_user(
            item.subject_id, period=job.period_kind or "WEEKLY", period_start=period_start
        )
    else:
        note = job.note
        response = client.update_approval_request(item.subject_id, state=TARGET_STATE[job.action], note=note)
    data = parse_request(response)
    if data is not None:
        record_request(job.workspace_id, data)
    item.status = "done"
    item.error = None
    item.acted_as = acted_as
    item.finished_at = utcnow()
    _audit(
        job,
        item,
        f"approval.{job.action}",
        {
            "note": job.note,
            "job": job.id,
            "acted_as": acted_as,
            "subject_name": item.subject_name,
            "state": data.state if data else None,
        },
    )


def fail_item(job: DecisionJob, item: DecisionItem, message: str) -> None:
    item.status = "failed"
    item.error = message[:500]
    item.finished_at = utcnow()
    _audit(job, item, f"approval.{job.action}.failed", {"error": item.error, "job": job.id})


def _audit(job: DecisionJob, item: DecisionItem, action: str, detail: dict[str, Any]) -> None:
    """One audit entry for one item of a decision job, in the decider's name."""
    db.session.add(
        AuditEntry(
            workspace_id=job.workspace_id,
            actor_user_id=job.actor_user_id,
            actor_name=job.actor_name,
            action=action,
            subject_type="user" if job.action == "submit" else "approval_request",
            subject_id=item.subject_id,
            detail=detail,
        )
    )


def finish_job(job: DecisionJob) -> None:
    job.status = "done"
    job.finished_at = utcnow()
    # The decider's token is only needed while the job runs.
    job.user_token_ciphertext = None


def recent_jobs(workspace_id: str, viewer: Viewer, scope: Scope, limit: int = 5) -> list[DecisionJob]:
    """The latest decision jobs: all of them for admins, one's own for everyone else."""
    query = sa.select(DecisionJob).filter_by(workspace_id=workspace_id)
    if not scope.can_decide_all:
        query = query.filter_by(actor_user_id=viewer.user_id)
    return list(db.session.scalars(query.order_by(DecisionJob.id.desc()).limit(limit)))


def audit_log(workspace_id: str, viewer: Viewer, scope: Scope, limit: int = 30) -> list[AuditEntry]:
    """Approval decisions made through Closeout, newest first: admins see all, others their own."""
    query = sa.select(AuditEntry).where(AuditEntry.workspace_id == workspace_id, AuditEntry.action.like("approval.%"))
    if not scope.can_decide_all:
        query = query.where(AuditEntry.actor_user_id == viewer.user_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


# --- the background job ----------------------------------------------------------------------------

# Seconds a stored user token must still be valid for Closeout to decide with it rather than the
# installation token.
TOKEN_MARGIN_SECONDS = 15


def store_user_token(job: DecisionJob, token: str | None) -> None:
    """Keep the decider's newest token on a running job (the tab sends a fresh one on every poll)."""
    if job.status == "done" or not token:
        return
    # The tab polls every second: write only when the token really changed (about every 30 minutes).
    if job.user_token_ciphertext:
        try:
            if same_secret(decrypt(job.user_token_ciphertext), token):
                return
        except DecryptionError:
            pass
    job.user_token_ciphertext = encrypt(token)


def run_decision_job(job_id: int) -> None:
    """Background task body: decide every pending item of a job, committing after each so the tab sees progress.

    Decisions are made with the decider's own token while it is valid, so Clockify records the real
    approver; when it has expired (and the tab has not sent a fresh one) the installation token, which
    acts as the workspace owner, finishes the job and the audit entry says so. Safe to run again: only
    pending items are taken.
    """
    from flask import current_app

    config = current_app.config
    job = db.session.get(DecisionJob, job_id)
    if job is None or job.status == "done":
        return
    installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=job.workspace_id))
    if installation is None or not installation.is_active:
        for waiting in _items(job, "pending"):
            fail_item(job, waiting, "Closeout is paused or removed on this workspace")
        finish_job(job)
        db.session.commit()
        return
    job.status = "running"
    db.session.commit()
    clients = _JobClients(job, installation, config)
    pace = float(config.get("APPROVAL_JOB_PACE_SECONDS", 0) or 0)
    try:
        while True:
            db.session.refresh(job)
            item = next_item(job)
            db.session.commit()  # the claim is visible to any other run before Clockify is called
            if item is None:
                break
            user_client_ = clients.for_user()
            try:
                if user_client_ is not None:
                    try:
                        apply_item(job, item, user_client_, "user")
                    except UnauthorizedError:
                        # The token expired between the check and the call. Closeout already checked the
                        # decider may decide this request, so the installation's token finishes it.
                        item.attempts -= 1
                        apply_item(job, item, clients.for_installation(), "installation")
                else:
                    apply_item(job, item, clients.for_installation(), "installation")
            except ClockifyError as exc:
                # Rollback expires (not detaches) the job and item: they reload as committed.
                db.session.rollback()
                fail_item(job, item, decision_error_message(exc))
            db.session.commit()
            if pace:
                time.sleep(pace)
    finally:
        clients.close()
    # Another run of the same job may still be deciding its claimed item: the last one out finishes it.
    if not _items(job, "running"):
        finish_job(job)
        log.info(
            "workspace %s: decision job %s (%s) finished: %d done, %d failed",
            job.workspace_id,
            job.id,
            job.action,
            len(_items(job, "done")),
            len(_items(job, "failed")),
        )
    db.session.commit()


class _JobClients:
    """The Clockify clients a job decides with: the decider's (rebuilt when the tab hands over a fresh
    token) and the installation's, each made once."""

    def __init__(self, job: DecisionJob, installation: Installation, config: Any) -> None:
        self.job = job
        self.installation = installation
        self.config = config
        # (token ciphertext, client or None, token expiry as a Unix time)
        self._user: tuple[str, Any, float] | None = None
        self._installation: Any = None

    def for_installation(self) -> Any:
        if self._installation is None:
            self._installation = client_for(self.installation, self.config)
        return self._installation

    def for_user(self) -> Any:
        ciphertext = self.job.user_token_ciphertext
        if not ciphertext:
            return None
        if self._user is None or self._user[0] != ciphertext:
            if self._user is not None and self._user[1] is not None:
                self._user[1].close()
            made = _user_client_for(self.job, self.installation, self.config)
            self._user = (ciphertext, *(made or (None, 0.0)))
        _, client, expires = self._user
        return client if client is not None and expires - time.time() >= TOKEN_MARGIN_SECONDS else None

    def close(self) -> None:
        for client in (self._installation, self._user[1] if self._user else None):
            if client is not None:
                client.close()


def _user_client_for(job: DecisionJob, installation: Installation, config: Any) -> tuple[Any, float] | None:
    """The decider's client and its token's expiry, or None when the stored token is unusable."""
    if not job.user_token_ciphertext:
        return None
    try:
        token = decrypt(job.user_token_ciphertext)
    except DecryptionError:
        return None
    try:
        claims = verify_token(token, key=public_key(), addon_key=config["ADDON_KEY"], leeway=0)
    except AuthError:
        return None
    if float(claims.get("exp") or 0) - time.time() < TOKEN_MARGIN_SECONDS:
        return None
    if claims.get("workspaceId") != job.workspace_id:
        return None
    ctx = TokenContext(
        kind=TokenKind.USER,
        claims=claims,
        token=token,
        workspace_id=claims.get("workspaceId"),
        addon_id=claims.get("addonId"),
    )
    return user_client(ctx, installation, config), float(claims.get("exp") or 0)


def decision_error_message(exc: Exception) -> str:
    """What a person reads beside a failed decision: Clockify's reason, never a trace or a token."""
    if isinstance(exc, ForbiddenError):
        return "Approvals need a Standard plan or higher, or the decider may not approve this person."
    if isinstance(exc, NotFoundError):
        return "Clockify no longer has this request."
    if isinstance(exc, RateLimitedError):
        return "Clockify asked Closeout to slow down; retry in a minute."
    if isinstance(exc, TransportError):
        return "Clockify could not be reached; retry to try again."
    message = getattr(exc, "message", "") or "Clockify refused the decision"
    return f"Clockify refused: {message}"[:500]


# --- the approval period of a workspace ------------------------------------------------------------


def infer_period_kind(workspace_id: str) -> tuple[str, str]:
    """The workspace's approval period (kind, week start), read from its latest request.

    Clockify's API does not expose the approval-period setting; every request spans exactly one period,
    so the latest one tells it. Before any request exists: weekly from Monday.
    """
    record = db.session.scalar(
        sa.select(ApprovalRequestRecord)
        .filter_by(workspace_id=workspace_id)
        .order_by(ApprovalRequestRecord.period_start.desc())
        .limit(1)
    )
    if record is None:
        return "WEEKLY", "MONDAY"
    return kind_of_request(record.period_start, record.period_end)


def choose_period(
    workspace_id: str, value: str | None, today: date, *, kind: str | None = None, week_start: str | None = None
) -> Period:
    """The period asked for (an ISO date inside it), else the last closed one.

    `kind` is the workspace's approval period when Clockify told it; otherwise the latest request tells.
    """
    inferred_kind, inferred_week_start = infer_period_kind(workspace_id)
    if kind is None:
        kind, week_start = inferred_kind, inferred_week_start if inferred_kind == "WEEKLY" else (week_start or "MONDAY")
    week_start = week_start or "MONDAY"
    try:
        chosen = parse_period(value, kind, week_start)
    except ValueError:
        chosen = None
    return chosen or last_closed_period(today, kind, week_start)


# --- webhooks and reconciliation ---------------------------------------------------------------------


@on("NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED")
def on_approval_request(ctx: EventContext) -> None:
    """Mirror the request (never regressing its state); a new pending request goes through auto-approval."""
    data = parse_request(ctx.payload)
    if data is None:
        log.info("workspace %s: %s without a usable request; ignored", ctx.workspace_id, ctx.event_type)
        return
    if ctx.event_type == "NEW_APPROVAL_REQUEST" and data.state == "PENDING":
        from . import auto_approval

        rules = auto_approval.rules_for(ctx.workspace_id)
        if rules.enabled and not auto_approval.already_decided(ctx.workspace_id, data.clockify_id):
            client = ctx.client_factory()
            details = find_request_details(client, data.clockify_id, data.period_start)
            fetched = [(data, details)] if details is not None else []
            if fetched:
                auto_approval.run(ctx.installation, client, fetched, rules, trigger="webhook")
                return
    record_request(ctx.workspace_id, data)


@reconciler
def reconcile_approvals(installation: Installation, client: Any) -> None:
    """Refresh the mirror for the recent periods and evaluate pending requests not yet evaluated."""
    from . import auto_approval

    since = date.today() - timedelta(days=RECONCILE_DAYS)
    fetched = fetch_requests(client, since)
    rules = auto_approval.rules_for(installation.workspace_id)
    if rules.enabled:
        decided = auto_approval.decided_ids(
            installation.workspace_id, [data.clockify_id for data, _ in fetched if data.state == "PENDING"]
        )
        pending = [
            (data, details) for data, details in fetched if data.state == "PENDING" and data.clockify_id not in decided
        ]
        if pending:
            auto_approval.run(installation, client, pending, rules, trigger="reconciliation")
    store_requests(installation.workspace_id, fetched)
