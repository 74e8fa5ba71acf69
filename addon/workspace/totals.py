"""The one reader of scheduled, tracked and unbilled figures that approvals, dashboard, billing and scheduling share.

Each figure is one paged or grouped read for the whole workspace, never a call per person: the scheduling
totals of all users (scheduled hours and capacity), a summary report grouped by user (tracked) and one grouped
by client (approved, billable, uninvoiced).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..clockify.payloads import Expense, TimeEntry, as_dict, number, parse_datetime
from ..extensions import BoundedCache
from ..platform.models import Installation
from .directory import DIRECTORY_TTL_SECONDS, cache_key_for
from .periods import WEEKDAYS, Period

# The reports API's filter for "time Closeout may bill": approved, billable and not yet invoiced.
BILLABLE_APPROVED = {"approvalState": "APPROVED", "invoicingState": "UNINVOICED", "billable": True}
# Billable, uninvoiced time nobody has approved yet: shown beside what may be billed, never counted in it.
AWAITING_APPROVAL = {"approvalState": "UNAPPROVED", "invoicingState": "UNINVOICED", "billable": True}


@dataclass(frozen=True)
class ScheduledPerson:
    name: str | None
    status: str | None
    scheduled: int  # seconds
    capacity: int  # seconds, capacity per day times the person's working days in the period


def scheduled_by_user(client: Any, period: Period, bounds: tuple[datetime, datetime]) -> dict[str, ScheduledPerson]:
    """Scheduled and capacity seconds per user in the period, from the scheduling totals of all users."""
    start, end = bounds
    people: dict[str, ScheduledPerson] = {}
    for item in client.iter_users_totals(start, end - timedelta(milliseconds=1)):
        item = as_dict(item)
        user_id = item.get("userId")
        if not isinstance(user_id, str):
            continue
        hours = sum(number(as_dict(day).get("totalHours")) for day in item.get("totalHoursPerDay") or [])
        working = {str(d).upper() for d in item.get("workingDays") or WEEKDAYS[:5]}
        days = sum(1 for day in period.days if WEEKDAYS[day.weekday()] in working)
        before = people.get(user_id)
        people[user_id] = ScheduledPerson(
            name=item.get("userName"),
            status=item.get("userStatus"),
            scheduled=round(hours * 3600) + (before.scheduled if before else 0),
            capacity=capacity_per_day_seconds(item.get("capacityPerDay")) * days,
        )
    return people


def capacity_per_day_seconds(value: Any) -> int:
    """`capacityPerDay` in seconds.

    The reference documents seconds ("For a 7hr work day, value is 25200", SchedulingUsersTotalsDtoV1); the
    sandbox answers hours. No working day is 24 seconds long nor longer than 24 hours, so a value up to 24
    is read as hours.
    """
    amount = number(value)
    return round(amount * 3600) if 0 < amount <= 24 else max(0, round(amount))


def working_days_of(value: Any) -> frozenset[str]:
    """`workingDays` as a set of weekday names; the reference types it as a JSON-encoded string of names."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [d for d in text.split(",") if d.strip()]
        except ValueError:
            value = []
    days = frozenset(str(d).strip().upper() for d in value or () if str(d).strip().upper() in WEEKDAYS)
    return days or frozenset(WEEKDAYS[:5])


