"""Approval period arithmetic."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from addon.services.periods import (
    PeriodError,
    last_closed_period,
    parse_period,
    period_containing,
    recent_periods,
)


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
