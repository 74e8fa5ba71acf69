"""Approvals services against the sandbox over real HTTP: the queue, visibility, decisions, auto-approval."""

from __future__ import annotations

from typing import Any

import pytest
from flask import current_app

from addon import exceptions
from addon.approvals import auto, decisions, mirror
from addon.approvals import handlers as approval_handlers
from addon.approvals import queue as queues
from addon.approvals.models import AutoApprovalEvaluation
from addon.extensions import db
from addon.platform.clients import clients_for
from addon.platform.models import AuditEntry
from addon.tokens import Role, TokenContext, TokenKind, context, verifier_for
from addon.workspace import totals
from addon.workspace.directory import cache_key_for, load_directory

from .conftest import sandbox_request

pytestmark = pytest.mark.sandbox


def run_job(job_id: int) -> None:
    """Run a decision job here, as the worker's task does."""
    app = current_app._get_current_object()
    decisions.run_decision_job(job_id, clients_for(app), verifier_for(app))


def owner_of(sandbox: Any, demo: dict[str, Any]) -> tuple[queues.Viewer, queues.Scope, TokenContext]:
    """The workspace owner as a decider: viewer, scope and a fresh token of theirs (jobs decide with it)."""
    owner_id = first_user_with_role(sandbox, demo["workspace_id"], "OWNER")
    viewer, scope = viewer_scope(demo, owner_id, Role.OWNER)
    minted = sandbox.control("POST", "/tokens/user", {"role": "OWNER", "userId": owner_id}).json()
    return viewer, scope, context(minted["token"], minted["claims"], TokenKind.USER)


def viewer_scope(demo: dict[str, Any], user_id: str, role: Role) -> tuple[queues.Viewer, queues.Scope]:
    directory = load_directory(demo["workspace_id"], demo["client"], cache_key_for(demo["installation"]))
    viewer = queues.Viewer(user_id, role, directory.name(user_id))
    return viewer, queues.scope_for(viewer, directory)


def first_user_with_role(sandbox: Any, workspace_id: str, role: str) -> str:
    with sandbox.world.lock:
        users = sandbox.world.workspaces[workspace_id].users.values()
        return next(u["id"] for u in users if u.get("role") == role)


def test_the_last_closed_week_has_its_requests_with_totals_and_scheduled_hours(synced, request_log):
    demo = synced
    _, scope = viewer_scope(demo, "owner", Role.OWNER)
    directory = load_directory(demo["workspace_id"], demo["client"], cache_key_for(demo["installation"]))
    scheduled = totals.scheduled_seconds(demo["client"], demo["week"], "UTC")
    queue = queues.build_queue(
        demo["workspace_id"], demo["week"], scope, directory, scheduled, queues.QueueFilters(status="PENDING")
    )
    assert queue.total >= 30
    assert all(r.record.has_details and r.record.tracked_seconds > 0 for r in queue.rows)
    assert any(r.scheduled_seconds for r in queue.rows), "the demo schedule gives someone planned hours"
    assert all(r.record.period_start == demo["week"].start for r in queue.rows)


def test_reading_a_period_takes_a_handful_of_calls_not_one_per_row(demo, request_log, sandbox):
    sandbox.control("DELETE", "/requests")
    fetched = mirror.fetch_requests(demo["client"], demo["week"].start)
    mirror.store_requests(demo["workspace_id"], fetched)
    directory = load_directory(demo["workspace_id"], demo["client"], cache_key_for(demo["installation"]), fresh=True)
    totals.scheduled_seconds(demo["client"], demo["week"], "UTC")
    calls = request_log()
    assert len(fetched) >= 30
    assert len(calls) <= 6, [c.get("path") for c in calls]
    assert directory.users


def test_a_team_manager_sees_and_decides_only_the_groups_they_manage(synced, sandbox):
    demo = synced
    manager_id = first_user_with_role(sandbox, demo["workspace_id"], "TEAM_MANAGER")
    manager, scope = viewer_scope(demo, manager_id, Role.TEAM_MANAGER)
    with sandbox.world.lock:
        managed = sandbox.world.workspaces[demo["workspace_id"]].managed_user_ids(manager_id) - {manager_id}
    assert scope.decidable == frozenset(managed)
    records = queues.period_records(demo["workspace_id"], demo["week"])
    others = [r for r in records if r.user_id not in managed and r.state == "PENDING"]
    assert others, "the demo has pending requests outside this manager's teams"
    with pytest.raises(exceptions.ApprovalError) as refused:
        decisions.start_decisions(demo["workspace_id"], manager, scope, "approve", [others[0].clockify_id], "")
    assert refused.value.status == 403


def test_a_bulk_decision_approves_in_clockify_with_the_note_and_audits_each(synced, sandbox):
    demo = synced
    owner, scope, token = owner_of(sandbox, demo)
    pending = [r.clockify_id for r in queues.period_records(demo["workspace_id"], demo["week"]) if r.state == "PENDING"]
    job = decisions.start_decisions(demo["workspace_id"], owner, scope, "approve", pending[:5], "Looks right")
    decisions.store_user_token(job, token)
    db.session.commit()
    run_job(job.id)
    progress = decisions.job_progress(demo["workspace_id"], job.id)
    assert (progress.done, progress.failed, progress.finished) == (5, 0, True)
    for request_id in pending[:5]:
        held = sandbox_request(sandbox, demo["workspace_id"], request_id)
        assert (held["state"], held["note"]) == ("APPROVED", "Looks right")
    audits = db.session.scalars(db.select(AuditEntry).filter_by(action="approval.approve")).all()
    assert sorted(a.subject_id for a in audits) == sorted(pending[:5])
    assert {a.detail["acted_as"] for a in audits} == {"user"}
    assert {sandbox_request(sandbox, demo["workspace_id"], i)["updatedBy"] for i in pending[:5]} == {owner.user_id}


