"""Plan against actual: scheduled, capacity and tracked seconds per person, project and day, and the heatmap of them.

A plan for a range costs a fixed handful of paged reads whatever the number of people or weeks: the directory
(users, groups), the scheduling totals of all users, the holidays, approved time off, every assignment of the
range, and the detailed report of the range. Calls = ⌈users/200⌉·2 + 1 (groups) + 1 (holidays) +
⌈approved time off/200⌉ + ⌈assignments/200⌉ + ⌈entries/1000⌉ (+1 when a page count lands exactly on a page).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..clockify.payloads import parse_duration
from ..exceptions import DomainError
from ..extensions import BoundedCache
from ..formatting import zone_or_utc
from ..settings.schema import utilization_band
from ..tokens import Role
from ..workspace import totals
from ..workspace.directory import Directory
from ..workspace.periods import WEEKDAYS
from .capacity import DayCapacity, capacity_by_day, read_absences, read_holidays, zones_of

DEFAULT_WEEKS = 8
MAX_WEEKS = 26
VIEWS = ("weekly", "daily")
# Clockify's zones reach UTC+14 and UTC-12: a report this much wider than the range holds every local day.
ZONE_MARGIN = timedelta(hours=14)


class ScheduleError(DomainError):
    """A schedule request that cannot be answered as asked (bad range, a person or job out of reach)."""


# --- who may see whom ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The people a viewer may see: everyone (owners, admins), their teams and themselves, or only themselves."""

    everyone: bool
    user_ids: frozenset[str]
    may_act: bool  # publish and roll forward (owners and admins: Clockify lets only them edit the schedule)

    def sees(self, user_id: str) -> bool:
        return self.everyone or user_id in self.user_ids


def scope_for(role: Role, user_id: str, directory: Directory) -> Scope:
    if role in (Role.OWNER, Role.ADMIN):
        return Scope(True, frozenset(), True)
    if role == Role.TEAM_MANAGER:
        return Scope(False, frozenset(directory.managed_by(user_id) | {user_id}), False)
    return Scope(False, frozenset({user_id}), False)


# --- the range ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The weeks on the heatmap (weekly view) or the one week of the daily view."""

    first: date  # the first day of the first week
    weeks: int
    view: str

    @property
    def last(self) -> date:
        return self.first + timedelta(days=7 * self.weeks - 1)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(7 * self.weeks)]

    @property
    def week_starts(self) -> list[date]:
        return [self.first + timedelta(days=7 * i) for i in range(self.weeks)]

    def columns(self) -> list[tuple[date, date]]:
        """(first, last) day of each heatmap column: weeks, or the days of the one week."""
        if self.view == "daily":
            return [(d, d) for d in self.days]
        return [(w, w + timedelta(days=6)) for w in self.week_starts]


def week_of(day: date, week_start: str) -> date:
    return day - timedelta(days=(day.weekday() - WEEKDAYS.index(week_start)) % 7)


def parse_window(args: Mapping[str, Any], today: date, week_start: str, default_view: str) -> Window:
    """The range a request asks for: `start` (any day of the first week), `weeks`, `view`; 400 when malformed."""
    view = str(args.get("view") or default_view)
    if view not in VIEWS:
        raise ScheduleError("The view is weekly or daily.", 400)
    raw_start = str(args.get("start") or "").strip()
    try:
        day = date.fromisoformat(raw_start) if raw_start else today
    except ValueError as exc:
        raise ScheduleError("The start must be a date (YYYY-MM-DD).", 400) from exc
    if not date(2000, 1, 1) <= day <= date(2099, 12, 31):
        raise ScheduleError("The start must lie between the years 2000 and 2099.", 400)
    raw_weeks = str(args.get("weeks") or "").strip()
    if view == "daily":
        weeks = 1
    else:
        try:
            weeks = int(raw_weeks) if raw_weeks else DEFAULT_WEEKS
        except ValueError as exc:
            raise ScheduleError("Weeks must be a whole number.", 400) from exc
        if not 1 <= weeks <= MAX_WEEKS:
            raise ScheduleError(f"Show between 1 and {MAX_WEEKS} weeks.", 400)
    return Window(week_of(day, week_start), weeks, view)


