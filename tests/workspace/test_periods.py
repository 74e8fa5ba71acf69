"""Approval period arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from addon.workspace import periods
from addon.workspace.periods import PeriodError, last_closed_period, parse_period, period_containing, recent_periods


@pytest.mark.parametrize(
    ("day", "kind", "week_start", "start", "end"),
    [
        (date(2026, 11, 29), "WEEKLY", "MONDAY", date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 11, 29), "WEEKLY", "SUNDAY", date(2026, 11, 29), date(2026, 12, 5)),
        (date(2026, 11, 15), "SEMI_MONTHLY", "MONDAY", date(2026, 11, 1), date(2026, 11, 15)),
        (date(2026, 2, 16), "SEMI_MONTHLY", "MONDAY", date(2026, 2, 16), date(2026, 2, 28)),
        (date(2028, 2, 20), "MONTHLY", "MONDAY", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_period_containing(day, kind, week_start, start, end):
    period = period_containing(day, kind, week_start)
    assert (period.start, period.end) == (start, end)
    assert day in period


def test_last_closed_is_the_one_before_today():
    assert last_closed_period(date(2026, 12, 1), "MONTHLY").start == date(2026, 11, 1)
    assert last_closed_period(date(2026, 12, 16), "SEMI_MONTHLY").start == date(2026, 12, 1)


def test_recent_periods_are_contiguous_newest_first():
    periods = recent_periods(date(2026, 11, 29), "WEEKLY", count=5)
    assert len(periods) == 5
    for newer, older in itertools.pairwise(periods):
        assert (newer.start - older.end).days == 1


def test_utc_bounds_follow_the_time_zone():
    period = period_containing(date(2026, 11, 23), "WEEKLY")
    start, end = period.utc_bounds("America/New_York")
    assert start == datetime(2026, 11, 23, 5, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 5, tzinfo=UTC)
    assert period.utc_bounds("Not/AZone")[0] == datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2026-13-01", "WEEKLY"),
        ("yesterday", "WEEKLY"),
        ("2026-11-01", "DAILY"),
        ("9999-12-31", "WEEKLY"),
        ("0001-01-01", "MONTHLY"),
    ],
)
def test_bad_period_input_is_a_period_error(value, kind):
    with pytest.raises(PeriodError):
        parse_period(value, kind)


# --- an approval request's days, and the period they show ---------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("start", "end", "zone", "days"),
    [
        # UTC midnights, the end the period's last instant (the sandbox, some samples).
        ("2026-10-26T00:00:00Z", "2026-11-01T23:59:59Z", "Europe/Berlin", ("2026-10-26", "2026-11-01")),
        # UTC midnights, the end the next midnight: exclusive.
        ("2026-10-26T00:00:00Z", "2026-11-02T00:00:00Z", "America/New_York", ("2026-10-26", "2026-11-01")),
        # The owner's midnight in Berlin (UTC+1 in November): Monday starts on Sunday evening in UTC.
        ("2026-11-01T23:00:00Z", "2026-11-08T23:00:00Z", "Europe/Berlin", ("2026-11-02", "2026-11-08")),
        # The owner's midnight in New York, the end the period's last instant.
        ("2026-11-02T05:00:00Z", "2026-11-09T04:59:59Z", "America/New_York", ("2026-11-02", "2026-11-08")),
        # No end, or an end before the start: a single day.
        ("2026-11-02T00:00:00Z", None, "UTC", ("2026-11-02", "2026-11-02")),
        ("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", "UTC", ("2026-11-02", "2026-11-02")),
    ],
)
def test_request_days_read_utc_and_owner_midnights_alike(start, end, zone, days):
    first, last = periods.request_days(_at(start), _at(end) if end else None, zone)

    assert (first.isoformat(), last.isoformat()) == days


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [
        ("2026-11-02", "2026-11-08", ("WEEKLY", "MONDAY")),
        ("2026-11-01", "2026-11-07", ("WEEKLY", "SUNDAY")),
        ("2026-11-01", "2026-11-08", ("WEEKLY", "SUNDAY")),  # a day of slack for a range read in another zone
        ("2026-11-01", "2026-11-15", ("SEMI_MONTHLY", "MONDAY")),
        ("2026-11-16", "2026-11-30", ("SEMI_MONTHLY", "MONDAY")),
        ("2026-10-16", "2026-10-31", ("SEMI_MONTHLY", "MONDAY")),
        ("2026-02-01", "2026-02-28", ("MONTHLY", "MONDAY")),
        ("2026-10-01", "2026-10-31", ("MONTHLY", "MONDAY")),
    ],
)
def test_one_requests_days_tell_the_workspaces_approval_period(first, last, shown):
    assert periods.kind_of_request(date.fromisoformat(first), date.fromisoformat(last)) == shown
