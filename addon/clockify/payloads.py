"""Typed views of Clockify's answers: each `from_api` ignores unknown fields, tolerates missing ones, keeps `raw`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_datetime(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (or a datetime) as an aware UTC datetime; naive ones are UTC: Clockify speaks UTC.

    The one timestamp reader of Closeout: payloads, mirrors and templates all go through it.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_duration(value: Any) -> int | None:
    """Seconds from an ISO-8601 duration (`PT1H30M`) or a number of seconds (reports send integers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value.strip())
    if not match or value.strip() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return round(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def _str(data: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def number(value: Any) -> float:
    """A finite number from an API field that may be missing, a string, or junk (0 then: NaN and infinities
    too); booleans are not numbers."""
    if isinstance(value, bool):
        return 0.0
    try:
        parsed = float(value) if isinstance(value, int | float) else float(str(value))
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return parsed if math.isfinite(parsed) else 0.0


def to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float):
        # inf and nan come from hostile or broken bodies: no number rather than an OverflowError.
        return int(value) if math.isfinite(value) else None
    return None


def short_text(value: Any, limit: int = 200) -> str | None:
    """A non-empty string cut to `limit` characters, or None for anything else."""
    return value[:limit] if isinstance(value, str) and value else None


def raw_of(item: Any) -> dict[str, Any]:
    """The JSON object behind a parsed payload (the dataclasses here keep it as `.raw`), or {}."""
    raw = getattr(item, "raw", item)
    return raw if isinstance(raw, dict) else {}


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _amount(value: Any) -> int | None:
    """A money field: a bare integer or `{"amount": n, "currency": …}` (rates)."""
    if isinstance(value, dict):
        return to_int(value.get("amount"))
    return to_int(value)


def _obj(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


@dataclass(frozen=True)
class User:
    id: str
    name: str | None
    email: str | None
    status: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> User:
        d = _obj(data)
        return cls(str(d.get("id") or ""), _str(d, "name"), _str(d, "email"), _str(d, "status"), d)

    @property
    def time_zone(self) -> str | None:
        return _str(as_dict(self.raw.get("settings")), "timeZone")

    @property
    def week_start(self) -> str | None:
        return _str(as_dict(self.raw.get("settings")), "weekStart")


@dataclass(frozen=True)
class UserGroup:
    id: str
    name: str | None
    user_ids: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> UserGroup:
        d = _obj(data)
        return cls(str(d.get("id") or ""), _str(d, "name"), tuple(str(u) for u in _list(d.get("userIds"))), d)


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Workspace:
        d = _obj(data)
        return cls(str(d.get("id") or ""), _str(d, "name"), d)

    @property
    def settings(self) -> dict[str, Any]:
        return as_dict(self.raw.get("workspaceSettings"))

    @property
    def currency(self) -> str | None:
        currencies = _list(self.raw.get("currencies"))
        default = next((c for c in currencies if isinstance(c, dict) and c.get("isDefault")), None)
        return _str(as_dict(default), "code") or _str(as_dict(self.raw.get("hourlyRate")), "currency")


@dataclass(frozen=True)
class MemberProfile:
    user_id: str | None
    name: str | None
    email: str | None
    week_start: str | None
    time_zone: str | None
    working_days: tuple[str, ...]
    work_capacity_seconds: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> MemberProfile:
        d = _obj(data)
        return cls(
            _str(d, "userId", "id"),
            _str(d, "name"),
            _str(d, "email"),
            _str(d, "weekStart"),
            _str(d, "timeZone", "timezone"),
            tuple(str(x) for x in _list(d.get("workingDays"))),
            parse_duration(d.get("workCapacity")),
            d,
        )


@dataclass(frozen=True)
class Client:
    id: str
    name: str | None
    archived: bool
    currency_code: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Client:
        d = _obj(data)
        return cls(str(d.get("id") or ""), _str(d, "name"), bool(d.get("archived")), _str(d, "currencyCode"), d)


@dataclass(frozen=True)
class Project:
    id: str
    name: str | None
    client_id: str | None
    billable: bool
    archived: bool
    hourly_rate: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Project:
        d = _obj(data)
        return cls(
            str(d.get("id") or ""),
            _str(d, "name"),
            _str(d, "clientId"),
            bool(d.get("billable")),
            bool(d.get("archived")),
            _amount(d.get("hourlyRate")),
            d,
        )


@dataclass(frozen=True)
class ApprovalRequest:
    """An approval request; from the listing it also carries the period's totals (ApprovalDetailsDtoV1)."""

    id: str
    user_id: str | None
    user_name: str | None
    state: str | None
    note: str | None
    period_start: datetime | None
    period_end: datetime | None
    owner_time_zone: str | None
    updated_at: datetime | None
    updated_by: str | None
    updated_by_name: str | None
    tracked_seconds: int | None
    billable_seconds: int | None
    billable_amount: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> ApprovalRequest:
        d = _obj(data)
        # The listing wraps the request with its totals; create/update return the request itself.
        request = as_dict(d.get("approvalRequest")) or d
        owner = as_dict(request.get("owner"))
        status = as_dict(request.get("status"))
        dates = as_dict(request.get("dateRange"))
        return cls(
            id=str(request.get("id") or ""),
            user_id=_str(owner, "userId"),
            user_name=_str(owner, "userName"),
            state=_str(status, "state"),
            note=_str(status, "note"),
            period_start=parse_datetime(dates.get("start")),
            period_end=parse_datetime(dates.get("end")),
            # The API's DTO spells owner.timeZone, the webhook sample owner.timezone (docs/clockify.md#approvals).
            owner_time_zone=_str(owner, "timeZone", "timezone"),
            updated_at=parse_datetime(status.get("updatedAt")),
            updated_by=_str(status, "updatedBy"),
            updated_by_name=_str(status, "updatedByUserName"),
            tracked_seconds=parse_duration(d.get("trackedTime")),
            billable_seconds=parse_duration(d.get("billableTime")),
            billable_amount=to_int(d.get("billableAmount")),
            raw=d,
        )


@dataclass(frozen=True)
class TimeEntry:
    id: str
    user_id: str | None
    project_id: str | None
    task_id: str | None
    description: str | None
    billable: bool
    start: datetime | None
    end: datetime | None
    duration_seconds: int | None
    hourly_rate: int | None
    approval_request_id: str | None
    is_locked: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> TimeEntry:
        d = _obj(data)
        interval = as_dict(d.get("timeInterval"))
        project = as_dict(d.get("project"))
        return cls(
            id=str(d.get("id") or d.get("_id") or ""),
            user_id=_str(d, "userId"),
            project_id=_str(d, "projectId") or _str(project, "id"),
            task_id=_str(d, "taskId"),
            description=_str(d, "description"),
            billable=bool(d.get("billable")),
            start=parse_datetime(interval.get("start")),
            end=parse_datetime(interval.get("end")),
            duration_seconds=parse_duration(interval.get("duration")),
            hourly_rate=_amount(d.get("hourlyRate")) if d.get("hourlyRate") is not None else _amount(d.get("rate")),
            approval_request_id=_str(d, "approvalRequestId"),
            is_locked=bool(d.get("isLocked")),
            raw=d,
        )

    @property
    def invoiced(self) -> bool | None:
        value = self.raw.get("invoiced", self.raw.get("isInvoiced"))
        return value if isinstance(value, bool) else None

    @property
    def amount(self) -> int | None:
        """Reports carry the entry's amount (minor units) directly (docs/clockify.md#reports)."""
        return to_int(self.raw.get("amount"))


@dataclass(frozen=True)
class Invoice:
    id: str
    number: str | None
    client_id: str | None
    status: str | None
    currency: str | None
    amount: int | None
    balance: int | None
    issued_date: datetime | None
    due_date: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Invoice:
        d = _obj(data)
        return cls(
            id=str(d.get("id") or ""),
            number=_str(d, "number"),
            client_id=_str(d, "clientId"),
            status=_str(d, "status"),
            currency=_str(d, "currency"),
            amount=to_int(d.get("amount", d.get("total"))),
            balance=to_int(d.get("balance")),
            issued_date=parse_datetime(d.get("issuedDate")),
            due_date=parse_datetime(d.get("dueDate")),
            raw=d,
        )


@dataclass(frozen=True)
class Payment:
    id: str
    amount: int | None
    note: str | None
    payment_date: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Payment:
        d = _obj(data)
        return cls(
            str(d.get("id") or ""),
            to_int(d.get("amount")),
            _str(d, "note"),
            parse_datetime(d.get("date") or d.get("paymentDate")),
            d,
        )


@dataclass(frozen=True)
class Expense:
    """One row of the expense report; `amount` in minor units, as the other reports' amounts."""

    id: str
    user_id: str | None
    user_name: str | None
    project_id: str | None
    project_name: str | None
    client_id: str | None
    client_name: str | None
    category: str | None
    date: datetime | None
    amount: int
    billable: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Expense:
        d = _obj(data)
        return cls(
            str(d.get("id") or d.get("_id") or ""),
            _str(d, "userId"),
            _str(d, "userName"),
            _str(d, "projectId"),
            _str(d, "projectName"),
            _str(d, "clientId"),
            _str(d, "clientName"),
            _str(d, "categoryName"),
            parse_datetime(d.get("date")),
            max(0, to_int(d.get("amount")) or 0),
            bool(d.get("billable")),
            d,
        )


@dataclass(frozen=True)
class Assignment:
    id: str
    user_id: str | None
    project_id: str | None
    start: datetime | None
    end: datetime | None
    hours_per_day: float | None
    billable: bool
    published: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Assignment:
        d = _obj(data)
        period = as_dict(d.get("period"))
        hours = d.get("hoursPerDay")
        return cls(
            id=str(d.get("id") or ""),
            user_id=_str(d, "userId"),
            project_id=_str(d, "projectId"),
            start=parse_datetime(period.get("start") or d.get("start")),
            end=parse_datetime(period.get("end") or d.get("end")),
            hours_per_day=float(hours) if isinstance(hours, int | float) and not isinstance(hours, bool) else None,
            billable=bool(d.get("billable")),
            published=bool(d.get("published")),
            raw=d,
        )


@dataclass(frozen=True)
class Holiday:
    id: str
    name: str | None
    start: datetime | None
    end: datetime | None
    user_ids: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Holiday:
        d = _obj(data)
        dates = as_dict(d.get("datePeriod"))
        return cls(
            str(d.get("id") or ""),
            _str(d, "name"),
            parse_datetime(dates.get("startDate") or dates.get("start")),
            parse_datetime(dates.get("endDate") or dates.get("end")),
            tuple(str(u) for u in _list(d.get("userIds"))),
            d,
        )


@dataclass(frozen=True)
class TimeOffRequest:
    id: str
    user_id: str | None
    policy_id: str | None
    status: str | None
    start: datetime | None
    end: datetime | None
    half_day: bool
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> TimeOffRequest:
        d = _obj(data)
        period = as_dict(as_dict(d.get("timeOffPeriod")).get("period"))
        return cls(
            str(d.get("id") or ""),
            _str(d, "userId"),
            _str(d, "policyId"),
            _str(as_dict(d.get("status")), "statusType"),
            parse_datetime(period.get("start")),
            parse_datetime(period.get("end")),
            # The listing nests halfDay in timeOffPeriod (TimeOffRequestPeriodDto); the webhook carries it on top.
            bool(as_dict(d.get("timeOffPeriod")).get("halfDay", d.get("halfDay"))),
            d,
        )

    @property
    def time_unit(self) -> str:
        """DAYS or HOURS (TimeOffRequestFullV1Dto.timeUnit); DAYS when not said."""
        return str(self.raw.get("timeUnit") or "DAYS").upper()

    @property
    def time_zone(self) -> str | None:
        return _str(self.raw, "userTimeZone", "timeZone")

    @property
    def half_day_hours(self) -> tuple[datetime | None, datetime | None]:
        """The hours a half day covers (timeOffPeriod.halfDayHours), when Clockify gives them."""
        hours = as_dict(as_dict(self.raw.get("timeOffPeriod")).get("halfDayHours"))
        return parse_datetime(hours.get("start")), parse_datetime(hours.get("end"))


@dataclass(frozen=True)
class Webhook:
    """A webhook; `auth_token` is the secret Clockify signs deliveries with: store it encrypted, never log it."""

    id: str
    name: str | None
    url: str | None
    event: str | None
    enabled: bool
    auth_token: str | None = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Webhook:
        d = _obj(data)
        return cls(
            str(d.get("id") or ""),
            _str(d, "name"),
            _str(d, "url"),
            _str(d, "webhookEvent"),
            d.get("enabled") is not False,
            _str(d, "authToken"),
            d,
        )


def parse_list(cls: Any, items: Any) -> list[Any]:
    """Parse each object of a JSON list, skipping anything that is not an object."""
    return [cls.from_api(item) for item in _list(items) if isinstance(item, dict)]
