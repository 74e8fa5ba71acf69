"""Fixtures for the schedule tab: htmx calls as a role, the worker, and the sandbox's raw schedule data."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from addon.jobs import jobs_for, start_consumer
from addon.scheduling import plan as plans
from addon.workspace import directory

TAB = "/components/schedule"
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
CELL = re.compile(r"<button[^>]*class=\"co-cell[^\"]*\"[^>]*>", re.S)
ATTR = re.compile(r'data-([a-z-]+)="([^"]*)"')


@pytest.fixture(autouse=True)
def fresh_reads() -> Iterator[None]:
    """Cached plans and directories belong to one test's sandbox data."""
    plans._plans.clear()
    yield
    plans._plans.clear()
    directory._directory_cache.clear()


@pytest.fixture
def as_user(client: Any, user_token: Any, installed: Any) -> Callable[..., Any]:
    """as_user(role, **token options)(method, path, **kw): an htmx call carrying that role's token."""

    def role(name: str = "OWNER", **options: Any) -> Any:
        token = user_token(name, **options)

        def call(method: str, path: str, **kwargs: Any) -> Any:
            headers = {"HX-Request": "true", "X-Addon-Token": token, **kwargs.pop("headers", {})}
            return client.open(TAB + path, method=method, headers=headers, **kwargs)

        call.token = token  # type: ignore[attr-defined]
        return call

    return role


@pytest.fixture
def worker(app: Any, installed: Any) -> Iterator[Any]:
    consumer = start_consumer(app, workers=2, max_delay=0.1)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def cells(html: str) -> list[dict[str, str]]:
    """Every heatmap cell's data attributes."""
    return [dict(ATTR.findall(tag)) for tag in CELL.findall(html)]


def poll(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- what the sandbox's raw data says, computed here without Closeout's code -----------------------


def capacity_hours(user: dict[str, Any]) -> float:
    text = user["workCapacity"][2:]
    hours = float(text.split("H")[0]) if "H" in text else 0.0
    if "M" in text:
        hours += float(text.split("H")[-1].rstrip("M")) / 60
    return hours


def expected(space: Any, user_id: str, first: date, last: date, today: date) -> dict[str, float]:
    """Scheduled, capacity (net of holidays and approved time off) and tracked hours of one person."""
    user = space.users[user_id]
    groups = {gid for gid, g in space.groups.items() if user_id in g["userIds"]}
    works = [d for d in _days(first, last) if WEEKDAYS[d.weekday()] in user["workingDays"]]
    capacity = 0.0
    for day in works:
        hours = capacity_hours(user)
        for h in space.holidays.values():
            applies = h["everyoneIncludingNew"] or user_id in h["userIds"] or groups & set(h["userGroupIds"])
            if applies and h["start"] <= day <= h["end"]:
                hours = 0.0
        for r in space.time_off.values():
            if r["userId"] != user_id or r["status"] != "APPROVED":
                continue
            if r["start"].date() <= day <= r["end"].date():
                hours = max(0.0, hours - capacity_hours(user) / 2) if r["halfDay"] else 0.0
        capacity += hours
    scheduled = 0.0
    for a in space.assignments.values():
        if a["userId"] == user_id:
            scheduled += a["hoursPerDay"] * sum(1 for d in works if a["start"] <= d <= a["end"])
    zone = ZoneInfo(user["timeZone"])
    tracked = 0.0
    for e in space.time_entries.values():
        if e["userId"] != user_id or e["end"] is None:
            continue
        day = e["start"].astimezone(zone).date()
        if first <= day <= last and day <= today:
            tracked += (e["end"] - e["start"]).total_seconds() / 3600
    return {"scheduled": scheduled, "capacity": capacity, "tracked": tracked}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)