# --- the figures --------------------------------------------------------------------------------


@dataclass
class PersonDay:
    capacity: DayCapacity
    scheduled: int = 0  # seconds, published and not
    unpublished: int = 0
    tracked: int = 0


@dataclass
class Person:
    id: str
    name: str
    days: dict[date, PersonDay]
    # Seconds per (project id, day): what the cell details and the variance break down.
    scheduled_by_project: dict[tuple[str, date], int] = field(default_factory=dict)
    tracked_by_project: dict[tuple[str, date], int] = field(default_factory=dict)


@dataclass
class Plan:
    window: Window
    today: date
    people: list[Person]
    bookings: list[totals.Booking]
    projects: dict[str, str]  # id → name, for every project on the plan
    group_id: str | None = None
    project_id: str | None = None

    def person(self, user_id: str) -> Person | None:
        return next((p for p in self.people if p.id == user_id), None)


def build_plan(
    client: Any,
    directory: Directory,
    window: Window,
    today: date,
    default_zone: str,
    scope: Scope,
    *,
    group_id: str | None = None,
    project_id: str | None = None,
) -> Plan:
    """Every visible person's capacity, scheduled and tracked seconds per day of the window (Clockify reads only)."""
    days = window.days
    zones = zones_of(directory, default_zone)
    start = datetime.combine(window.first, datetime.min.time(), tzinfo=UTC) - ZONE_MARGIN
    end = datetime.combine(window.last + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + ZONE_MARGIN
    # The five reads do not depend on each other: run side by side, a render waits for the longest one only
    # (the client's limiter still paces them together).
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="schedule-read") as pool:
        people_read = pool.submit(totals.people_capacity, client, window.first, window.last)
        holidays_read = pool.submit(read_holidays, client)
        absences_read = pool.submit(read_absences, client, window.first, window.last, zones, default_zone)
        bookings_read = pool.submit(totals.bookings_in, client, window.first, window.last)
        # Tracked time only exists up to now: a range wholly in the future needs no report.
        entries_read = pool.submit(
            lambda: list(totals.tracked_entries(client, (start, end))) if window.first <= today else []
        )
        people, holidays, absences = people_read.result(), holidays_read.result(), absences_read.result()
        bookings, entries = bookings_read.result(), entries_read.result()
    capacity = capacity_by_day(people, days, holidays, absences, directory)

    wanted = set(people)
    if group_id:
        members = {u for g in directory.groups if g.get("id") == group_id for u in g.get("userIds") or ()}
        wanted &= members
    wanted = {u for u in wanted if scope.sees(u) and _listed(people[u], directory)}
    if project_id:
        on_project = {b.user_id for b in bookings if b.project_id == project_id}
        on_project |= {e.user_id for e in entries if e.project_id == project_id}
        wanted &= on_project

    rows: dict[str, Person] = {}
    for user_id in wanted:
        person = people[user_id]
        rows[user_id] = Person(
            id=user_id,
            name=directory.name(user_id) or person.name or user_id,
            days={d: PersonDay(capacity[user_id][d]) for d in days},
        )
    project_names: dict[str, str] = {}
    for booking in bookings:
        project_names.setdefault(booking.project_id, booking.project_name or "Without project")
        row = rows.get(booking.user_id)
        if row is None or (project_id and booking.project_id != project_id):
            continue
        person = people[booking.user_id]
        day = max(booking.start, window.first)
        while day <= min(booking.end, window.last):
            # Assignments book working days only (the scheduling totals count them so).
            if person.works_on(day):
                cell = row.days[day]
                cell.scheduled += booking.seconds_per_day
                if not booking.published:
                    cell.unpublished += booking.seconds_per_day
                key = (booking.project_id, day)
                row.scheduled_by_project[key] = row.scheduled_by_project.get(key, 0) + booking.seconds_per_day
            day += timedelta(days=1)
    for entry in entries:
        project_names.setdefault(entry.project_id, entry.project_name or "Without project")
        row = rows.get(entry.user_id)
        if row is None or (project_id and entry.project_id != project_id):
            continue
        day = entry.start.astimezone(zone_or_utc(zones.get(entry.user_id, default_zone))).date()
        if day not in row.days or day > today:
            continue
        row.days[day].tracked += entry.seconds
        key = (entry.project_id, day)
        row.tracked_by_project[key] = row.tracked_by_project.get(key, 0) + entry.seconds
    ordered = sorted(rows.values(), key=lambda p: (p.name.lower(), p.id))
    return Plan(window, today, ordered, bookings, project_names, group_id, project_id)


