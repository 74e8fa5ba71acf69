"""ASSIGNMENT_* webhooks registered through the sandbox's Webhooks API, verified, re-registered, removed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from addon.crypto import decrypt
from addon.extensions import db
from addon.jobs import jobs_for
from addon.manifest import API_WEBHOOK_EVENTS, api_webhook_path
from addon.platform.models import WebhookSubscription
from tests.platform.inbox.support import inbox_rows

pytestmark = pytest.mark.sandbox


def api_hooks(sandbox, workspace_id):
    return {h["event"]: h for h in sandbox.world.installations[workspace_id].webhooks if h["source"] == "api"}


def stored_subscriptions(app, workspace_id):
    with app.app_context():
        rows = db.session.scalars(sa.select(WebhookSubscription).filter_by(workspace_id=workspace_id, source="api"))
        return {r.event_type: (r.clockify_webhook_id, r.path, decrypt(r.token_ciphertext)) for r in rows}


def assignment_payload(workspace_id, assignment_id="asg-1"):
    return {"workspaceId": workspace_id, "userId": "u-1", "projectId": "p-1", "assignmentId": assignment_id}


@pytest.fixture
def registered_hooks(app, installed, closeout_live):
    """Run the registration INSTALLED queued, as the worker would."""
    assert jobs_for(app).register_webhooks.call_local(installed.workspace_id) == len(API_WEBHOOK_EVENTS)
    return installed


def test_installation_registers_each_assignment_webhook_and_stores_its_token(
    app, sandbox, closeout_live, registered_hooks
):
    workspace_id = registered_hooks.workspace_id
    remote = api_hooks(sandbox, workspace_id)
    stored = stored_subscriptions(app, workspace_id)

    assert sorted(remote) == sorted(API_WEBHOOK_EVENTS)
    for event in API_WEBHOOK_EVENTS:
        assert remote[event]["url"] == closeout_live.url + api_webhook_path(event)
        assert stored[event] == (remote[event]["id"], remote[event]["url"], remote[event]["token"])


def test_registration_run_again_registers_nothing_new(app, sandbox, registered_hooks):
    assert jobs_for(app).register_webhooks.call_local(registered_hooks.workspace_id) == 0
    assert len(api_hooks(sandbox, registered_hooks.workspace_id)) == len(API_WEBHOOK_EVENTS)


def test_assignment_delivery_signed_with_the_registered_token_reaches_the_inbox(app, sandbox, registered_hooks):
    workspace_id = registered_hooks.workspace_id

    response = sandbox.control(
        "POST",
        "/emit",
        {"workspaceId": workspace_id, "event": "ASSIGNMENT_CREATED", "payload": assignment_payload(workspace_id)},
    )
    assert response.status_code == 202
    sandbox.drain()

    [row] = [r for r in inbox_rows(app) if r.event_type == "ASSIGNMENT_CREATED"]
    assert (row.workspace_id, row.entity_id, row.status) == (workspace_id, "asg-1", "pending")


def test_reconciliation_re_registers_a_webhook_deleted_at_clockify(app, sandbox, registered_hooks):
    workspace_id = registered_hooks.workspace_id
    installation = sandbox.world.installations[workspace_id]
    with sandbox.world.lock:
        gone = next(h for h in installation.webhooks if h["event"] == "ASSIGNMENT_PUBLISHED")
        installation.webhooks.remove(gone)

    results = jobs_for(app).reconcile_installation.call_local(workspace_id)

    assert results["webhooks"] == "ok"
    remote = api_hooks(sandbox, workspace_id)
    assert sorted(remote) == sorted(API_WEBHOOK_EVENTS)
    assert remote["ASSIGNMENT_PUBLISHED"]["id"] != gone["id"]
    stored = stored_subscriptions(app, workspace_id)
    assert stored["ASSIGNMENT_PUBLISHED"][0] == remote["ASSIGNMENT_PUBLISHED"]["id"]
    assert stored["ASSIGNMENT_PUBLISHED"][2] == remote["ASSIGNMENT_PUBLISHED"]["token"]
    # The new registration's deliveries are accepted.
    sandbox.control(
        "POST",
        "/emit",
        {"workspaceId": workspace_id, "event": "ASSIGNMENT_PUBLISHED", "payload": assignment_payload(workspace_id)},
    )
    sandbox.drain()
    assert [r.event_type for r in inbox_rows(app)] == ["ASSIGNMENT_PUBLISHED"]


def test_reconciliation_of_a_paused_installation_does_nothing(app, sandbox, registered_hooks):
    workspace_id = registered_hooks.workspace_id
    assert sandbox.control("POST", "/pause", {"workspaceId": workspace_id}).status_code == 200

    assert jobs_for(app).reconcile_installation.call_local(workspace_id) == {}


def test_uninstall_removes_the_registered_webhooks_at_clockify(app, sandbox, registered_hooks):
    workspace_id = registered_hooks.workspace_id
    ours = {h["id"] for h in api_hooks(sandbox, workspace_id).values()}

    assert sandbox.control("POST", "/uninstall", {"workspaceId": workspace_id}).status_code == 204

    deletes = sandbox.control("GET", "/requests", params={"method": "DELETE"}).json()
    removed = {e["path"].rsplit("/", 1)[1] for e in deletes if e["status"] in (200, 204)}
    assert removed == ours
    assert stored_subscriptions(app, workspace_id) == {}


def test_uninstall_succeeds_when_clockify_refuses_to_remove_the_webhooks(app, sandbox, registered_hooks):
    workspace_id = registered_hooks.workspace_id
    fault = {"method": "DELETE", "pattern": "/api/v1/workspaces/*/webhooks/*", "errorRate": 1.0, "errorStatus": 401}
    assert sandbox.control("POST", "/faults", fault).status_code == 201

    assert sandbox.control("POST", "/uninstall", {"workspaceId": workspace_id}).status_code == 204

    assert stored_subscriptions(app, workspace_id) == {}
