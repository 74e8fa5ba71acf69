"""The one reader of scheduled, tracked and unbilled figures that approvals, dashboard, billing and scheduling share.

Each figure is one paged or grouped read for the whole workspace, never a call per person: the scheduling
totals of all users (scheduled hours and capacity), a summary report grouped by user (tracked) and one grouped
by client (approved, billable, uninvoiced).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clockify.payloads import Expense, TimeEntry, as_dict, number
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
            capacity=round(number(item.get("capacityPerDay")) * days * 3600),
        )
    return people


def scheduled_seconds(client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """Every user's scheduled seconds in the period."""
    people = scheduled_by_user(client, period, period.utc_bounds(time_zone))
    return {user_id: person.scheduled for user_id, person in people.items()}


_cache_lock = threading.Lock()
_scheduled_cache: dict[tuple[str, str, str], tuple[float, dict[str, int]]] = {}


def cached_scheduled_seconds(installation: Installation, client: Any, period: Period, time_zone: str) -> dict[str, int]:
    """scheduled_seconds, kept for a minute per workspace and period (the approvals queue re-renders often)."""
    key = (cache_key_for(installation), installation.workspace_id, f"{period.key}/{period.end}/{time_zone}")
    now = time.monotonic()
    with _cache_lock:
        cached = _scheduled_cache.get(key)
    if cached and now - cached[0] < DIRECTORY_TTL_SECONDS:
        return cached[1]
    totals = scheduled_seconds(client, period, time_zone)
    with _cache_lock:
        _scheduled_cache[key] = (now, totals)
    return totals


def forget_scheduled(workspace_ids: Iterable[str]) -> None:
    """Drop cached scheduled totals of workspaces (DELETED, a reinstall)."""
    gone = set(workspace_ids)
    with _cache_lock:
        for key in [key for key in _scheduled_cache if key[1] in gone]:
            del _scheduled_cache[key]


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


def billable_expenses(
    client: Any, bounds: tuple[datetime, datetime], filters: dict[str, Any] = BILLABLE_APPROVED
) -> Iterator[Expense]:
    """Every billable, uninvoiced expense in [start, end) in the approval state `filters` names (approved by
    default; AWAITING_APPROVAL for the rest): the expense report, paged (never a call per client)."""
    start, end = bounds
    yield from client.iter_expense_report(start, end - timedelta(milliseconds=1), filters=dict(filters))
