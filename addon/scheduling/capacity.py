"""Capacity per person and day: working capacity from Clockify, less the holidays and approved time off that apply.

Three reads serve the whole workspace whatever its size: the scheduling totals of all users (capacity per day and
working days, a call per 200 people), the workspace's holidays (one call, each naming whom it is for) and the
approved time-off requests (a call per 200 requests). Days are the person's own calendar days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..clockify.payloads import TimeOffRequest, as_dict
from ..formatting import zone_or_utc
from ..workspace.directory import Directory
from ..workspace.totals import PersonCapacity


@dataclass(frozen=True)
class Holiday:
    name: str
    start: date
    end: date
    everyone: bool
    user_ids: frozenset[str]
    group_ids: frozenset[str]
    annual: bool

    def applies_to(self, user_id: str, group_ids: Iterable[str]) -> bool:
        """Whether the holiday is for this person: everyone, them by name, or one of their groups."""
        return self.everyone or user_id in self.user_ids or bool(self.group_ids & set(group_ids))

    def covers(self, day: date) -> bool:
        if self.start <= day <= self.end:
            return True
        if not self.annual:
            return False
        # An annual holiday falls on the same calendar days every year (occursAnnually).
        try:
            start = self.start.replace(year=day.year)
            end = self.end.replace(year=day.year + (self.end.year - self.start.year))
        except ValueError:  # 29 February in a year without one
            return False
        return start <= day <= end


def parse_holiday(raw: Any) -> Holiday | None:
    """A holiday from `GET …/holidays` (HolidayDtoV1); None when its dates cannot be read."""
    data = as_dict(raw)
    period = as_dict(data.get("datePeriod"))
    start, end = (
        _date(period.get("startDate") or period.get("start")),
        _date(period.get("endDate") or period.get("end")),
    )
    if start is None:
        return None
    return Holiday(
        name=str(data.get("name") or "Holiday")[:100],
        start=start,
        end=max(start, end or start),
        everyone=bool(data.get("everyoneIncludingNew")),
        user_ids=frozenset(str(u) for u in data.get("userIds") or () if isinstance(u, str)),
        group_ids=frozenset(str(g) for g in data.get("userGroupIds") or () if isinstance(g, str)),
        annual=bool(data.get("occursAnnually")),
    )


def _date(value: Any) -> date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Absence:
    """Approved time off of one person, as seconds taken off each of their calendar days."""

    user_id: str
    reason: str
    seconds_by_day: dict[date, int | None]  # None: the whole day; otherwise at most that many seconds


def absence_of(request: TimeOffRequest, zone: str) -> Absence | None:
    """What an approved request takes off, on the person's own calendar (half days and hours included)."""
    if not request.user_id or request.start is None:
        return None
    end = request.end if request.end is not None and request.end > request.start else request.start
    policy = str(request.raw.get("policyName") or "Time off")[:60]
    days: dict[date, int | None] = {}
    if request.time_unit == "HOURS":
        local = zone_or_utc(request.time_zone or zone)
        cursor = request.start.astimezone(local)
        finish = end.astimezone(local)
        while cursor < finish:
            next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time.min, tzinfo=local)
            piece = min(finish, next_midnight) - cursor
            days[cursor.date()] = (days.get(cursor.date()) or 0) + int(piece.total_seconds())
            cursor = next_midnight
        return Absence(request.user_id, policy, days)
    first, last = _request_days(request.start, end, request.time_zone or zone)
    if request.half_day:
        # Half a day is half the person's capacity that day; Clockify's halfDayHours, when given, say exactly.
        hours_start, hours_end = request.half_day_hours
        exact = int((hours_end - hours_start).total_seconds()) if hours_start and hours_end else None
        days[first] = -1 if exact is None or exact <= 0 else exact
        return Absence(request.user_id, policy + " (half day)", days)
    day = first
    while day <= last:
        days[day] = None
        day += timedelta(days=1)
    return Absence(request.user_id, policy, days)


def _request_days(start: datetime, end: datetime, zone: str) -> tuple[date, date]:
    """The calendar days a day-based request spans.

    Day-based requests are made of dates (PeriodV1Request takes YYYY-MM-DD); listed, they come stamped at UTC
    midnight, which then names the date itself. Any other instant is read in the person's zone, and an end at
    midnight is exclusive.
    """
    utc_midnight = start.astimezone(UTC).time() == time.min
    local = UTC if utc_midnight else zone_or_utc(zone)
    first = start.astimezone(local).date()
    end_local = end.astimezone(local)
    last = end_local.date() - timedelta(days=1) if end_local.time() == time.min and end > start else end_local.date()
    return first, max(first, last)


