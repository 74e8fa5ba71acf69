"""The one reader of scheduled, tracked and unbilled figures that approvals, dashboard, billing and scheduling share.

Each figure is one paged or grouped read for the whole workspace, never a call per person: the scheduling
totals of all users (scheduled hours and capacity), a summary report grouped by user (tracked) and one grouped
by client (approved, billable, uninvoiced).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clockify.payloads import as_dict
from ..extensions import BoundedCache
from ..platform.models import Installation
from .directory import DIRECTORY_TTL_SECONDS, cache_key_for
from .periods import WEEKDAYS, Period

# The reports API's filter for "time Closeout may bill": approved, billable and not yet invoiced.
BILLABLE_APPROVED = {"approvalState": "APPROVED", "invoicingState": "UNINVOICED", "billable": True}


def number(value: Any) -> float:
    """A number from an API field that may be missing, a string, or junk (0 then); booleans are not numbers."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return 0.0


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


def unbilled_by_client(client: Any, bounds: tuple[datetime, datetime]) -> list[Unbilled]:
    """Approved, billable, uninvoiced time per Clockify client in [start, end), largest amount first."""
    start, end = bounds
    report = client.summary_report(
        start, end - timedelta(milliseconds=1), groups=("CLIENT",), filters=BILLABLE_APPROVED
    )
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
