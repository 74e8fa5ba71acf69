"""The mirror of Clockify's approval requests: parsing their shape, reading them, storing them newest-first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..clockify import payloads
from ..clockify.payloads import as_dict, number, raw_of, short_text
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
    """The request in a webhook body, a listing item or a client answer (already parsed), or None when it
    lacks what the queue needs."""
    if isinstance(body, payloads.ApprovalRequest):
        request = body
    elif isinstance(body, dict):
        request = payloads.ApprovalRequest.from_api(body)
    else:
        return None
    if not (request.id and request.user_id and request.state in STATES and request.period_start is not None):
        return None
    # The webhook sample spells owner.timezone, the API's DTO owner.timeZone (the parser reads both).
    owner_zone = zone_or_utc(request.owner_time_zone or "UTC")
    start_day, end_day = request_days(request.period_start, request.period_end, owner_zone.key)
    return RequestData(
        clockify_id=request.id[:64],
        user_id=request.user_id[:64],
        user_name=short_text(request.user_name),
        time_zone=owner_zone.key,
        period_start=start_day,
        period_end=end_day,
        state=str(request.state),
        note=short_text(request.note, NOTE_MAX),
        updated_at=request.updated_at,
        updated_by=short_text(request.updated_by, 64),
        updated_by_name=short_text(request.updated_by_name),
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
        start = payloads.parse_datetime(interval.get("start"))
        end = payloads.parse_datetime(interval.get("end"))
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
    status = _status_of(data)
    status_changed = False
    if record is None:
        record = _new_record(workspace_id, data)
    elif _status_moves(record, status):
        _set_status_if_newer(record, status["status_updated_at"], status)
        status_changed = True  # this change, or a newer one written meanwhile: either way the row moved
    _apply(record, data, details, status_changed)
    return record


def _status_of(data: RequestData) -> dict[str, Any]:
    """The status columns of a request; a change time in the future is not trusted (kept as unknown)."""
    updated_at = trusted_time(data.updated_at)
    return {
        "state": data.state,
        "status_note": data.note,
        "status_updated_at": updated_at,
        "status_updated_by": data.updated_by,
        "status_updated_by_name": data.updated_by_name,
    }


def _new_record(workspace_id: str, data: RequestData, *, add: bool = True) -> ApprovalRequestRecord:
    record = ApprovalRequestRecord(
        workspace_id=workspace_id,
        clockify_id=data.clockify_id,
        tracked_seconds=0,
        billable_seconds=0,
        break_seconds=0,
        expense_total=0.0,
        has_details=False,
        **_status_of(data),
    )
    if add:
        db.session.add(record)  # two workers inserting one request at once: the loser's event is retried
    return record


def _status_moves(record: ApprovalRequestRecord, status: dict[str, Any]) -> bool:
    """True when `status` is newer than the row holds and differs from it."""
    return _is_newer(status["status_updated_at"], record.status_updated_at) and any(
        getattr(record, name) != value for name, value in status.items()
    )


def _apply(
    record: ApprovalRequestRecord, data: RequestData, details: dict[str, Any] | None, status_changed: bool
) -> None:
    """Everything but the status, in memory (written at the next flush)."""
    record.user_id = data.user_id
    record.user_name = data.user_name or record.user_name
    record.period_start = data.period_start
    record.period_end = data.period_end
    if details is not None:
        record.tracked_seconds = parse_duration(details.get("trackedTime"))
        record.billable_seconds = parse_duration(details.get("billableTime"))
        record.break_seconds = parse_duration(details.get("breakTime"))
        record.expense_total = number(details.get("expenseTotal"))
        record.entry_stats = entry_stats(details.get("entries"), data.time_zone)
        record.has_details = True
    # queue_version follows synced_at, and every open tab reloads when it moves: only a real change may.
    if record.synced_at is None or status_changed or db.session.is_modified(record):
        record.synced_at = utcnow()


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
    not listable by status: docs/clockify.md#quirk-5), so it is read unfiltered, newest period first, and
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


# Ids per IN list: well under SQLite's and PostgreSQL's limits on bound parameters.
STORE_CHUNK = 500


def store_requests(workspace_id: str, fetched: list[tuple[RequestData, dict[str, Any]]]) -> int:
    """Store a listing in a number of statements that does not grow with its length.

    One `IN` query per 500 ids reads the rows held; new rows are inserted together, status changes
    go out as one conditional UPDATE per shape (still only if newer in the database, as in
    `record_request`) and are read back in one query, and the other changes are flushed as
    executemany batches.
    """
    latest: dict[str, tuple[RequestData, dict[str, Any]]] = {}
    for data, details in fetched:
        latest[data.clockify_id] = (data, details)  # a listing may repeat an item across pages
    ids = list(latest)
    held: dict[str, ApprovalRequestRecord] = {}
    for start in range(0, len(ids), STORE_CHUNK):
        chunk = ids[start : start + STORE_CHUNK]
        query = sa.select(ApprovalRequestRecord).where(
            ApprovalRequestRecord.workspace_id == workspace_id, ApprovalRequestRecord.clockify_id.in_(chunk)
        )
        held.update((r.clockify_id, r) for r in db.session.scalars(query))

    moved = [r for cid, r in held.items() if _status_moves(r, _status_of(latest[cid][0]))]
    _set_statuses_if_newer(moved, {r.id: latest[r.clockify_id][0] for r in moved})
    changed = {r.clockify_id for r in moved}
    new_rows: list[dict[str, Any]] = []
    for clockify_id, (data, details) in latest.items():
        record = held.get(clockify_id)
        if record is None:
            record = _new_record(workspace_id, data, add=False)
            _apply(record, data, details, True)
            new_rows.append({c.key: getattr(record, c.key) for c in _COLUMNS})
        else:
            _apply(record, data, details, clockify_id in changed)
    db.session.flush()
    if new_rows:
        # One executemany INSERT (the ORM would insert row by row where it must read back each id).
        db.session.execute(sa.insert(ApprovalRequestRecord.__table__), new_rows)
    return len(fetched)


_COLUMNS = [c for c in ApprovalRequestRecord.__table__.columns if c.key != "id"]


def _set_statuses_if_newer(records: list[ApprovalRequestRecord], incoming: dict[int, RequestData]) -> None:
    """`_set_status_if_newer` for many rows: an executemany UPDATE per shape, then one read back."""
    if not records:
        return
    table = ApprovalRequestRecord.__table__
    column = table.c.status_updated_at
    statuses = {r.id: _status_of(incoming[r.id]) for r in records}
    names = list(statuses[records[0].id])
    values: dict[str, Any] = {name: sa.bindparam(f"new_{name}") for name in names}
    dated = [r for r in records if statuses[r.id]["status_updated_at"] is not None]
    undated = [r for r in records if statuses[r.id]["status_updated_at"] is None]
    untrusted = column > utcnow() + CLOCK_SKEW  # written before future times were refused: never outranks
    for group, still_newer in (
        (dated, sa.or_(column.is_(None), untrusted, column <= sa.bindparam("newer_than"))),
        (undated, sa.or_(column.is_(None), untrusted)),
    ):
        if not group:
            continue
        params = []
        for record in group:
            status = statuses[record.id]
            newer_than = status["status_updated_at"]
            params.append({"row_id": record.id, "newer_than": newer_than} | {f"new_{n}": status[n] for n in names})
        statement = sa.update(table).where(table.c.id == sa.bindparam("row_id"), still_newer).values(**values)
        db.session.execute(statement, params)
    # The rows as the database now has them: these changes, or newer ones another worker applied first.
    ids = [r.id for r in records]
    db.session.execute(
        sa.select(ApprovalRequestRecord)
        .where(ApprovalRequestRecord.id.in_(ids))
        .execution_options(populate_existing=True)
    ).all()


# The worker task that reads a period again in the background (jobs.py), and how old the last read must be
# before a repeat open asks for another: a tab reloaded twice in a few seconds reads Clockify once.
PERIOD_SYNC_TASK = "sync_approval_period"
REVALIDATE_AFTER_SECONDS = 30


def read_scope(period_start: date) -> str:
    """The preference-cache scope that records when a period's requests were last read from Clockify."""
    return f"approvals-read:{period_start.isoformat()}"


def sync_period(workspace_id: str, client: Any, period_start: date) -> int:
    """Read a period's requests from Clockify into the mirror (flushed; the caller commits)."""
    return store_requests(workspace_id, fetch_requests(client, period_start))


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