def test_a_refused_decision_fails_alone_with_its_reason_and_can_be_retried(synced, sandbox):
    demo = synced
    owner, scope, token = owner_of(sandbox, demo)
    pending = [r.clockify_id for r in queues.period_records(demo["workspace_id"], demo["week"]) if r.state == "PENDING"]
    job = decisions.start_decisions(demo["workspace_id"], owner, scope, "reject", pending[:3], "Missing hours")
    decisions.store_user_token(job, token)
    db.session.commit()
    fault = sandbox.control(
        "POST",
        "/faults",
        {
            "pattern": f"/api/v1/workspaces/*/approval-requests/{pending[1]}",
            "methods": ["PATCH"],
            "errorRate": 1,
            "errorStatus": 403,
        },
    )
    assert fault.status_code in (200, 201), fault.text
    run_job(job.id)
    progress = decisions.job_progress(demo["workspace_id"], job.id)
    assert (progress.done, progress.failed) == (2, 1)
    assert "Standard plan" in (progress.failures[0].error or "")
    sandbox.control("DELETE", "/faults")
    decisions.retry_failed(demo["workspace_id"], job.id, owner, scope)
    decisions.store_user_token(job, token)
    db.session.commit()
    run_job(job.id)
    assert decisions.job_progress(demo["workspace_id"], job.id).failed == 0
    assert sandbox_request(sandbox, demo["workspace_id"], pending[1])["state"] == "REJECTED"


def run_auto_approval(demo: dict[str, Any]) -> list[AutoApprovalEvaluation]:
    approval_handlers.reconcile_approvals(demo["installation"], demo["client"])
    db.session.commit()
    return list(db.session.scalars(db.select(AutoApprovalEvaluation)))


LENIENT = {
    "approvals.auto_enabled": True,
    "approvals.tolerance_percent": 100,
    "approvals.max_hours_per_day": 24,
    "approvals.require_project": False,
}


def test_auto_approval_in_dry_run_records_what_it_would_do_and_changes_nothing(demo, sandbox, set_settings):
    set_settings(demo["workspace_id"], **LENIENT, **{"approvals.dry_run": True})
    evaluations = run_auto_approval(demo)
    assert evaluations and all(e.is_dry_run for e in evaluations)
    would = [e for e in evaluations if e.outcome == "would_approve"]
    assert would, [e.reason for e in evaluations][:5]
    assert all(
        sandbox_request(sandbox, demo["workspace_id"], e.approval_request_id)["state"] == "PENDING" for e in would
    )
    assert {e.outcome for e in evaluations} <= {"would_approve", "held"}
    again = run_auto_approval(demo)
    assert len(again) == len(evaluations), "a request is evaluated once, not at every reconciliation"


def test_auto_approval_live_approves_with_a_note_naming_the_rule(demo, sandbox, set_settings):
    set_settings(demo["workspace_id"], **LENIENT, **{"approvals.dry_run": False})
    evaluations = run_auto_approval(demo)
    approved = [e for e in evaluations if e.outcome == "approved"]
    assert approved
    held = sandbox_request(sandbox, demo["workspace_id"], approved[0].approval_request_id)
    assert held["state"] == "APPROVED"
    assert held["note"] == auto.approval_note(auto.rules_for(demo["workspace_id"]))
    assert "within 100% of scheduled hours" in held["note"]
    assert all(not e.is_dry_run for e in evaluations)


def test_a_job_whose_worker_died_is_released_and_finished_by_the_next_run(synced, sandbox):
    from datetime import timedelta

    from addon.approvals.models import DecisionItem
    from addon.extensions import utcnow

    demo = synced
    owner, scope, token = owner_of(sandbox, demo)
    pending = [r.clockify_id for r in queues.period_records(demo["workspace_id"], demo["week"]) if r.state == "PENDING"]
    job = decisions.start_decisions(demo["workspace_id"], owner, scope, "approve", pending[:2], "")
    decisions.store_user_token(job, token)
    # A worker claimed the first item and died with it.
    first = db.session.scalars(db.select(DecisionItem).filter_by(job_id=job.id).order_by(DecisionItem.id)).first()
    first.status = "running"
    job.status = "running"
    job.created_at = utcnow() - timedelta(minutes=10)
    db.session.commit()

    assert not decisions.release_if_stalled(job, now=job.created_at + timedelta(seconds=30))
    assert decisions.release_if_stalled(job)
    db.session.commit()
    run_job(job.id)

    progress = decisions.job_progress(demo["workspace_id"], job.id)
    assert (progress.done, progress.failed, progress.finished) == (2, 0, True)
    assert all(sandbox_request(sandbox, demo["workspace_id"], i)["state"] == "APPROVED" for i in pending[:2])