def _listed(person: totals.PersonCapacity, directory: Directory) -> bool:
    """Active people only: someone who left has no capacity to plan against."""
    if str(person.status or "ACTIVE").upper() != "ACTIVE":
        return False
    return person.user_id not in directory.users or directory.is_active(person.user_id)


# --- the heatmap --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    user_id: str
    first: date
    last: date
    scheduled: int
    unpublished: int
    capacity: int
    tracked: int
    elapsed_capacity: int  # capacity of the days up to today: what actual is measured against
    band: str
    actual_band: str | None
    reasons: tuple[str, ...]

    @property
    def percent(self) -> float | None:
        return 100.0 * self.scheduled / self.capacity if self.capacity else None

    @property
    def actual_percent(self) -> float | None:
        return 100.0 * self.tracked / self.elapsed_capacity if self.elapsed_capacity else None


def hours(seconds: int) -> str:
    """Decimal hours with two places: the value of the cells' data attributes."""
    return f"{seconds / 3600:.2f}"


@functools.lru_cache(maxsize=1024)
def _day_label(day: date) -> str:
    """ "Mon 2 Dec", as the page says what reduced a day's capacity."""
    return f"{WEEKDAYS[day.weekday()][:3].title()} {day.day} {day.strftime('%b')}"


def cell_for(person: Person, first: date, last: date, today: date, under: float, over: float) -> Cell:
    days = [d for d in (first + timedelta(days=i) for i in range((last - first).days + 1)) if d in person.days]
    scheduled = sum(person.days[d].scheduled for d in days)
    capacity = sum(person.days[d].capacity.net for d in days)
    past = [d for d in days if d <= today]
    tracked = sum(person.days[d].tracked for d in past)
    elapsed = sum(person.days[d].capacity.net for d in past)
    # With no capacity at all (a day off, a holiday), any booking is over; none at all has no band.
    band = "over" if scheduled else "none"
    if capacity:
        band = utilization_band(100.0 * scheduled / capacity, under, over)
    actual_band = None
    if past:
        actual_band = utilization_band(100.0 * tracked / elapsed, under, over) if elapsed else None
    reasons = tuple(
        f"{_day_label(d)}: {r}"
        for d in days
        if person.days[d].capacity.reasons
        for r in person.days[d].capacity.reasons
    )
    return Cell(
        person.id,
        first,
        last,
        scheduled,
        sum(person.days[d].unpublished for d in days),
        capacity,
        tracked,
        elapsed,
        band,
        actual_band,
        reasons,
    )


@dataclass(frozen=True)
class HeatmapRow:
    person: Person
    cells: list[Cell]
    reasons: tuple[str, ...]  # what reduced capacity anywhere in the range, said once per row


def heatmap(plan: Plan, under: float, over: float) -> list[HeatmapRow]:
    rows = []
    for person in plan.people:
        cells = [cell_for(person, a, b, plan.today, under, over) for a, b in plan.window.columns()]
        reasons = tuple(dict.fromkeys(r for c in cells for r in c.reasons))
        rows.append(HeatmapRow(person, cells, reasons))
    return rows


@dataclass(frozen=True)
class CellDetail:
    cell: Cell
    person: Person
    bookings: list[totals.Booking]
    tracked: list[tuple[str, int]]  # (project name, seconds)
    scheduled: list[tuple[str, int]]
    holidays: list[str]  # as Clockify's holidays/in-period lists them for this person


