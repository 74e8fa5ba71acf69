"""End to end over HTTP: the sandbox delivers duplicated, reordered webhooks; the worker acts once, in order."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from addon.extensions import db
from addon.jobs import jobs_for, start_consumer
from addon.platform.models import EntityVersion
from tests.platform.inbox.support import (
    apply_latest_approval_state,
    approval_body,
    count_effect,
    effects,
    inbox_rows,
    registered,
    wait_until,
)

pytestmark = pytest.mark.sandbox

CREATED, UPDATED = "NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED"


@pytest.fixture
def worker(app, installed):
    jobs_for(app).huey.flush()  # the webhook registration INSTALLED queued is not under test here
    consumer = start_consumer(app, workers=2, max_delay=0.2)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def test_duplicated_and_reordered_deliveries_have_one_effect_each_and_the_newest_state_wins(
    app, sandbox, installed, worker
):
    workspace_id = installed.workspace_id
    created = approval_body("req-e2e", "PENDING", "2026-11-02T10:00:00Z", workspaceId=workspace_id)
    approved = approval_body("req-e2e", "APPROVED", "2026-11-02T12:00:00Z", workspaceId=workspace_id)
    # Every delivery sent twice, and the four held back and sent newest first.
    assert sandbox.control("POST", "/deliveries/mode", {"duplicate": 2, "reorder": 4}).status_code == 200

    with registered(count_effect, CREATED, UPDATED), registered(apply_latest_approval_state, CREATED, UPDATED):
        for event, body in ((CREATED, created), (UPDATED, approved)):
            response = sandbox.control("POST", "/emit", {"workspaceId": workspace_id, "event": event, "payload": body})
            assert response.status_code == 202
        sandbox.drain()
        wait_until(lambda: [r.status for r in inbox_rows(app)] == ["done", "done"])

    sent = sandbox.control("GET", "/deliveries").json()
    assert sorted(d["status"] for d in sent) == [200, 200, 202, 202]  # each event accepted once, its copy a duplicate
    assert [r.event_type for r in inbox_rows(app)] == [UPDATED, CREATED]  # arrived newest first
    assert sorted(e.subject_type for e in effects(app)) == sorted([CREATED, UPDATED])
    with app.app_context():
        version = db.session.scalar(sa.select(EntityVersion).filter_by(workspace_id=workspace_id, entity_id="req-e2e"))
    assert version.state == "APPROVED"
