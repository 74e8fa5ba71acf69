"""Operator commands against a workspace installed on the sandbox: list, backlog, replay, reconcile, purge."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from addon.extensions import db, utcnow
from addon.jobs import jobs_for, start_consumer
from addon.platform.installations import workspace_tables
from addon.platform.models import InboxEvent

pytestmark = pytest.mark.sandbox


def dead_letter(app, workspace_id: str) -> int:
    """A delivery that failed its attempts (as a Clockify outage leaves one), about a real sandbox request."""
    with app.app_context():
        event = InboxEvent(
            workspace_id=workspace_id,
            event_type="NEW_APPROVAL_REQUEST",
            dedupe_key="dead-" + workspace_id,
            entity_id="missing-request",
            payload={"id": "missing-request", "workspaceId": workspace_id},
            status="dead",
            attempts=5,
            last_error="TransportError: Clockify did not answer",
            received_at=utcnow(),
            processed_at=utcnow(),
        )
        db.session.add(event)
        db.session.commit()
        return int(event.id)


def row(app, inbox_id: int) -> InboxEvent:
    with app.app_context():
        event = db.session.get(InboxEvent, inbox_id)
        db.session.expunge_all()
        return event


def test_list_show_and_replay_dead_letters(app, runner, installed):
    workspace_id = installed.workspace_id
    inbox_id = dead_letter(app, workspace_id)

    listed = runner.invoke(args=["installations", "--json"])
    assert listed.exit_code == 0, listed.output
    record = json.loads(listed.output.strip().splitlines()[0])
    assert record["workspace_id"] == workspace_id
    assert (record["state"], record["backlog"], record["dead"]) == ("active", 0, 1)
    assert workspace_id in runner.invoke(args=["installations"]).output

    shown = runner.invoke(args=["backlog", workspace_id])
    assert shown.exit_code == 0, shown.output
    assert "dead letters: 1" in shown.output
    assert f"#{inbox_id} NEW_APPROVAL_REQUEST attempts 5" in shown.output
    assert "Clockify did not answer" in shown.output

    assert runner.invoke(args=["replay-dead", "ws-not-installed"]).exit_code == 1
    replayed = runner.invoke(args=["replay-dead", workspace_id])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 dead letters, 1 queued" in replayed.output
    assert (row(app, inbox_id).status, row(app, inbox_id).attempts) == ("pending", 0)
    consumer = start_consumer(app, workers=1, max_delay=0.1)
    try:
        deadline = time.monotonic() + 60
        while row(app, inbox_id).status == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        consumer.stop(graceful=True)
        jobs_for(app).huey.flush()
    assert row(app, inbox_id).attempts == 1  # the worker took it up again
    again = runner.invoke(args=["replay-dead", workspace_id, "--id", "999999"])
    assert "not dead letters of" in again.output and "999999" in again.output


def test_reconcile_now_runs_here_and_reports_each_step(runner, installed, request_log):
    assert runner.invoke(args=["reconcile"]).exit_code == 2  # a workspace or --all
    result = runner.invoke(args=["reconcile", installed.workspace_id])
    assert result.exit_code == 0, result.output
    assert f"{installed.workspace_id}: webhooks ok" in result.output
    assert request_log(method="GET", path=f"/api/v1/workspaces/{installed.workspace_id}/addons/*")


def test_purge_needs_confirmation_then_leaves_no_row_of_the_workspace(app, runner, installed):
    workspace_id = installed.workspace_id
    dead_letter(app, workspace_id)
    refused = runner.invoke(args=["purge", workspace_id])
    assert refused.exit_code == 2 and "--yes" in refused.output
    purged = runner.invoke(args=["purge", workspace_id, "--yes"])
    assert purged.exit_code == 0, purged.output
    with app.app_context():
        left = {
            t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.workspace_id == workspace_id))
            for t in workspace_tables()
        }
    assert {name: n for name, n in left.items() if n} == {}
    assert "0 installations" in runner.invoke(args=["installations"]).output
