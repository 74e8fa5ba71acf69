"""Webhooks keep the dashboard fresh: a change in Clockify reaches the snapshot through inbox, queue and one refresh."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from addon import handlers
from addon.dashboard.handlers import on_relevant_event
from addon.jobs import jobs_for, start_consumer
from tests.dashboard.test_dashboard import snapshots, week_of

pytestmark = pytest.mark.sandbox


@pytest.fixture
def worker(app, installed):
    app.config["DASHBOARD_DEBOUNCE_SECONDS"] = 0
    consumer = start_consumer(app, workers=2, max_delay=0.2)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def test_every_relevant_event_reaches_the_dashboard():
    for event_type in ("NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED", "INVOICE_UPDATED", "NEW_TIME_ENTRY"):
        assert on_relevant_event in handlers.handlers_for(event_type)


def test_an_approval_in_clockify_updates_the_snapshot_without_anyone_refreshing(
    app, sandbox, installed, open_component, worker
):
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    start, end = week_of(datetime.now(UTC).date() - timedelta(days=7))
    before = snapshots(app, installed.workspace_id)[start]["timesheets"]
    ws = sandbox.world.workspaces[installed.workspace_id]
    request = next(a for a in ws.approvals.values() if a["state"] == "PENDING" and start <= a["start"].date() <= end)
    owner = next(u["id"] for u in ws.users.values() if u["role"] == "OWNER")

    sandbox.world.decide_approval(installed.workspace_id, request["id"], "APPROVED", by_user_id=owner)
    sandbox.drain()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = snapshots(app, installed.workspace_id)[start]["timesheets"]
        if after["pending"] == before["pending"] - 1:
            break
        time.sleep(0.1)
    assert after["pending"] == before["pending"] - 1
    assert after["approved"] == before["approved"] + 1
