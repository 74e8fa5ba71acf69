"""The approvals mirror, flags, visibility and auto-approval rules, on the real database (no Clockify needed)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from addon import exceptions
from addon.approvals import auto, decisions, mirror
from addon.approvals import queue as queues
from addon.approvals.models import ApprovalRequestRecord
from addon.clockify.payloads import parse_datetime
from addon.extensions import db
from addon.tokens import Role
from addon.workspace.directory import Directory
from addon.workspace.periods import Period

WS = "ws-alpha-0001"
WEEK = Period(date(2026, 11, 16), date(2026, 11, 22), "WEEKLY")


def request_body(
    request_id: str = "ar-1",
    user_id: str = "u-1",
    state: str = "PENDING",
    updated_at: str = "2026-11-23T09:00:00Z",
    start: str = "2026-11-16T00:00:00Z",
    end: str = "2026-11-23T00:00:00Z",
    time_zone_key: str = "timeZone",
) -> dict[str, Any]:
    return {
        "id": request_id,
        "workspaceId": WS,
        "dateRange": {"start": start, "end": end},
        "owner": {"userId": user_id, "userName": f"Person {user_id}", time_zone_key: "UTC", "startOfWeek": "MONDAY"},
        "status": {"state": state, "updatedAt": updated_at, "updatedBy": "boss", "note": f"{state} note"},
    }


def details(tracked: str = "PT40H", entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "trackedTime": tracked,
        "billableTime": "PT30H",
        "breakTime": "PT1H",
        "expenseTotal": 1250,
        "entries": entries if entries is not None else [entry("2026-11-16T09:00:00Z", "2026-11-16T17:00:00Z")],
    }


def entry(start: str, end: str, project: str | None = "p-1") -> dict[str, Any]:
    return {
        "id": f"e-{start}",
        "type": "REGULAR",
        "project": {"id": project} if project else None,
        "timeInterval": {"start": start, "end": end},
    }


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.rollback()


def test_durations_read_iso_8601_and_refuse_garbage():
    assert mirror.parse_duration("PT1H30M") == 5400
    assert mirror.parse_duration("P1DT2H") == 93600
    assert mirror.parse_duration("PT0.5H") == 1800
    assert mirror.parse_duration("nonsense") == 0
    assert mirror.parse_duration(None) == 0


def test_a_request_body_becomes_calendar_days_of_the_owners_period():
    data = mirror.parse_request(request_body())
    assert data is not None
    assert (data.period_start, data.period_end) == (WEEK.start, WEEK.end)
    assert data.state == "PENDING"


def test_the_webhook_spelling_of_the_owners_time_zone_is_accepted():
    data = mirror.parse_request(request_body(time_zone_key="timezone"))
    assert data is not None and data.time_zone == "UTC"


@pytest.mark.parametrize(
    "broken",
    [{}, {"id": "x"}, {**request_body(), "status": {"state": "EXPLODED"}}, {**request_body(), "owner": "nobody"}],
)
def test_a_request_body_without_what_the_queue_needs_is_ignored(broken):
    assert mirror.parse_request(broken) is None


def test_an_older_status_never_overwrites_a_newer_one(ctx):
    newer = mirror.parse_request(request_body(state="APPROVED", updated_at="2026-11-24T10:00:00Z"))
    older = mirror.parse_request(request_body(state="PENDING", updated_at="2026-11-23T09:00:00Z"))
    assert newer and older
    mirror.record_request(WS, newer)
    db.session.flush()
    record = mirror.record_request(WS, older, details())
    db.session.flush()
    assert record.state == "APPROVED"
    assert record.tracked_seconds == 40 * 3600  # the totals of a fresh listing are still taken
    assert db.session.query(ApprovalRequestRecord).count() == 1


def test_an_older_status_from_a_worker_holding_a_stale_read_does_not_land_after_a_newer_one(ctx):
    first = mirror.parse_request(request_body(state="PENDING", updated_at="2026-11-23T09:00:00Z"))
    older = mirror.parse_request(request_body(state="WITHDRAWN_SUBMISSION", updated_at="2026-11-24T08:00:00Z"))
    assert first and older
    mirror.record_request(WS, first)
    db.session.commit()
    stale = db.session.scalar(sa.select(ApprovalRequestRecord).filter_by(clockify_id="ar-1"))
    assert stale.state == "PENDING"  # this worker has read the row ...
    # ... when another worker applies a newer change of the same request and commits.
    with db.engine.begin() as other:
        other.execute(
            sa.update(ApprovalRequestRecord)
            .where(ApprovalRequestRecord.clockify_id == "ar-1")
            .values(state="APPROVED", status_updated_at=parse_datetime("2026-11-24T10:00:00Z"))
        )

    record = mirror.record_request(WS, older)
    db.session.commit()

    assert record.state == "APPROVED"
    db.session.expire_all()
    assert db.session.scalar(sa.select(ApprovalRequestRecord.state).filter_by(clockify_id="ar-1")) == "APPROVED"


def test_a_reread_of_the_same_status_writes_nothing(ctx):
    same = mirror.parse_request(request_body(state="PENDING", updated_at="2026-11-23T09:00:00Z"))
    assert same
    record = mirror.record_request(WS, same)
    db.session.commit()
    synced = record.synced_at

    mirror.record_request(WS, same)

    assert not db.session.is_modified(record)
    assert record.synced_at == synced


def test_entries_give_flags_for_long_days_missing_projects_and_overlaps(ctx):
    entries = [
        entry("2026-11-16T06:00:00Z", "2026-11-16T19:00:00Z"),
        entry("2026-11-17T09:00:00Z", "2026-11-17T12:00:00Z", project=None),
        entry("2026-11-17T11:00:00Z", "2026-11-17T13:00:00Z"),
    ]
    data = mirror.parse_request(request_body())
    assert data
    record = mirror.record_request(WS, data, details(entries=entries))
    assert queues.flags_for(record, max_daily_hours=12) == ["over_daily_max", "no_project", "overlap"]
    assert queues.flags_for(record, max_daily_hours=14) == ["no_project", "overlap"]


def directory() -> Directory:
    return Directory(
        users={u: {"id": u, "name": f"Person {u}", "status": "ACTIVE"} for u in ("u-1", "u-2", "u-3", "tm-1")},
        groups=[
            {"id": "g-1", "name": "Team one", "userIds": ["u-1", "tm-1"], "teamManagers": [{"id": "tm-1"}]},
            {"id": "g-2", "name": "Team two", "userIds": ["u-2"], "teamManagers": [{"id": "tm-2", "name": "TM2"}]},
        ],
    )


def test_owners_see_everyone_managers_their_groups_members_themselves():
    owner = queues.scope_for(queues.Viewer("o", Role.OWNER), directory())
    manager = queues.scope_for(queues.Viewer("tm-1", Role.TEAM_MANAGER), directory())
    member = queues.scope_for(queues.Viewer("u-3", Role.MEMBER), directory())
    assert owner.sees("u-2") and owner.may_decide("u-2")
    assert manager.sees("u-1") and manager.may_decide("u-1")
    assert not manager.sees("u-2") and not manager.may_decide("u-2")
    assert manager.sees("tm-1") and not manager.may_decide("tm-1")  # never one's own timesheet
    assert member.sees("u-3") and member.read_only and not member.sees("u-1")


def seed_period(ctx_records: list[tuple[str, str, str]]) -> None:
    for request_id, user_id, state in ctx_records:
        data = mirror.parse_request(request_body(request_id, user_id, state))
        assert data
        mirror.record_request(WS, data, details())
    db.session.flush()


def test_the_queue_shows_a_manager_only_their_team_with_plan_against_actual(ctx):
    seed_period([("ar-1", "u-1", "PENDING"), ("ar-2", "u-2", "PENDING"), ("ar-3", "u-3", "APPROVED")])
    scope = queues.scope_for(queues.Viewer("tm-1", Role.TEAM_MANAGER), directory())
    queue = queues.build_queue(WS, WEEK, scope, directory(), {"u-1": 32 * 3600}, queues.QueueFilters())
    assert [r.record.clockify_id for r in queue.rows] == ["ar-1"]
    row = queue.rows[0]
    assert row.variance_seconds == 8 * 3600
    assert row.variance_pct == pytest.approx(25.0)


def test_the_queue_filters_sorts_and_pages(ctx):
    seed_period([(f"ar-{i}", f"u-{i % 3 + 1}", "PENDING" if i % 2 else "APPROVED") for i in range(7)])
    scope = queues.scope_for(queues.Viewer("o", Role.OWNER), directory())
    pending = queues.build_queue(WS, WEEK, scope, directory(), {}, queues.QueueFilters(status="PENDING"), page_size=2)
    assert pending.total == 3 and pending.pages == 2 and len(pending.rows) == 2
    assert pending.counts["APPROVED"] == 4
    in_group = queues.build_queue(WS, WEEK, scope, directory(), {}, queues.QueueFilters(group_id="g-2"))
    assert {r.record.user_id for r in in_group.rows} == {"u-2"}
    by_manager = queues.build_queue(WS, WEEK, scope, directory(), {}, queues.QueueFilters(manager_id="tm-1"))
    assert {r.record.user_id for r in by_manager.rows} == {"u-1"}
    sorted_desc = queues.build_queue(
        WS, WEEK, scope, directory(), {}, queues.QueueFilters(sort="period", descending=True)
    )
    assert sorted_desc.total == 7


def test_filters_from_hostile_query_values_fall_back_to_defaults():
    filters = queues.parse_filters({"status": "DROP TABLE", "sort": "__class__", "page": "-5", "order": "x"})
    assert (filters.status, filters.sort, filters.page, filters.descending) == ("", "user", 1, False)


def test_rejecting_needs_a_note_and_managers_cannot_decide_other_teams(ctx):
    seed_period([("ar-1", "u-1", "PENDING"), ("ar-2", "u-2", "PENDING")])
    manager = queues.Viewer("tm-1", Role.TEAM_MANAGER)
    scope = queues.scope_for(manager, directory())
    with pytest.raises(exceptions.ApprovalError, match="note"):
        decisions.start_decisions(WS, manager, scope, "reject", ["ar-1"], "  ")
    with pytest.raises(exceptions.ApprovalError) as refused:
        decisions.start_decisions(WS, manager, scope, "approve", ["ar-1", "ar-2"], "")
    assert refused.value.status == 403
    job = decisions.start_decisions(WS, manager, scope, "approve", ["ar-1"], "fine")
    progress = decisions.job_progress(WS, job.id)
    assert (progress.total, progress.pending, progress.job.note) == (1, 1, "fine")


def test_only_pending_requests_can_be_approved_and_only_approved_ones_withdrawn(ctx):
    seed_period([("ar-1", "u-1", "APPROVED")])
    owner = queues.Viewer("o", Role.OWNER)
    scope = queues.scope_for(owner, directory())
    with pytest.raises(exceptions.ApprovalError, match="not pending"):
        decisions.start_decisions(WS, owner, scope, "approve", ["ar-1"], "")
    assert decisions.start_decisions(WS, owner, scope, "withdraw", ["ar-1"], "").action == "withdraw"


def test_a_mixed_selection_decides_the_pending_requests_and_skips_the_rest_with_their_reason(ctx):
    seed_period([("ar-1", "u-1", "PENDING"), ("ar-2", "u-2", "APPROVED"), ("ar-3", "u-3", "REJECTED")])
    owner = queues.Viewer("o", Role.OWNER)
    scope = queues.scope_for(owner, directory())

    job = decisions.start_decisions(WS, owner, scope, "approve", ["ar-1", "ar-2", "ar-3"], "")

    progress = decisions.job_progress(WS, job.id)
    assert (progress.total, progress.pending, progress.skipped) == (3, 1, 2)
    assert {i.subject_id: i.error for i in progress.skips} == {
        "ar-2": "Not pending: it is approved.",
        "ar-3": "Not pending: it is rejected.",
    }
    # A selection with nothing left to decide is still refused as a whole.
    with pytest.raises(exceptions.ApprovalError, match="2 selected request"):
        decisions.start_decisions(WS, owner, scope, "approve", ["ar-2", "ar-3"], "")


RULES = auto.Rules(
    enabled=True, dry_run=False, tolerance_percent=10, max_hours_per_day=10, require_project=True, user_groups=()
)


def pending_record(entries: list[dict[str, Any]] | None = None, tracked: str = "PT40H") -> ApprovalRequestRecord:
    data = mirror.parse_request(request_body())
    assert data
    return mirror.record_request(WS, data, details(tracked=tracked, entries=entries))


def test_a_timesheet_within_tolerance_and_rules_passes(ctx):
    verdict = auto.evaluate(pending_record(), RULES, 38 * 3600, set())
    assert verdict.passes, verdict.reason
    assert verdict.inputs["variance_percent"] == pytest.approx(5.26, abs=0.01)


@pytest.mark.parametrize(
    ("scheduled_hours", "entries", "groups", "rules", "reason"),
    [
        (30, None, set(), RULES, "against scheduled"),
        (0, None, set(), RULES, "nothing was scheduled"),
        (40, [entry("2026-11-16T06:00:00Z", "2026-11-16T17:00:00Z")], set(), RULES, "a day has"),
        (40, [entry("2026-11-16T09:00:00Z", "2026-11-16T10:00:00Z", project=None)], set(), RULES, "no project"),
        (40, None, {"g-9"}, auto.Rules(**{**RULES.__dict__, "user_groups": ("g-1",)}), "no user group"),
    ],
)
def test_a_timesheet_breaking_a_rule_is_held_with_the_reason(ctx, scheduled_hours, entries, groups, rules, reason):
    verdict = auto.evaluate(pending_record(entries), rules, scheduled_hours * 3600, groups)
    assert not verdict.passes
    assert reason in verdict.reason


def test_the_rule_name_in_the_note_says_what_was_checked():
    assert auto.approval_note(RULES) == (
        "Auto-approved by Closeout: within 10% of scheduled hours, no day over 10 h, a project on every entry, "
        "no overlapping entries."
    )


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Asia/Tokyo", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),  # UTC midnights whatever the owner's zone
        ("Asia/Tokyo", "2026-11-16T00:00:00Z", "2026-11-22T23:59:59.999Z"),  # an inclusive last instant
        ("Europe/Berlin", "2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z"),  # the owner's midnights
    ],
)
def test_a_weekly_range_is_the_same_seven_days_however_clockify_stamps_it(zone, start, end):
    body = request_body(start=start, end=end)
    body["owner"]["timeZone"] = zone
    data = mirror.parse_request(body)
    assert data is not None
    assert (data.period_start, data.period_end) == (WEEK.start, WEEK.end)


def listing(count: int, state: str = "PENDING", updated_at: str = "2026-11-23T09:00:00Z", tracked: str = "PT40H"):
    items = []
    for n in range(count):
        data = mirror.parse_request(request_body(f"ar-{n}", f"u-{n}", state, updated_at=updated_at))
        assert data
        items.append((data, details(tracked=tracked)))
    return items


def statements_storing(items: list[Any]) -> int:
    executed: list[str] = []

    def count(*_args: Any) -> None:
        executed.append("x")

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        mirror.store_requests(WS, items)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(executed)


@pytest.mark.parametrize("count", [10, 300])
def test_storing_a_listing_takes_the_same_statements_for_ten_requests_or_three_hundred(ctx, count):
    first = statements_storing(listing(count))
    db.session.commit()
    # Half change status in Clockify (newer), all change their totals; one older status is ignored.
    changed = listing(count // 2, "APPROVED", updated_at="2026-11-24T09:00:00Z", tracked="PT41H")
    again = changed + listing(count, updated_at="2026-11-20T09:00:00Z", tracked="PT41H")[count // 2 :]
    second = statements_storing(again)
    db.session.commit()
    unchanged = statements_storing(again)

    # Read + insert; read + status update + read back + other changes; read.
    assert (first, second, unchanged) == (2, 4, 1)
    states = dict(db.session.execute(sa.select(ApprovalRequestRecord.clockify_id, ApprovalRequestRecord.state)).all())
    assert sum(1 for s in states.values() if s == "APPROVED") == count // 2
    assert {r.tracked_seconds for r in db.session.scalars(sa.select(ApprovalRequestRecord))} == {41 * 3600}
