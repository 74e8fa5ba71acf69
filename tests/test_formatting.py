"""The formatting filters: hours, money, percentages, dates and times in the user's formats and zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import g

from addon.formatting import Preferences, format_date, format_datetime, format_hours, format_money, format_percent

EURO_STYLE = Preferences(number_format="PERIOD_COMMA", currency_format="VALUE_SPACE_CURRENCY")
BERLIN_12H = Preferences(time_zone="Europe/Berlin", date_format="DD.MM.YYYY", time_format="HOUR12")


@pytest.mark.parametrize(
    ("hours", "duration_format", "expected"),
    [
        (7.5, "COMPACT", "7:30"),
        (7.5, "DECIMAL", "7.50 h"),
        (7.5, "FULL", "7:30:00"),
        (0, "COMPACT", "0:00"),
        (-1.25, "COMPACT", "-1:15"),
        (timedelta(hours=38, minutes=59, seconds=40), "COMPACT", "39:00"),
        (1234.5, "DECIMAL", "1,234.50 h"),
    ],
)
def test_hours_follow_the_duration_format(hours, duration_format, expected):
    assert format_hours(hours, Preferences(duration_format=duration_format)) == expected


@pytest.mark.parametrize(
    ("minor", "currency", "prefs", "expected"),
    [
        (123456, "USD", Preferences(), "USD 1,234.56"),
        (123456, "EUR", EURO_STYLE, "1.234,56 EUR"),
        (5000, "JPY", Preferences(), "JPY 5,000"),
        (-250, None, Preferences(currency="GBP"), "GBP -2.50"),
    ],
)
def test_money_is_minor_units_in_the_workspace_format(minor, currency, prefs, expected):
    assert format_money(minor, currency, prefs) == expected


def test_percent_rounds_and_shows_a_dash_when_unknown():
    assert format_percent(87.5) == "88%"
    assert format_percent(87.25, digits=1) == "87.3%"
    assert format_percent(None) == "\u2013"


def test_an_instant_is_shown_on_the_users_local_day_and_clock():
    late_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert format_date(late_utc, BERLIN_12H) == "02.03.2026"
    assert format_datetime(late_utc, BERLIN_12H) == "02.03.2026 12:30 AM"
    assert format_datetime("2026-03-01T13:05:00Z", Preferences()) == "2026-03-01 13:05"


def test_a_calendar_date_is_never_shifted_by_the_time_zone():
    assert format_date(date(2026, 3, 1), Preferences(time_zone="Pacific/Kiritimati", date_format="MM/DD/YYYY")) == (
        "03/01/2026"
    )
    assert format_date("2026-03-01", Preferences(time_zone="America/Los_Angeles")) == "2026-03-01"


def test_filters_use_the_preferences_the_view_set(app):
    with app.test_request_context():
        g.preferences = Preferences(duration_format="DECIMAL", number_format="PERIOD_COMMA")
        rendered = app.jinja_env.from_string("{{ 7.5|fmt_hours }} {{ 150000|fmt_money('EUR') }} {{ 50|fmt_percent }}")
        assert rendered.render() == "7,50 h EUR 1.500,00 50%"


def test_filters_fall_back_to_defaults_without_preferences(app):
    with app.test_request_context():
        assert app.jinja_env.from_string("{{ 7.5|fmt_hours }}").render() == "7:30"
