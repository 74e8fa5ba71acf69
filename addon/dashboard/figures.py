"""The period-close dashboard: figures for the current and previous period, stored as snapshots and kept fresh.

A refresh reads Clockify in about ten calls whatever the workspace size (paged lists and grouped reports, never
one call per person), then writes one snapshot row per period. The sidebar only reads snapshots; webhooks mark
them stale and queue one debounced refresh, the reconciler refreshes every active workspace, and admins can
refresh on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..approvals.mirror import RequestData, fetch_requests
from ..approvals.queue import NOT_SUBMITTED
from ..billing import ready, receivables
from ..extensions import db, utcnow
from ..formatting import zone_or_utc
from ..platform.models import Installation
from ..scheduling.capacity import net_capacity
from ..settings.schema import utilization_band
from ..settings.store import Settings
from ..workspace import totals
from ..workspace.directory import load_directory
from ..workspace.periods import Period, period_containing
from ..workspace.preferences import WorkspaceInfo
from .models import DashboardSnapshot

log = logging.getLogger(__name__)

# Events that move a dashboard figure; one refresh follows a burst of them.
RELEVANT_EVENTS = (
    "NEW_APPROVAL_REQUEST",
    "APPROVAL_REQUEST_STATUS_UPDATED",
    "NEW_INVOICE",
    "INVOICE_UPDATED",
    "NEW_TIME_ENTRY",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "USER_JOINED_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE",
    "USER_DELETED_FROM_WORKSPACE",
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_UPDATED",
    "ASSIGNMENT_DELETED",
    "ASSIGNMENT_PUBLISHED",
)
DEBOUNCE_SECONDS = 20


@dataclass(frozen=True)
class Periods:
    current: Period
    previous: Period


def periods_for(info: WorkspaceInfo, now: datetime | None = None) -> Periods:
    """The current and the previous approval period, on the workspace's calendar."""
    today = (now or utcnow()).astimezone(zone_or_utc(info.time_zone)).date()
    current = period_containing(today, info.approval_period, info.week_start)
    return Periods(current, current.previous(info.week_start))


# --- computing ----------------------------------------------------------------------------------


def _requests(client: Any, since: date) -> list[RequestData]:
    """Every request whose period ends on or after `since`, read and parsed as the approvals tab reads them,
    so the dashboard and the tab count pending, approved and missing timesheets alike."""
    return [data for data, _ in fetch_requests(client, since)]