def cell_detail(plan: Plan, user_id: str, first: date, last: date, under: float, over: float) -> CellDetail:
    """What is behind one cell: the person's assignments, time off, holidays and tracked hours by project."""
    person = plan.person(user_id)
    if person is None or first not in person.days or last not in person.days or last < first:
        raise ScheduleError("That cell is not on your heatmap.", 404)
    cell = cell_for(person, first, last, plan.today, under, over)
    bookings = sorted(
        (
            b
            for b in plan.bookings
            if b.user_id == user_id
            and b.start <= last
            and b.end >= first
            and (not plan.project_id or b.project_id == plan.project_id)
        ),
        key=lambda b: (b.start, b.project_name),
    )
    return CellDetail(
        cell,
        person,
        bookings,
        _by_project(plan, person.tracked_by_project, first, last),
        _by_project(plan, person.scheduled_by_project, first, last),
        [],
    )


def _by_project(plan: Plan, figures: Mapping[tuple[str, date], int], first: date, last: date) -> list[tuple[str, int]]:
    sums: dict[str, int] = {}
    for (project_id, day), seconds in figures.items():
        if first <= day <= last:
            sums[project_id] = sums.get(project_id, 0) + seconds
    return sorted(((plan.projects.get(p) or "Without project", s) for p, s in sums.items()), key=lambda x: -x[1])


def holidays_for(client: Any, user_id: str, first: date, last: date) -> list[str]:
    """Clockify's own list of the holidays that apply to one person in [first, last] (one call)."""
    return [f"{h.name or 'Holiday'}" for h in client.list_holidays_in_period(user_id, first, last)]


# --- variance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VarianceRow:
    key: str
    name: str
    scheduled: int
    tracked: int
    estimate: str | None = None  # "120:00 h" or a budget, shown as given
    exhausted_on: date | None = None
    estimate_note: str | None = None
    # A budget estimate, in minor units: the budget, what tracked time has used of it (all time), and the
    # range's schedule still ahead priced at the project's rate (what the exhaustion date runs through).
    budget: int | None = None
    tracked_cost: int | None = None
    scheduled_cost: int | None = None

    @property
    def delta(self) -> int:
        return self.tracked - self.scheduled

    @property
    def delta_percent(self) -> float | None:
        return 100.0 * self.delta / self.scheduled if self.scheduled else None


SORTS = ("name", "scheduled", "tracked", "delta", "delta_percent")


def sort_rows(rows: list[VarianceRow], sort: str, descending: bool) -> list[VarianceRow]:
    if sort not in SORTS:
        raise ScheduleError("Unknown sort column.", 400)

    def key(row: VarianceRow) -> Any:
        value = getattr(row, sort)
        if sort == "name":
            return (value.lower(), row.key)
        return (value if value is not None else float("-inf"), row.name.lower())

    return sorted(rows, key=key, reverse=descending)


def variance_by_person(plan: Plan) -> list[VarianceRow]:
    """Scheduled against tracked per person over the range's elapsed days (tracked time exists up to today)."""
    rows = []
    for person in plan.people:
        elapsed = [d for d in person.days if d <= plan.today]
        rows.append(
            VarianceRow(
                person.id,
                person.name,
                sum(person.days[d].scheduled for d in elapsed),
                sum(person.days[d].tracked for d in elapsed),
            )
        )
    return rows


@dataclass(frozen=True)
class Estimate:
    seconds: int | None = None
    amount: int | None = None  # minor units
    rate: int | None = None  # minor units per hour, to price scheduled hours against a budget


def estimate_of(project: Any) -> Estimate | None:
    """A project's active time estimate (ISO duration, or milliseconds as TimeEstimateDto says) or budget."""
    raw = project.raw if hasattr(project, "raw") else project
    time_estimate = raw.get("timeEstimate") if isinstance(raw.get("timeEstimate"), dict) else {}
    if time_estimate and time_estimate.get("active", True):
        value = time_estimate.get("estimate")
        seconds = None
        if isinstance(value, str) and value.startswith("P"):
            seconds = _iso_seconds(value)
        elif isinstance(value, str | int) and str(value).isdigit():
            seconds = int(value) // 1000
        if seconds:
            return Estimate(seconds=seconds)
    budget = raw.get("budgetEstimate") if isinstance(raw.get("budgetEstimate"), dict) else {}
    if budget and budget.get("active", True) and isinstance(budget.get("estimate"), int) and budget["estimate"] > 0:
        return Estimate(amount=int(budget["estimate"]), rate=getattr(project, "hourly_rate", None))
    return None


