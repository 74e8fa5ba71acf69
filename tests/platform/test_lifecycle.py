"""Lifecycle: install, reinstall, pause, resume, settings, delete — verified, idempotent, complete."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from addon.crypto import decrypt
from addon.extensions import db
from addon.manifest import webhook_paths
from addon.platform.models import Installation, LifecycleEvent, WebhookSubscription
from tests.conftest import ADDON_ID, OTHER_WORKSPACE_ID, WORKSPACE_ID, installed_body


def _post(client, make_token, path, body, **claims):
    token = make_token("lifecycle", **claims)
    return client.post(path, json=body, headers={"X-Addon-Lifecycle-Token": token})


def _installation(app, workspace_id=WORKSPACE_ID):
    with app.app_context():
        return db.session.scalar(sa.select(Installation).filter_by(workspace_id=workspace_id))


def test_installed_stores_installation_with_tokens_encrypted(app, client, install, make_token):
    sent = install()
    with app.app_context():
        installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=WORKSPACE_ID))
        assert installation.addon_id == ADDON_ID
        assert installation.api_url == "http://clockify.invalid/api"
        assert installation.reports_url == "http://reports.clockify.invalid"
        assert installation.token_ciphertext != sent["body"]["authToken"]
        assert decrypt(installation.token_ciphertext) == sent["body"]["authToken"]
        subs = db.session.scalars(sa.select(WebhookSubscription).filter_by(workspace_id=WORKSPACE_ID)).all()
        assert {s.event_type for s in subs} == set(webhook_paths())
        for sub in subs:
            assert decrypt(sub.token_ciphertext) == sent["webhook_tokens"][sub.event_type]
        # The raw payload is kept, encrypted.
        event = db.session.scalar(sa.select(LifecycleEvent).filter_by(event_type="INSTALLED"))
        assert sent["body"]["authToken"] not in event.payload_ciphertext
        assert json.loads(decrypt(event.payload_ciphertext))["workspaceId"] == WORKSPACE_ID


def test_webhook_paths_given_as_manifest_paths_also_match(app, client, make_token):
    body = installed_body(
        authToken=make_token("installation"),
        webhooks=[{"path": "/webhooks/new-invoice", "webhookType": "ADDON", "authToken": make_token("webhook")}],
        somethingNew={"tolerated": True},
    )
    assert _post(client, make_token, "/lifecycle/installed", body).status_code == 200
    with app.app_context():
        sub = db.session.scalar(sa.select(WebhookSubscription))
        assert sub.event_type == "NEW_INVOICE"


def test_reinstall_updates_the_same_row_and_replaces_tokens(app, client, install, make_token):
    install()
    first = _installation(app)
    with app.app_context():
        db.session.execute(
            # INSTALLED wrote the defaults; an admin's value must survive the reinstall.
            sa.text(
                "UPDATE workspace_settings SET value = '7', updated_at = :t "
                "WHERE workspace_id = :w AND key = 'approvals.tolerance_percent'"
            ),
            {"w": WORKSPACE_ID, "t": first.installed_at},
        )
        db.session.commit()
    # INSTALLED again for the same installation (moving to another addonId needs Clockify to confirm it:
    # tests/security/test_lifecycle.py).
    second_tokens = install()
    second = _installation(app)
    assert second.id == first.id
    assert second.addon_id == ADDON_ID
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Installation)) == 1
        assert decrypt(second.token_ciphertext) == second_tokens["body"]["authToken"]
        kept = db.session.execute(
            sa.text("SELECT value FROM workspace_settings WHERE key = 'approvals.tolerance_percent'")
        ).scalar_one()
        assert (json.loads(kept) if isinstance(kept, str) else kept) == 7


def test_pause_resume_round_trip(app, client, install, make_token):
    install()
    user = make_token("user")
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    assert _post(client, make_token, "/lifecycle/status-changed", body).status_code == 200
    assert _installation(app).is_active is False
    page = client.get("/components/sidebar", query_string={"auth_token": user})
    assert page.status_code == 200 and b"paused" in page.data.lower()
    body["status"] = "ACTIVE"
    assert _post(client, make_token, "/lifecycle/status-changed", body).status_code == 200
    assert _post(client, make_token, "/lifecycle/status-changed", body).status_code == 200  # idempotent
    assert _installation(app).is_active is True
    assert b"paused" not in client.get("/components/sidebar", query_string={"auth_token": user}).data.lower()


def test_settings_updated_is_stored(app, client, install, make_token):
    install()
    settings = [{"id": "txt-setting", "name": "Txt", "value": "x"}]
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "settings": settings}
    assert _post(client, make_token, "/lifecycle/settings-updated", body).status_code == 200
    assert _installation(app).clockify_settings == settings


def test_deleted_removes_every_row_of_the_workspace_in_every_table(app, client, install, make_token):
    install(WORKSPACE_ID)
    install(OTHER_WORKSPACE_ID, addon_id="addon-inst-b")
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "asUser": "u"}
    assert _post(client, make_token, "/lifecycle/deleted", body).status_code == 200
    assert _post(client, make_token, "/lifecycle/deleted", body).status_code == 200  # idempotent
    with app.app_context():
        inspector = sa.inspect(db.engine)
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            if "workspace_id" not in columns:
                continue
            count = db.session.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE workspace_id = :w"), {"w": WORKSPACE_ID}
            ).scalar_one()
            assert count == 0, table
        # The other workspace is untouched.
        assert db.session.scalar(sa.select(Installation).filter_by(workspace_id=OTHER_WORKSPACE_ID))


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/lifecycle/installed", {"workspaceId": WORKSPACE_ID}, 400),
        ("/lifecycle/installed", ["not", "an", "object"], 400),
        ("/lifecycle/installed", installed_body(authToken="x", apiUrl="ftp://nope"), 400),
        ("/lifecycle/status-changed", {"workspaceId": WORKSPACE_ID, "addonId": ADDON_ID, "status": "MAYBE"}, 400),
        ("/lifecycle/status-changed", {"addonId": ADDON_ID, "status": "ACTIVE"}, 400),
    ],
)
def test_bad_lifecycle_bodies_get_400_and_change_nothing(app, client, install, make_token, path, body, status):
    install()
    before = _installation(app)
    response = _post(client, make_token, path, body)
    assert response.status_code == status
    assert response.is_json and "message" in response.get_json()
    after = _installation(app)
    assert (after.is_active, after.token_ciphertext) == (before.is_active, before.token_ciphertext)


def test_unparseable_body_gets_400(client, install, make_token):
    install()
    response = client.post(
        "/lifecycle/status-changed",
        data="{not json",
        content_type="application/json",
        headers={"X-Addon-Lifecycle-Token": make_token("lifecycle")},
    )
    assert response.status_code == 400


def test_installation_token_must_be_genuine(client, make_token):
    body = installed_body(authToken="forged.installation.token")
    assert _post(client, make_token, "/lifecycle/installed", body).status_code == 400


@pytest.mark.parametrize("header", [None, "X-Addon-Token", "Clockify-Signature"])
def test_lifecycle_needs_the_lifecycle_header(client, make_token, header):
    headers = {header: make_token("lifecycle")} if header else {}
    response = client.post(
        "/lifecycle/installed", json=installed_body(authToken=make_token("installation")), headers=headers
    )
    assert response.status_code == 401


def test_lifecycle_token_of_another_workspace_is_refused(app, client, install, make_token):
    install()
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    response = _post(client, make_token, "/lifecycle/status-changed", body, workspaceId=OTHER_WORKSPACE_ID)
    assert response.status_code == 401
    assert _installation(app).is_active is True


def test_lifecycle_for_another_installation_id_is_refused(app, client, install, make_token):
    install()
    body = {"addonId": "another-installation", "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    response = _post(client, make_token, "/lifecycle/status-changed", body, addonId=None)
    assert response.status_code == 401
    assert _installation(app).is_active is True


def _status_change(client, token, body=None):
    body = body or {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    return client.post("/lifecycle/status-changed", json=body, headers={"X-Addon-Lifecycle-Token": token})


def test_a_webhook_token_is_not_a_lifecycle_token(app, client, install):
    sent = install()
    # Webhook tokens never expire and admins can read them through the Webhooks API.
    response = _status_change(client, sent["webhook_tokens"]["NEW_APPROVAL_REQUEST"])
    assert response.status_code == 401
    assert _installation(app).is_active is True


def test_the_installation_token_is_not_a_lifecycle_token(app, client, install):
    sent = install()
    assert _status_change(client, sent["body"]["authToken"]).status_code == 401
    assert _installation(app).is_active is True


def test_a_lifecycle_token_must_name_its_workspace(app, client, install, make_token):
    install()
    response = client.post(
        "/lifecycle/deleted",
        json={"workspaceId": WORKSPACE_ID},
        headers={"X-Addon-Lifecycle-Token": make_token("lifecycle", workspaceId=None, addonId=None)},
    )
    assert response.status_code == 401
    assert _installation(app) is not None


@pytest.mark.parametrize("path", ["/lifecycle/status-changed", "/lifecycle/deleted"])
def test_a_late_call_of_an_earlier_installation_cannot_touch_the_current_one(app, client, install, make_token, path):
    install(addon_id="addon-inst-NEW")
    token = make_token("lifecycle", addonId="addon-inst-OLD")
    response = client.post(
        path, json={"workspaceId": WORKSPACE_ID, "status": "INACTIVE"}, headers={"X-Addon-Lifecycle-Token": token}
    )
    assert response.status_code == 401
    assert _installation(app).is_active is True


@pytest.mark.parametrize("kind", ["user", "webhook", "lifecycle", "other-installation"])
def test_installed_refuses_anything_but_an_installation_token_as_auth_token(app, client, install, make_token, kind):
    sent = install()
    header = make_token("lifecycle")
    auth_token = {
        "user": make_token("user"),
        "webhook": sent["webhook_tokens"]["NEW_INVOICE"],
        "lifecycle": header,
        "other-installation": make_token("installation", addonId="someone-else"),
    }[kind]
    hooks = [{"path": "/webhooks/new-invoice", "authToken": sent["webhook_tokens"]["NEW_INVOICE"]}]
    body = installed_body(authToken=auth_token, webhooks=hooks, apiUrl="https://evil.example/api")
    response = client.post("/lifecycle/installed", json=body, headers={"X-Addon-Lifecycle-Token": header})
    assert response.status_code == 400
    installation = _installation(app)
    assert installation.api_url == "http://clockify.invalid/api"
    with app.app_context():
        assert decrypt(installation.token_ciphertext) == sent["body"]["authToken"]


def test_a_reinstall_with_unusable_webhooks_changes_nothing(app, client, install, make_token):
    sent = install()
    body = installed_body(authToken=make_token("installation"), webhooks=[{"path": 5, "authToken": 5}])
    response = _post(client, make_token, "/lifecycle/installed", body)
    assert response.status_code == 400
    hook = sent["webhook_tokens"]["NEW_APPROVAL_REQUEST"]
    delivery = client.post(
        "/webhooks/new-approval-request",
        json={"id": "ar-1", "workspaceId": WORKSPACE_ID},
        headers={"Clockify-Signature": hook, "Clockify-Webhook-Event-Type": "NEW_APPROVAL_REQUEST"},
    )
    assert delivery.status_code in (200, 202)