def compute(
    workspace_id: str, client: Any, info: WorkspaceInfo, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Every figure for the current and previous period (Clockify calls, and billing's own figures).

    Returns {period start ISO: figures}; the current period's figures also carry the overdue invoices, from
    billing's copy of them (filled from Clockify once if it is empty; nothing else is written).
    """
    now = now or utcnow()
    zone = zone_or_utc(info.time_zone)
    periods = periods_for(info, now)
    requests = _requests(client, periods.previous.start)
    receivables.fill_once(workspace_id, client)
    invoices = asdict(receivables.open_overdue(workspace_id, now.astimezone(zone).date(), zone))
    under, over = settings["scheduling.under_max_percent"], settings["scheduling.over_min_percent"]
    # Capacity is the schedule tab's: net of holidays and approved time off, so both count alike.
    directory = load_directory(client.workspace_id, client)
    spans = [(p.start, p.end) for p in (periods.current, periods.previous)]
    plans = {span: totals.people_capacity(client, *span) for span in spans}
    net = net_capacity(client, plans[spans[0]] | plans[spans[1]], spans, directory, info.time_zone)
    result: dict[str, Any] = {}
    for which, period in (("current", periods.current), ("previous", periods.previous)):
        bounds = period.utc_bounds(info.time_zone)
        tracked = totals.tracked_people(client, bounds)
        span = (period.start, period.end)
        scheduled = {
            user_id: totals.ScheduledPerson(
                name=person.name,
                status=person.status,
                scheduled=sum(person.scheduled_by_day.values()),
                capacity=net[span].get(user_id, 0),
            )
            for user_id, person in plans[span].items()
        }
        unbilled = [asdict(row) for row in ready.unbilled_by_client(workspace_id, client, bounds)]
        in_period = [r for r in requests if period.start <= r.period_start <= period.end]
        pending = sum(1 for r in in_period if r.state == "PENDING")
        approved_users = {r.user_id for r in in_period if r.state == "APPROVED"}
        submitted = {r.user_id for r in in_period if r.state not in NOT_SUBMITTED}
        active = {u for u, p in scheduled.items() if str(p.status or "ACTIVE").upper() == "ACTIVE"}
        with_time = {u for u, p in tracked.items() if p.tracked > 0}
        expected = with_time | submitted
        missing = sorted(u for u in with_time - submitted if not active or u in active)
        people: dict[str, dict[str, Any]] = {}
        for user_id in set(tracked) | set(scheduled):
            plan, actual = scheduled.get(user_id), tracked.get(user_id)
            people[user_id] = {
                "name": (actual.name if actual else None) or (plan.name if plan else None) or user_id,
                "scheduled": plan.scheduled if plan else 0,
                "capacity": plan.capacity if plan else 0,
                "tracked": actual.tracked if actual else 0,
            }
        over_people: list[dict[str, Any]] = []
        under_people: list[dict[str, Any]] = []
        for user_id, person in people.items():
            if person["capacity"] <= 0 or (active and user_id not in active):
                continue
            percent = 100.0 * person["scheduled"] / person["capacity"]
            band = utilization_band(percent, under, over)
            row = {"id": user_id, "name": person["name"], "percent": round(percent, 1)}
            if band == "over":
                over_people.append(row)
            elif band == "under":
                under_people.append(row)
        result[period.key] = {
            "which": which,
            "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "kind": period.kind},
            "timesheets": {
                "expected": len(expected),
                "approved": len(approved_users),
                "pending": pending,
                "missing": len(missing),
                "missing_users": [{"id": u, "name": people.get(u, {}).get("name") or u} for u in missing][:50],
                "approved_percent": round(100.0 * len(approved_users) / len(expected), 1) if expected else None,
            },
            "unbilled": {
                "total": sum(c["amount"] for c in unbilled),
                "currency": info.currency,
                "clients": [{**row, "id": row.pop("client_id")} for row in unbilled][:20],
            },
            "allocation": {
                "over": sorted(over_people, key=lambda r: -r["percent"])[:50],
                "under": sorted(under_people, key=lambda r: r["percent"])[:50],
                "bands": [under, over],
            },
            "people": people,
        }
        if which == "current":
            result[period.key]["invoices"] = invoices
    return result


# --- storing and reading ------------------------------------------------------------------------


def store(workspace_id: str, figures: Mapping[str, Any], now: datetime | None = None) -> list[DashboardSnapshot]:
    """Write one snapshot per period (replacing an earlier one) and clear its stale mark; the caller commits."""
    now = now or utcnow()
    rows = []
    for key, data in figures.items():
        start = date.fromisoformat(key)
        query = sa.select(DashboardSnapshot).filter_by(workspace_id=workspace_id, period_start=start)
        row = db.session.scalar(query.with_for_update())
        if row is None:
            row = DashboardSnapshot(workspace_id=workspace_id, period_start=start)
            try:
                with db.session.begin_nested():
                    _fill(row, data, now)
                    db.session.add(row)
            except IntegrityError:  # a concurrent refresh inserted it first: update theirs
                row = db.session.scalar(query)
                if row is None:
                    raise
        _fill(row, data, now)
        rows.append(row)
    db.session.flush()
    return rows


def _fill(row: DashboardSnapshot, data: Mapping[str, Any], now: datetime) -> None:
    row.period_end = date.fromisoformat(data["period"]["end"])
    row.period_kind = data["period"]["kind"]
    row.figures = dict(data)
    row.refreshed_at = now
    row.stale_since = None


def refresh(
    installation: Installation, client: Any, info: WorkspaceInfo, settings: Settings, now: datetime | None = None
) -> list[DashboardSnapshot]:
    """Recompute and store both periods' figures (Clockify first, then a short write); the caller commits."""
    figures = compute(installation.workspace_id, client, info, settings, now)
    return store(installation.workspace_id, figures, now)


@dataclass(frozen=True)
class Dashboard:
    current: DashboardSnapshot | None
    previous: DashboardSnapshot | None
    periods: Periods

    @property
    def refreshed_at(self) -> datetime | None:
        stamps = [s.refreshed_at for s in (self.current, self.previous) if s is not None]
        return min(stamps) if stamps else None

    @property
    def is_stale(self) -> bool:
        return any(s is not None and s.stale_since is not None for s in (self.current, self.previous))

    @property
    def is_complete(self) -> bool:
        return self.current is not None and self.previous is not None


def load(workspace_id: str, info: WorkspaceInfo, now: datetime | None = None) -> Dashboard:
    """The stored snapshots of the current and previous period (None where none was computed yet)."""
    periods = periods_for(info, now)
    rows = {
        row.period_start: row
        for row in db.session.scalars(
            sa.select(DashboardSnapshot).where(
                DashboardSnapshot.workspace_id == workspace_id,
                DashboardSnapshot.period_start.in_([periods.current.start, periods.previous.start]),
            )
        )
    }
    return Dashboard(rows.get(periods.current.start), rows.get(periods.previous.start), periods)


def mark_stale(workspace_id: str, now: datetime | None = None) -> bool:
    """Flag the workspace's snapshots stale; True when this is the first flag since the last refresh."""
    result = db.session.execute(
        sa.update(DashboardSnapshot)
        .where(DashboardSnapshot.workspace_id == workspace_id, DashboardSnapshot.stale_since.is_(None))
        .values(stale_since=now or utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