def _iso_seconds(value: str) -> int | None:
    seconds = parse_duration(value)
    return seconds if seconds and seconds > 0 else None


def variance_by_project(
    plan: Plan,
    projects: Iterable[Any],
    spent: Mapping[str, tuple[int, int]],
) -> list[VarianceRow]:
    """Per project: scheduled against tracked to date, and against its estimate with the day the plan uses it up.

    `spent` is each project's tracked (seconds, amount) up to today, all time: what the estimate has left.
    """
    scheduled: dict[str, int] = {}
    tracked: dict[str, int] = {}
    future: dict[str, dict[date, int]] = {}
    for person in plan.people:
        for (project_id, day), seconds in person.scheduled_by_project.items():
            if day <= plan.today:
                scheduled[project_id] = scheduled.get(project_id, 0) + seconds
            else:
                future.setdefault(project_id, {})[day] = future.get(project_id, {}).get(day, 0) + seconds
        for (project_id, _day), seconds in person.tracked_by_project.items():
            tracked[project_id] = tracked.get(project_id, 0) + seconds
    by_id = {p.id: p for p in projects}
    rows = []
    for project_id in sorted(set(scheduled) | set(tracked) | set(future)):
        name = plan.projects.get(project_id) or "Without project"
        estimate = estimate_of(by_id[project_id]) if project_id in by_id else None
        row = VarianceRow(project_id, name, scheduled.get(project_id, 0), tracked.get(project_id, 0))
        if estimate is not None:
            row = _against_estimate(row, estimate, spent.get(project_id, (0, 0)), future.get(project_id, {}), plan)
        rows.append(row)
    return rows


def _against_estimate(
    row: VarianceRow, estimate: Estimate, used: tuple[int, int], future: Mapping[date, int], plan: Plan
) -> VarianceRow:
    label, exhausted, note = _exhaustion(estimate, used[0], used[1], future, plan)
    row = replace(row, estimate=label, exhausted_on=exhausted, estimate_note=note)
    if estimate.amount is None:
        return row
    ahead = sum(_priced(seconds, estimate.rate) for seconds in future.values()) if estimate.rate else None
    return replace(row, budget=estimate.amount, tracked_cost=used[1], scheduled_cost=ahead)


def _priced(seconds: int, rate: int) -> int:
    """Scheduled seconds at an hourly rate, in minor units."""
    return round(seconds / 3600 * rate)


def _exhaustion(
    estimate: Estimate, used_seconds: int, used_amount: int, future: Mapping[date, int], plan: Plan
) -> tuple[str, date | None, str]:
    if estimate.seconds is not None:
        left = estimate.seconds - used_seconds
        label = f"{estimate.seconds / 3600:.0f} h"

        def cost(seconds: int) -> int:
            return seconds

    else:
        assert estimate.amount is not None
        left = estimate.amount - used_amount
        label = f"budget {estimate.amount / 100:.2f}"
        rate = estimate.rate or 0
        if not rate:
            return label, None, "no rate to price the schedule"

        def cost(seconds: int) -> int:
            return _priced(seconds, rate)

    if left <= 0:
        return label, plan.today, "already used up"
    running = 0
    for day in sorted(future):
        running += cost(future[day])
        if running >= left:
            return label, day, "at the current schedule"
    return label, None, f"lasts beyond {plan.window.last.isoformat()}"


# --- caching ------------------------------------------------------------------------------------

PLAN_TTL_SECONDS = 60.0
# Bounded like every per-process cache, and emptied of a workspace at DELETED (extensions.forget_workspace).
_plans: BoundedCache[tuple[Any, ...], Plan] = BoundedCache(
    64, ttl=PLAN_TTL_SECONDS, workspace_of=lambda key, _plan: str(key[0])
)


def cached_plan(key: tuple[Any, ...], build: Any) -> Plan:
    """The plan for `key` (workspace, version, range, filters, viewer scope), built at most once a minute.

    The key carries the workspace's schedule version, so a webhook that changes the schedule makes the next
    render read afresh; a cell's details reuse the heatmap's reads.
    """
    hit = _plans.get(key)
    if hit is not None:
        return hit
    plan = build()
    _plans.put(key, plan)
    return plan
