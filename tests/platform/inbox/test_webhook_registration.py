"""ASSIGNMENT_* webhooks registered through the sandbox's Webhooks API, verified, re-registered, removed."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from addon.crypto import decrypt
from addon.extensions import db
from addon.jobs import jobs_for
from addon.manifest import API_WEBHOOK_EVENTS, api_webhook_path
from addon.platform.clients import clients_for
from addon.platform.models import Installation, WebhookSubscription
from addon.platform.webhook_registration import lock_registration
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


# --- One registration per workspace at a time, and no duplicates left at Clockify ---


def api_hook_list(sandbox, workspace_id):
    return [h for h in sandbox.world.installations[workspace_id].webhooks if h["source"] == "api"]


def test_two_registrations_at_the_same_moment_register_each_webhook_once(app, sandbox, installed):
    workspace_id = installed.workspace_id
    # Each listing takes long enough that, unserialised, both registrations list before either creates.
    fault = {"method": "GET", "pattern": "/api/v1/workspaces/*/addons/*/webhooks", "latencyMs": 400}
    assert sandbox.control("POST", "/faults", fault).status_code == 201
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        start.wait()
        try:
            results.append(jobs_for(app).register_webhooks.call_local(workspace_id))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sorted(results) == [0, len(API_WEBHOOK_EVENTS)]
    remote = api_hook_list(sandbox, workspace_id)
    assert sorted(h["event"] for h in remote) == sorted(API_WEBHOOK_EVENTS)
    stored = stored_subscriptions(app, workspace_id)
    assert {event: value[0] for event, value in stored.items()} == {h["event"]: h["id"] for h in remote}


def test_reconciliation_deletes_duplicates_it_finds_in_the_addons_webhook_list(
    app, sandbox, closeout_live, registered_hooks
):
    workspace_id = registered_hooks.workspace_id
    kept = {event: value[0] for event, value in stored_subscriptions(app, workspace_id).items()}
    with app.app_context():
        installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=workspace_id))
        client = clients_for(app).for_installation(installation)
        for event in ("ASSIGNMENT_CREATED", "ASSIGNMENT_CREATED", "ASSIGNMENT_PUBLISHED"):
            client.create_webhook(url=closeout_live.url + api_webhook_path(event), event=event, name="Closeout again")
    assert len(api_hook_list(sandbox, workspace_id)) == len(API_WEBHOOK_EVENTS) + 3

    results = jobs_for(app).reconcile_installation.call_local(workspace_id)

    assert results["webhooks"] == "ok"
    remote = api_hook_list(sandbox, workspace_id)
    assert {h["event"]: h["id"] for h in remote} == kept
    assert len(remote) == len(API_WEBHOOK_EVENTS)
    assert {event: value[0] for event, value in stored_subscriptions(app, workspace_id).items()} == kept


def test_the_registration_lock_holds_until_the_transaction_ends_and_is_per_workspace(app):
    with app.app_context():
        first = db.session()
        lock_registration(first, "ws-locked")
        with Session(db.engine) as second:
            with pytest.raises((TimeoutError, sa.exc.OperationalError)):
                lock_registration(second, "ws-locked", wait=0.3)
            second.rollback()
            lock_registration(second, "ws-other", wait=0.3)  # another workspace is not held up
            second.rollback()
            first.commit()
            lock_registration(second, "ws-locked", wait=0.3)
            second.rollback()


def test_the_database_keeps_one_subscription_per_workspace_and_event(app):
    with app.app_context():
        for source in ("api", "manifest"):
            row = WebhookSubscription(
                workspace_id="ws-1", event_type="ASSIGNMENT_CREATED", source=source, path="/webhooks/x"
            )
            row.set_token("token-" + source)
            db.session.add(row)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
