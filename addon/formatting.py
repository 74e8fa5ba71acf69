"""Dates, times, hours, money and percentages in the viewing user's formats and time zone (Jinja filters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .clockify.payloads import parse_datetime

# Clockify's user setting dateFormat (GET /v1/user → settings.dateFormat) → strftime.
DATE_FORMATS = {
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD/MM/YYYY": "%d/%m/%Y",
    "YYYY/MM/DD": "%Y/%m/%d",
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD-MM-YYYY": "%d-%m-%Y",
    "MM-DD-YYYY": "%m-%d-%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "MM.DD.YYYY": "%m.%d.%Y",
    "YYYY.MM.DD": "%Y.%m.%d",
}
# Workspace numberFormat → (thousands separator, decimal separator).
NUMBER_FORMATS = {
    "COMMA_PERIOD": (",", "."),
    "PERIOD_COMMA": (".", ","),
    "QUOTATION_MARK_PERIOD": ("'", "."),
    "SPACE_COMMA": ("\u202f", ","),
    "SPACE_PERIOD": ("\u202f", "."),
}
# ISO 4217 currencies without minor units; every other code is taken to have two.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"}
)


@dataclass(frozen=True)
class Preferences:
    """How one user sees dates, times and numbers in one workspace (from Clockify; defaults until known)."""

    time_zone: str = "UTC"
    date_format: str = "YYYY-MM-DD"
    time_format: str = "HOUR24"  # HOUR24 | HOUR12
    week_start: str = "MONDAY"
    duration_format: str = "COMPACT"  # FULL (h:mm:ss) | COMPACT (h:mm) | DECIMAL (7.50 h)
    number_format: str = "COMMA_PERIOD"
    currency_format: str = "CURRENCY_SPACE_VALUE"
    currency: str = "USD"
    user_name: str | None = None


DEFAULT_PREFERENCES = Preferences()


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The named IANA zone, or UTC when the name is missing or unknown (a bad setting never breaks a page)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_date(value: Any, prefs: Preferences = DEFAULT_PREFERENCES) -> str:
    """A calendar date (kept as is) or an instant (shown on the user's local day) in the user's date format."""
    pattern = DATE_FORMATS.get(prefs.date_format, "%Y-%m-%d")
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime(pattern)
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).strftime(pattern)
        except ValueError:
            return value
    moment = parse_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.astimezone(zone_or_utc(prefs.time_zone)).strftime(pattern)


def format_time(value: Any, prefs: Preferences = DEFAULT_PREFERENCES) -> str:
    moment = parse_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    local = moment.astimezone(zone_or_utc(prefs.time_zone))
    if prefs.time_format == "HOUR12":
        hour = local.hour % 12 or 12
        return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    return f"{local.hour:02d}:{local.minute:02d}"


def format_datetime(value: Any, prefs: Preferences = DEFAULT_PREFERENCES) -> str:
    """An instant as the user's local date and time."""
    if parse_datetime(value) is None:
        return "" if value is None else str(value)
    return f"{format_date(value, prefs)} {format_time(value, prefs)}"


def _hours_of(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return Decimal(str(value.total_seconds())) / 3600
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def format_hours(value: Any, prefs: Preferences = DEFAULT_PREFERENCES, *, signed: bool = False) -> str:
    """Hours (a number or a timedelta) as 7:30, 7:30:00 or 7.50 h, per the workspace's duration format."""
    hours = _hours_of(value)
    if hours is None:
        return "" if value is None else str(value)
    sign = "-" if hours < 0 else ("+" if signed and hours > 0 else "")
    hours = abs(hours)
    if prefs.duration_format == "DECIMAL":
        text = format_number(hours, prefs, digits=2)
        return f"{sign}{text} h"
    seconds = int((hours * 3600).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if prefs.duration_format == "FULL":
        return f"{sign}{h}:{m:02d}:{s:02d}"
    if s >= 30:  # round to the nearest minute for h:mm
        m += 1
        if m == 60:
            h, m = h + 1, 0
    return f"{sign}{h}:{m:02d}"


def format_number(value: Any, prefs: Preferences = DEFAULT_PREFERENCES, digits: int = 2) -> str:
    """A number with the workspace's thousands and decimal separators."""
    number = _hours_of(value)
    if number is None:
        return "" if value is None else str(value)
    thousands, decimal_sep = NUMBER_FORMATS.get(prefs.number_format, (",", "."))
    quantum = Decimal(1).scaleb(-digits) if digits > 0 else Decimal(1)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = thousands.join(groups)
    return f"{sign}{text}{decimal_sep}{fraction}" if digits > 0 else f"{sign}{text}"


def format_money(minor_units: Any, currency: str | None = None, prefs: Preferences = DEFAULT_PREFERENCES) -> str:
    """An amount in minor units (cents, as Clockify sends them) with its currency, per the workspace's format."""
    if minor_units is None:
        return ""
    code = (currency or prefs.currency or "USD").upper()
    digits = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    try:
        amount = Decimal(str(minor_units)).scaleb(-digits)
    except ArithmeticError:
        return str(minor_units)
    number = format_number(amount, prefs, digits=digits)
    style = prefs.currency_format
    if style == "VALUE_SPACE_CURRENCY":
        return f"{number} {code}"
    if style == "VALUE_CURRENCY":
        return f"{number}{code}"
    if style == "CURRENCY_VALUE":
        return f"{code}{number}"
    return f"{code} {number}"


def format_percent(value: Any, prefs: Preferences = DEFAULT_PREFERENCES, digits: int = 0) -> str:
    """Percentage points (87.5 → "88%"); an empty value shows as an en dash."""
    if value is None:
        return "\u2013"
    number = _hours_of(value)
    if number is None:
        return str(value)
    return format_number(number, prefs, digits=digits) + "%"
