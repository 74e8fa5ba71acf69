"""Time on the wire: Clockify's instants (UTC with a Z) and durations (PT8H30M), and the sandbox's own stamps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    """Clockify's timestamp form: UTC with a Z."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: float | int) -> str:
    """ISO-8601 duration as Clockify writes it (PT8H30M, PT0S)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or text == "PT":
        text += f"{secs}S"
    return text


def duration_hours(text: str) -> float:
    """An ISO-8601 duration of hours and minutes (PT8H, PT7H30M; the PT may be missing) in hours."""
    hours = 0.0
    body = text[2:] if text.startswith("PT") else text
    if "H" in body:
        head, body = body.split("H", 1)
        hours += float(head)
    if "M" in body:
        head, body = body.split("M", 1)
        hours += float(head) / 60
    return hours


def parse_instant(value: Any) -> datetime:
    """A yyyy-MM-ddThh:mm:ss(.SSS)Z (or yyyy-MM-dd) value as an aware UTC datetime; ValueError otherwise."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a date")
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def now_iso() -> str:
    """Now, to the microsecond, as the request log, deliveries and lifecycle calls record it."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