@dataclass(frozen=True)
class PersonCapacity:
    """One person's schedule facts for a range, from the scheduling totals of all users."""

    user_id: str
    name: str | None
    status: str | None
    capacity_per_day: int  # seconds on each working day, before holidays and time off
    working_days: frozenset[str]
    scheduled_by_day: dict[date, int]  # seconds as Clockify totals them

    def works_on(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.working_days


def people_capacity(client: Any, first: date, last: date) -> dict[str, PersonCapacity]:
    """Capacity per day, working days and scheduled seconds per day of every user: one call per 200 people."""
    people: dict[str, PersonCapacity] = {}
    end = datetime.combine(last + timedelta(days=1), datetime.min.time()) - timedelta(milliseconds=1)
    for item in client.iter_users_totals(first, end):
        item = as_dict(item)
        user_id = item.get("userId")
        if not isinstance(user_id, str) or not user_id:
            continue
        per_day: dict[date, int] = {}
        for day in item.get("totalHoursPerDay") or []:
            day = as_dict(day)
            when = parse_datetime(day.get("date"))
            if when is not None:
                per_day[when.date()] = per_day.get(when.date(), 0) + round(number(day.get("totalHours")) * 3600)
        people[user_id] = PersonCapacity(
            user_id=user_id,
            name=item.get("userName") if isinstance(item.get("userName"), str) else None,
            status=item.get("userStatus") if isinstance(item.get("userStatus"), str) else None,
            capacity_per_day=capacity_per_day_seconds(item.get("capacityPerDay")),
            working_days=working_days_of(item.get("workingDays")),
            scheduled_by_day=per_day,
        )
    return people


@dataclass(frozen=True)
class Booking:
    """One assignment as the scheduling API lists it: whom, which project, which days, how many hours a day."""

    id: str
    user_id: str
    project_id: str
    project_name: str
    client_name: str
    start: date
    end: date
    seconds_per_day: int
    published: bool
    note: str


def bookings_in(client: Any, first: date, last: date) -> list[Booking]:
    """Every assignment overlapping [first, last], published or not: one call per page of 200."""
    end = datetime.combine(last + timedelta(days=1), datetime.min.time()) - timedelta(milliseconds=1)
    found: dict[str, Booking] = {}
    for assignment in client.iter_assignments(first, end, sort_column="ID"):
        raw = assignment.raw
        if not assignment.id or not assignment.user_id or assignment.start is None:
            continue
        # Assignment periods are calendar days stamped at UTC midnight (API reference, AssignmentPeriod).
        start = assignment.start.date()
        finish = assignment.end.date() if assignment.end is not None else start
        found[assignment.id] = Booking(
            id=assignment.id,
            user_id=assignment.user_id,
            project_id=assignment.project_id or "",
            project_name=str(raw.get("projectName") or ""),
            client_name=str(raw.get("clientName") or ""),
            start=start,
            end=max(start, finish),
            seconds_per_day=round((assignment.hours_per_day or 0.0) * 3600),
            published=assignment.published,
            note=str(raw.get("note") or ""),
        )
    return list(found.values())


@dataclass(frozen=True)
class TrackedEntry:
    user_id: str
    project_id: str
    project_name: str
    start: datetime
    seconds: int


def tracked_entries(client: Any, bounds: tuple[datetime, datetime]) -> Iterator[TrackedEntry]:
    """Every time entry started in [start, end), from the detailed report: one call per page of 1000 entries."""
    start, end = bounds
    for entry in client.iter_detailed_report(start, end - timedelta(milliseconds=1)):
        if not entry.user_id or entry.start is None:
            continue
        raw = entry.raw
        yield TrackedEntry(
            user_id=entry.user_id,
            project_id=entry.project_id or "",
            project_name=str(raw.get("projectName") or ""),
            start=entry.start,
            seconds=max(0, entry.duration_seconds or 0),
        )


def scheduled_seconds(client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """Every user's scheduled seconds in the period."""
    people = scheduled_by_user(client, period, period.utc_bounds(time_zone))
    return {user_id: person.scheduled for user_id, person in people.items()}


# Kept per process for a minute, for the most recently used workspaces, periods and zones only.
_scheduled_cache: BoundedCache[tuple[str, str, str], dict[str, int]] = BoundedCache(
    1024, DIRECTORY_TTL_SECONDS, workspace_of=lambda key, _value: key[1]
)


def cached_scheduled_seconds(installation: Installation, client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """scheduled_seconds, kept for a minute per workspace and period (the approvals queue re-renders often)."""
    return scheduled_seconds_cached_as(
        cache_key_for(installation), installation.workspace_id, client, period, time_zone
    )


def scheduled_seconds_cached_as(
    cache_key: str, workspace_id: str, client: Any, period: Period, time_zone: str
) -> dict[str, int]:
    """cached_scheduled_seconds given the installation's cache key: touches no database row, so it may run in
    a thread of its own beside the request."""
    key = (cache_key, workspace_id, f"{period.key}/{period.end}/{time_zone}")
    cached = _scheduled_cache.get(key)
    if cached is not None:
        return cached
    totals = scheduled_seconds(client, period, time_zone)
    _scheduled_cache.put(key, totals)
    return totals


def forget_scheduled(workspace_ids: Iterable[str]) -> None:
    """Drop cached scheduled totals of workspaces (DELETED, a reinstall)."""
    for workspace_id in set(workspace_ids):
        _scheduled_cache.forget_workspace(workspace_id)


@dataclass(frozen=True)
class TrackedPerson:
    name: str | None
    tracked: int  # seconds


def tracked_people(client: Any, bounds: tuple[datetime, datetime]) -> dict[str, TrackedPerson]:
    """Tracked seconds and names per user in [start, end), from one summary report grouped by user."""
    start, end = bounds
    report = client.summary_report(start, end - timedelta(milliseconds=1), groups=("USER",))
    people: dict[str, TrackedPerson] = {}
    for group in as_dict(report).get("groupOne") or []:
        group = as_dict(group)
        user_id = group.get("_id") or group.get("id")
        if isinstance(user_id, str):
            # Report durations are seconds (docs/clockify.md, reports), unlike the PT… of other endpoints.
            before = people.get(user_id)
            seconds = int(number(group.get("duration"))) + (before.tracked if before else 0)
            people[user_id] = TrackedPerson(group.get("name"), seconds)
    return people


def tracked_by_user(client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """Tracked seconds per user in the period."""
    people = tracked_people(client, period.utc_bounds(time_zone))
    return {user_id: person.tracked for user_id, person in people.items()}


@dataclass(frozen=True)
class Unbilled:
    client_id: str
    name: str
    amount: int  # minor units of the workspace currency
    seconds: int


def unbilled_by_client(
    client: Any, bounds: tuple[datetime, datetime], filters: dict[str, Any] = BILLABLE_APPROVED
) -> list[Unbilled]:
    """Approved, billable, uninvoiced time per Clockify client in [start, end), largest amount first
    (with `filters=AWAITING_APPROVAL`: the billable, uninvoiced time still waiting for approval)."""
    start, end = bounds
    report = client.summary_report(start, end - timedelta(milliseconds=1), groups=("CLIENT",), filters=filters)
    rows = []
    for group in as_dict(report).get("groupOne") or []:
        group = as_dict(group)
        amount = int(number(group.get("amount")))
        seconds = int(number(group.get("duration")))
        if amount <= 0 and seconds <= 0:
            continue
        rows.append(
            Unbilled(group.get("_id") or group.get("id") or "", group.get("name") or "Without client", amount, seconds)
        )
    return sorted(rows, key=lambda row: -row.amount)


def billable_entries(
    client: Any, bounds: tuple[datetime, datetime], *, client_ids: Iterable[str] | None = None
) -> Iterator[TimeEntry]:
    """Every approved, billable, uninvoiced entry in [start, end), optionally of some clients only: one
    detailed report, paged (never a call per entry or per client)."""
    start, end = bounds
    filters: dict[str, Any] = dict(BILLABLE_APPROVED)
    ids = list(client_ids or ())
    if ids:
        filters["clients"] = {"ids": ids, "contains": "CONTAINS", "status": "ALL"}
    yield from client.iter_detailed_report(start, end - timedelta(milliseconds=1), filters=filters)


def tracked_by_project(client: Any, bounds: tuple[datetime, datetime]) -> dict[str, tuple[int, int]]:
    """Tracked (seconds, amount in minor units) per project in [start, end), from one summary report."""
    start, end = bounds
    report = client.summary_report(start, end - timedelta(milliseconds=1), groups=("PROJECT",))
    found: dict[str, tuple[int, int]] = {}
    for group in as_dict(report).get("groupOne") or []:
        group = as_dict(group)
        project_id = group.get("_id") or group.get("id")
        if isinstance(project_id, str) and project_id:
            seconds, amount = found.get(project_id, (0, 0))
            found[project_id] = (
                seconds + int(number(group.get("duration"))),
                amount + int(number(group.get("amount"))),
            )
    return found


def billable_expenses(
    client: Any, bounds: tuple[datetime, datetime], filters: dict[str, Any] = BILLABLE_APPROVED
) -> Iterator[Expense]:
    """Every billable, uninvoiced expense in [start, end) in the approval state `filters` names (approved by
    default; AWAITING_APPROVAL for the rest): the expense report, paged (never a call per client)."""
    start, end = bounds
    yield from client.iter_expense_report(start, end - timedelta(milliseconds=1), filters=dict(filters))