@dataclass(frozen=True)
class DayCapacity:
    """One person's capacity on one day: what they work normally, what is left, and why it is less."""

    base: int  # seconds
    net: int  # seconds
    reasons: tuple[str, ...] = field(default=())


def capacity_by_day(
    people: Mapping[str, PersonCapacity],
    days: list[date],
    holidays: Iterable[Holiday],
    absences: Iterable[Absence],
    directory: Directory,
) -> dict[str, dict[date, DayCapacity]]:
    """Every person's capacity on every day of the range, net of holidays for them and approved time off."""
    holidays = list(holidays)
    by_user: dict[str, list[Absence]] = {}
    for absence in absences:
        by_user.setdefault(absence.user_id, []).append(absence)
    result: dict[str, dict[date, DayCapacity]] = {}
    for user_id, person in people.items():
        groups = [str(g.get("id")) for g in directory.groups_of(user_id)]
        mine = [h for h in holidays if h.applies_to(user_id, groups)]
        away = by_user.get(user_id, [])
        per_day: dict[date, DayCapacity] = {}
        for day in days:
            base = person.capacity_per_day if person.works_on(day) else 0
            per_day[day] = _net(base, day, mine, away)
        result[user_id] = per_day
    return result


def _net(base: int, day: date, holidays: list[Holiday], away: list[Absence]) -> DayCapacity:
    if base <= 0:
        return DayCapacity(0, 0)
    reasons: list[str] = []
    net = base
    for holiday in holidays:
        if holiday.covers(day):
            reasons.append(f"holiday: {holiday.name}")
            net = 0
    for absence in away:
        if day not in absence.seconds_by_day:
            continue
        taken = absence.seconds_by_day[day]
        reasons.append(absence.reason)
        if taken is None:
            net = 0
        elif taken < 0:  # a half day without exact hours
            net = max(0, net - base // 2)
        else:
            net = max(0, net - taken)
    return DayCapacity(base, net, tuple(reasons))


def read_holidays(client: Any) -> list[Holiday]:
    """Every holiday of the workspace with whom it is for (one call; `holidays/in-period` would be one per person)."""
    found = []
    for holiday in client.list_holidays():
        parsed = parse_holiday(holiday.raw)
        if parsed is not None:
            found.append(parsed)
    return found


def read_absences(client: Any, first: date, last: date, zone_of: Mapping[str, str], default_zone: str) -> list[Absence]:
    """Approved time off touching [first, last] on the person's calendar.

    The listing's start/end filter on when a request was created (clockify-api-v1.txt "Get all time off
    requests on workspace"), not on the days it covers, so every approved request is read and filtered here.
    """
    found = []
    for request in client.iter_time_off_requests(statuses=["APPROVED"]):
        if request.status and request.status != "APPROVED":
            continue
        absence = absence_of(request, zone_of.get(request.user_id or "", default_zone))
        if absence is not None and any(first <= d <= last for d in absence.seconds_by_day):
            found.append(absence)
    return found


def zones_of(directory: Directory, default_zone: str) -> dict[str, str]:
    """Each person's own time zone (their Clockify setting), the workspace's where they have none or a bad one."""
    zones = {}
    for user_id, raw in directory.users.items():
        settings = raw.get("settings") if isinstance(raw.get("settings"), dict) else {}
        zone = settings.get("timeZone") if isinstance(settings, dict) else None
        zones[user_id] = zone if isinstance(zone, str) and zone_or_utc(zone).key == zone else default_zone
    return zones


def net_capacity(
    client: Any,
    people: Mapping[str, PersonCapacity],
    periods: Iterable[tuple[date, date]],
    directory: Directory,
    default_zone: str,
) -> dict[tuple[date, date], dict[str, int]]:
    """Each person's capacity seconds in each period, net of holidays and approved time off.

    What the dashboard's over- and under-allocated counts divide by, so they agree with the schedule tab.
    Two reads whatever the number of periods: the holidays and the approved time off.
    """
    wanted = list(periods)
    if not wanted:
        return {}
    first, last = min(p[0] for p in wanted), max(p[1] for p in wanted)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    absences = read_absences(client, first, last, zones_of(directory, default_zone), default_zone)
    by_day = capacity_by_day(people, days, read_holidays(client), absences, directory)
    return {
        (a, b): {user_id: sum(c.net for d, c in cells.items() if a <= d <= b) for user_id, cells in by_day.items()}
        for a, b in wanted
    }
