"""Approval periods (weekly, semi-monthly, monthly) and their instants in the workspace's time zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..formatting import zone_or_utc

KINDS = ("WEEKLY", "SEMI_MONTHLY", "MONTHLY")
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class PeriodError(ValueError):
    """An unknown period kind, week start or a malformed date."""


@dataclass(frozen=True, order=True)
class Period:
    """An inclusive range of calendar days: one approval period."""

    start: date
    end: date
    kind: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def key(self) -> str:
        """A stable identifier for URLs and storage: the ISO start date."""
        return self.start.isoformat()

    def previous(self, week_start: str = "MONDAY") -> Period:
        return period_containing(self.start - timedelta(days=1), self.kind, week_start)

    def next(self, week_start: str = "MONDAY") -> Period:
        return period_containing(self.end + timedelta(days=1), self.kind, week_start)

    def utc_bounds(self, time_zone: str) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: midnight at each end in the given zone."""
        zone = zone_or_utc(time_zone)
        start = datetime.combine(self.start, time.min, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        return start, end


def request_days(start: datetime, end: datetime | None, owner_zone: str | None) -> tuple[date, date]:
    """The first and last calendar day of an approval request's dateRange.

    The bounds come at UTC midnights in the sandbox and some samples, at the owner's midnight in others,
    and the end is either the next midnight or the period's last instant (the reference does not say).
    A start at a UTC midnight means the range is in UTC; an end at midnight is exclusive.
    """
    zone = zone_or_utc("UTC" if start.astimezone(UTC).time() == time.min else owner_zone)
    first = start.astimezone(zone).date()
    end_local = (end if end is not None and end > start else start + timedelta(days=1)).astimezone(zone)
    last = end_local.date() - timedelta(days=1) if end_local.time() == time.min else end_local.date()
    return first, max(last, first)


def kind_of_request(first: date, last: date) -> tuple[str, str]:
    """The approval period (kind, week start) one request's days show: every request spans exactly one.

    Clockify's API does not expose the workspace's approval period, so this is how Closeout learns it.
    A day of slack either way absorbs a range stamped in another zone than its owner's.
    """
    days = (last - first).days + 1
    if days <= 8:
        return "WEEKLY", WEEKDAYS[first.weekday()]
    return ("SEMI_MONTHLY" if days <= 17 else "MONTHLY"), "MONDAY"


def period_containing(day: date, kind: str, week_start: str = "MONDAY") -> Period:
    kind = kind.upper()
    if kind == "WEEKLY":
        week_start = week_start.upper()
        if week_start not in WEEKDAYS:
            raise PeriodError(f"unknown week start {week_start!r}")
        offset = (day.weekday() - WEEKDAYS.index(week_start)) % 7
        start = day - timedelta(days=offset)
        return Period(start, start + timedelta(days=6), kind)
    last_day = calendar.monthrange(day.year, day.month)[1]
    if kind == "SEMI_MONTHLY":
        if day.day <= 15:
            return Period(day.replace(day=1), day.replace(day=15), kind)
        return Period(day.replace(day=16), day.replace(day=last_day), kind)
    if kind == "MONTHLY":
        return Period(day.replace(day=1), day.replace(day=last_day), kind)
    raise PeriodError(f"unknown approval period {kind!r}")


def current_period(today: date, kind: str, week_start: str = "MONDAY") -> Period:
    return period_containing(today, kind, week_start)


def last_closed_period(today: date, kind: str, week_start: str = "MONDAY") -> Period:
    """The most recent period that has fully ended: the default for approvals."""
    return current_period(today, kind, week_start).previous(week_start)


def recent_periods(today: date, kind: str, week_start: str = "MONDAY", count: int = 8) -> list[Period]:
    """The current period and the `count - 1` before it, newest first."""
    periods = [current_period(today, kind, week_start)]
    while len(periods) < count:
        periods.append(periods[-1].previous(week_start))
    return periods


def parse_period(value: str | None, kind: str, week_start: str = "MONDAY") -> Period | None:
    """The period containing the ISO date `value`, or None when absent; PeriodError when malformed."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise PeriodError(f"not a date: {value[:40]!r}") from exc
    # Far enough for any timesheet, and far from date.min/max where neighbouring periods overflow.
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"{day.isoformat()} is outside the years {EARLIEST.year} to {LATEST.year}")
    return period_containing(day, kind, week_start)
