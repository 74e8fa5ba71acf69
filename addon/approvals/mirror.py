"""The mirror of Clockify's approval requests: parsing their shape, reading them, storing them newest-first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..clockify import payloads
from ..clockify.payloads import as_dict, raw_of, short_text
from ..extensions import db, utcnow
from ..formatting import zone_or_utc
from ..workspace.periods import request_days
from .models import ApprovalRequestRecord

log = logging.getLogger(__name__)

STATES = ("PENDING", "APPROVED", "REJECTED", "WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL")


NOTE_MAX = 1000


# How far back reconciliation re-reads requests: a monthly period plus late decisions on it.
RECONCILE_DAYS = 45

# Clockify's clock and ours may differ a little; a change time further ahead than this is not believed
# (a forged delivery stamped in 2099 would otherwise outrank every real change).
CLOCK_SKEW = timedelta(minutes=5)

# Reading one request means walking the listing (the API has no read by id): never more than this many.
FIND_LIMIT = 2000


def parse_duration(value: Any) -> int:
    """Seconds in an ISO-8601 duration such as PT1H30M (what the approvals API returns); 0 when unusable."""
    return max(payloads.parse_duration(value) or 0, 0)


def parse_instant(value: Any) -> datetime | None:
    return payloads.parse_datetime(value)


def _money(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


@dataclass(frozen=True)
class RequestData:
    """The fields Closeout keeps from an ApprovalRequestDtoV1 (a webhook body or a listing's approvalRequest)."""

    clockify_id: str
    user_id: str
    user_name: str | None
    time_zone: str
    period_start: date
    period_end: date
    state: str
    note: str | None
    updated_at: datetime | None
    updated_by: str | None
    updated_by_name: str | None


def parse_request(body: Any) -> RequestData | None:
    """The request in a webhook body or listing item, or None when it lacks what the queue needs."""
    body = as_dict(body)
    owner = as_dict(body.get("owner"))
    status = as_dict(body.get("status"))
    date_range = as_dict(body.get("dateRange"))
    clockify_id = body.get("id")
    user_id = owner.get("userId")
    state = status.get("state")
    start = parse_instant(date_range.get("start"))
    end = parse_instant(date_range.get("end"))
    if not (isinstance(clockify_id, str) and clockify_id and isinstance(user_id, str) and user_id):
        return None
    if state not in STATES or start is None:
        return None
    # The webhook sample spells owner.timezone, the API's DTO owner.timeZone (platform.md §7.3).
    zone_name = owner.get("timeZone") or owner.get("timezone") or "UTC"
    owner_zone = zone_or_utc(zone_name if isinstance(zone_name, str) else "UTC")
    start_day, end_day = request_days(start, end, owner_zone.key)
    return RequestData(
        clockify_id=clockify_id[:64],
        user_id=user_id[:64],
        user_name=short_text(owner.get("userName")),
        time_zone=owner_zone.key,
        period_start=start_day,
        period_end=end_day,
        state=state,
        note=short_text(status.get("note"), NOTE_MAX),
        updated_at=parse_instant(status.get("updatedAt")),
        updated_by=short_text(status.get("updatedBy"), 64),
        updated_by_name=short_text(status.get("updatedByUserName")),
    )


def entry_stats(entries: Any, time_zone: str) -> dict[str, Any]:
    """Per-day tracked seconds, entries without a project and overlapping entries, from embedded entries."""
    zone = zone_or_utc(time_zone)
    per_day: dict[str, int] = {}
    without_project = 0
    intervals: list[tuple[datetime, datetime]] = []
    count = 0
    for entry in entries if isinstance(entries, list) else []:
        entry = as_dict(entry)
        if entry.get("type") in ("BREAK", "HOLIDAY", "TIME_OFF"):
            continue
        interval = as_dict(entry.get("timeInterval"))
        start = parse_instant(interval.get("start"))
        end = parse_instant(interval.get("end"))
        seconds = parse_duration(interval.get("duration"))
        if start is None:
            continue
        if end is None and seconds:
            end = start + timedelta(seconds=seconds)
        if not seconds and end is not None:
            seconds = max(int((end - start).total_seconds()), 0)
        count += 1
        day = start.astimezone(zone).date().isoformat()
        per_day[day] = per_day.get(day, 0) + seconds
        project = as_dict(entry.get("project"))
        if not (project.get("id") or entry.get("projectId")):
            without_project += 1
        if end is not None and end > start:
            intervals.append((start, end))
    intervals.sort()
    overlapping = 0
    latest_end: datetime | None = None
    for start, end in intervals:
        if latest_end is not None and start < latest_end:
            overlapping += 1
        latest_end = end if latest_end is None or end > latest_end else latest_end
    return {"per_day": per_day, "without_project": without_project, "overlapping": overlapping, "entries": count}


def record_request(
    workspace_id: str, data: RequestData, details: dict[str, Any] | None = None
) -> ApprovalRequestRecord:
    """Insert or update the mirror row; an older status never overwrites a newer one (webhooks reorder)."""
    record = db.session.scalar(
        sa.select(ApprovalRequestRecord).filter_by(workspace_id=workspace_id, clockify_id=data.clockify_id)
    )
    updated_at = trusted_time(data.updated_at)
    status = {
        "state": data.state,
        "status_note": data.note,
        "status_updated_at": updated_at,
        "status_updated_by": data.updated_by,
        "status_updated_by_name": data.updated_by_name,
    }
    status_changed = False
    if record is None:
        record = ApprovalRequestRecord(
            workspace_id=workspace_id,
            clockify_id=data.clockify_id,
            tracked_seconds=0,
            billable_seconds=0,
            break_seconds=0,
            expense_total=0.0,
            has_details=False,
            **status,
        )
        db.session.add(record)  # two workers inserting one request at once: the loser's event is retried
    elif _is_newer(updated_at, record.status_updated_at) and any(
        getattr(record, name) != value for name, value in status.items()
    ):
        _set_status_if_newer(record, updated_at, status)
        status_changed = True  # this change, or a newer one written meanwhile: either way the row moved
    record.user_id = data.user_id
    record.user_name = data.user_name or record.user_name
    record.period_start = data.period_start
    record.period_end = data.period_end
    if details is not None:
        record.tracked_seconds = parse_duration(details.get("trackedTime"))
        record.billable_seconds = parse_duration(details.get("billableTime"))
        record.break_seconds = parse_duration(details.get("breakTime"))
        record.expense_total = _money(details.get("expenseTotal"))
        record.entry_stats = entry_stats(details.get("entries"), data.time_zone)
        record.has_details = True
    # queue_version follows synced_at, and every open tab reloads when it moves: only a real change may.
    if record.synced_at is None or status_changed or db.session.is_modified(record):
        record.synced_at = utcnow()
    return record


def _set_status_if_newer(record: ApprovalRequestRecord, updated_at: datetime | None, status: dict[str, Any]) -> None:
    """Write the status in the database only if it is still newer there, then read back what it holds.

    The row read earlier may be stale: another worker can have applied a newer change of the same
    request since. The condition is checked by the UPDATE itself (PostgreSQL re-reads a row another
    transaction changed before updating it), so an older change never lands after a newer one.
    """
    column = ApprovalRequestRecord.status_updated_at
    untrusted = column > utcnow() + CLOCK_SKEW  # written before future times were refused: never outranks
    still_newer = (
        sa.or_(column.is_(None), untrusted)
        if updated_at is None
        else sa.or_(column.is_(None), untrusted, column <= updated_at)
    )
    db.session.execute(
        sa.update(ApprovalRequestRecord)
        .where(ApprovalRequestRecord.id == record.id, still_newer)
        .values(**status)
        .execution_options(synchronize_session=False)
    )
    # The row as the database now has it: this change, or a newer one another worker applied first.
    db.session.refresh(record, list(status))


def trusted_time(value: datetime | None) -> datetime | None:
    """A change time as Closeout orders by it: None when it lies in the future."""
    if value is not None and value > utcnow() + CLOCK_SKEW:
        return None
    return value


def _is_newer(incoming: datetime | None, stored: datetime | None) -> bool:
    if stored is None or trusted_time(stored) is None:
        return True
    if incoming is None:
        return False
    return incoming >= stored


def fetch_requests(client: Any, since: date) -> list[tuple[RequestData, dict[str, Any]]]:
    """Every approval request (with its totals and entries) whose period ends on or after `since`.

    The listing cannot filter by date (only PENDING/APPROVED/WITHDRAWN_APPROVAL, and rejected ones are
    not listable by status: platform.md quirk 5), so it is read unfiltered, newest period first, and
    reading stops at the first item that ends before `since`. Only Clockify calls: nothing is written.
    """
    fetched: list[tuple[RequestData, dict[str, Any]]] = []
    for item in client.iter_approval_requests(sort_column="START", sort_order="DESCENDING", page_size=200):
        details = raw_of(item)
        data = parse_request(details.get("approvalRequest") or details)
        if data is None:
            continue
        if data.period_end < since:
            break
        fetched.append((data, details))
    return fetched


def store_requests(workspace_id: str, fetched: list[tuple[RequestData, dict[str, Any]]]) -> int:
    for data, details in fetched:
        record_request(workspace_id, data, details)
    db.session.flush()
    return len(fetched)


def find_request_details(client: Any, request_id: str, period_start: date) -> dict[str, Any] | None:
    """The listing item (with entries and totals) of one request: the API has no read by id.

    `period_start` is where to stop looking (the listing is read newest period first); it may come from a
    delivery, so the walk is bounded whatever it says.
    """
    listing = client.iter_approval_requests(sort_column="START", sort_order="DESCENDING", page_size=200)
    for count, item in enumerate(listing):
        if count >= FIND_LIMIT:
            return None
        details = raw_of(item)
        data = parse_request(details.get("approvalRequest") or details)
        if data is None:
            continue
        if data.clockify_id == request_id:
            return details
        if data.period_end < period_start:
            return None
    return None


def read_requests_in_state(client: Any, state: str, request_ids: set[str]) -> dict[str, RequestData]:
    """Which of these requests Clockify holds in `state` (listable states only), as Clockify has them."""
    found: dict[str, RequestData] = {}
    if not request_ids:
        return found
    for item in client.iter_approval_requests(state, page_size=200):
        details = raw_of(item)
        data = parse_request(details.get("approvalRequest") or details)
        if data is not None and data.clockify_id in request_ids and data.state == state:
            found[data.clockify_id] = data
            if len(found) == len(request_ids):
                break
    return found
