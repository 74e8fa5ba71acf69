"""Lifecycle calls and webhook deliveries from the sandbox reach Closeout's real routes and its database."""

from __future__ import annotations

import socket
from datetime import timedelta

import jwt
import pytest
import requests

from addon.extensions import db
from addon.platform.models import InboxEvent, Installation, WebhookSubscription

pytestmark = pytest.mark.sandbox

EVENT = "NEW_APPROVAL_REQUEST"


def _installation_row(app, workspace_id):
    with app.app_context():
        row = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
        return None if row is None else {"addon_id": row.addon_id, "is_active": row.is_active, "api_url": row.api_url}


def _inbox(app, workspace_id):
    with app.app_context():
        rows = db.session.scalars(db.select(InboxEvent).filter_by(workspace_id=workspace_id).order_by(InboxEvent.id))
        return [(row.event_type, row.payload) for row in rows]


def _approval(workspace_id, n=1):
    return {
        "id": f"approval-{n}",
        "workspaceId": workspace_id,
        "dateRange": {"start": "2026-11-16T00:00:00Z", "end": "2026-11-22T23:59:59Z"},
        "owner": {"userId": "u-1", "userName": "Ada", "timeZone": "UTC", "startOfWeek": "MONDAY"},
        "status": {"state": "PENDING", "updatedBy": "u-1", "updatedAt": f"2026-11-23T09:00:0{n}Z", "note": ""},
    }


def _emit(sandbox, workspace_id, n=1, event=EVENT):
    response = sandbox.control(
        "POST", "/emit", {"workspaceId": workspace_id, "event": event, "payload": _approval(workspace_id, n)}
    )
    assert response.status_code == 202


def test_install_sends_installed_that_closeout_stores(app, sandbox, installed):
    row = _installation_row(app, installed.workspace_id)

    assert row == {"addon_id": installed.installation.addon_id, "is_active": True, "api_url": sandbox.backend_url}
    claims = jwt.decode(installed.installation.installation_token, options={"verify_signature": False})
    assert claims["backendUrl"] == sandbox.backend_url
    (call,) = sandbox.control("GET", "/lifecycle").json()
    assert call["event"] == "INSTALLED" and call["status"] == 200


def test_install_registers_one_webhook_token_per_manifest_webhook(app, installed):
    from addon.manifest import webhook_paths

    hooks = installed.installation.webhooks
    assert sorted(h["event"] for h in hooks) == sorted(webhook_paths())
    assert len({h["token"] for h in hooks}) == len(hooks)
    with app.app_context():
        stored = db.session.scalars(db.select(WebhookSubscription).filter_by(workspace_id=installed.workspace_id))
        assert sorted(s.event_type for s in stored if s.source == "manifest") == sorted(webhook_paths())


def test_installation_and_webhook_tokens_never_expire_and_name_the_installation(sandbox, installed):
    claims = jwt.decode(installed.installation.installation_token, options={"verify_signature": False})
    assert "exp" not in claims
    assert claims["workspaceId"] == installed.workspace_id and claims["addonId"] == installed.installation.addon_id
    assert {"backendUrl", "reportsUrl", "locationsUrl", "screenshotsUrl", "user"} <= claims.keys()
    hook = jwt.decode(installed.installation.webhooks[0]["token"], options={"verify_signature": False})
    assert "exp" not in hook and "workspaceRole" not in hook


def test_pause_resume_and_uninstall_reach_closeout(app, sandbox, installed):
    ws = installed.workspace_id

    assert sandbox.control("POST", "/pause", {"workspaceId": ws}).json()["isActive"] is False
    assert _installation_row(app, ws)["is_active"] is False

    assert sandbox.control("POST", "/resume", {"workspaceId": ws}).json()["isActive"] is True
    assert _installation_row(app, ws)["is_active"] is True

    assert sandbox.control("POST", "/uninstall", {"workspaceId": ws}).status_code == 204
    assert _installation_row(app, ws) is None
    assert ws not in sandbox.world.installations
    events = [c["event"] for c in sandbox.control("GET", "/lifecycle").json()]
    assert events == ["INSTALLED", "STATUS_CHANGED", "STATUS_CHANGED", "DELETED"]


def test_settings_updated_reaches_closeout(app, sandbox, installed):
    settings = [{"id": "txt-setting", "name": "Txt setting", "value": "Some text"}]

    response = sandbox.control("POST", "/settings", {"settings": settings})

    assert response.status_code == 200
    with app.app_context():
        row = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        assert row.clockify_settings == settings


def test_reinstall_gives_a_new_installation(app, sandbox, installed):
    first = installed.installation.addon_id
    assert sandbox.control("POST", "/install").status_code == 409  # already installed

    sandbox.control("POST", "/uninstall")
    response = sandbox.control("POST", "/install")

    assert response.status_code == 201
    assert response.json()["addonId"] != first
    assert _installation_row(app, installed.workspace_id)["addon_id"] == response.json()["addonId"]


def test_a_delivery_is_signed_and_accepted_by_closeout(app, sandbox, installed, deliveries):
    _emit(sandbox, installed.workspace_id)

    (delivery,) = deliveries()

    assert delivery["event"] == EVENT and delivery["outcome"] == "delivered" and delivery["status"] == 202
    assert delivery["url"].endswith("/webhooks/new-approval-request")
    assert _inbox(app, installed.workspace_id) == [(EVENT, _approval(installed.workspace_id))]


def test_a_delivery_carries_the_webhooks_own_token_and_event_header(sandbox, installed):
    # Closeout would refuse anything else; here the sandbox's own record shows what went out.
    hook = next(h for h in installed.installation.webhooks if h["event"] == EVENT)
    _emit(sandbox, installed.workspace_id)
    sandbox.drain()

    record = sandbox.state.deliverer.list()[0]
    assert record.token == hook["token"] and record.webhook_id == hook["id"]


def test_events_nobody_subscribed_to_are_not_delivered(sandbox, installed, deliveries):
    _emit(sandbox, installed.workspace_id, event="NEW_PROJECT")

    assert deliveries() == []


def test_nothing_is_delivered_while_paused(app, sandbox, installed, deliveries):
    sandbox.control("POST", "/pause")
    _emit(sandbox, installed.workspace_id)

    assert deliveries() == []
    assert _inbox(app, installed.workspace_id) == []


def test_a_duplicated_delivery_has_one_effect_in_closeout(app, sandbox, installed, deliveries):
    sandbox.control("POST", "/deliveries/mode", {"duplicate": 1})
    _emit(sandbox, installed.workspace_id)

    sent = deliveries()

    assert [d["status"] for d in sent] == [202, 200]  # accepted, then recognised as a duplicate
    assert sent[1]["replayOf"] == sent[0]["id"]
    assert len(_inbox(app, installed.workspace_id)) == 1


def test_a_replayed_delivery_is_sent_again_with_the_same_signature(app, sandbox, installed, deliveries):
    _emit(sandbox, installed.workspace_id)
    (first,) = deliveries()

    response = sandbox.control("POST", f"/deliveries/{first['id']}/replay")

    assert response.status_code == 202
    replay = deliveries()[-1]
    assert replay["replayOf"] == first["id"] and replay["status"] == 200
    assert sandbox.control("POST", "/deliveries/999/replay").status_code == 404


def test_reordered_deliveries_go_out_newest_first(app, sandbox, installed, deliveries):
    sandbox.control("POST", "/deliveries/mode", {"reorder": 3})
    for n in (1, 2, 3):
        _emit(sandbox, installed.workspace_id, n)

    sent = sorted(deliveries(), key=lambda d: d["sequence"])

    assert [d["payload"]["id"] for d in sent] == ["approval-3", "approval-2", "approval-1"]
    assert [p["id"] for _, p in _inbox(app, installed.workspace_id)] == ["approval-3", "approval-2", "approval-1"]


def test_held_deliveries_can_be_released_early(sandbox, installed, deliveries):
    sandbox.control("POST", "/deliveries/mode", {"reorder": 5})
    _emit(sandbox, installed.workspace_id, 1)
    _emit(sandbox, installed.workspace_id, 2)
    assert [d["outcome"] for d in deliveries()] == ["held", "held"]

    assert sandbox.control("POST", "/deliveries/release").json() == {"released": 2}

    assert [d["outcome"] for d in deliveries()] == ["delivered", "delivered"]


def test_a_dropped_delivery_never_reaches_closeout(app, sandbox, installed, deliveries):
    sandbox.control("POST", "/deliveries/mode", {"drop": 1})
    _emit(sandbox, installed.workspace_id, 1)
    _emit(sandbox, installed.workspace_id, 2)

    assert [d["outcome"] for d in deliveries()] == ["dropped", "delivered"]
    assert [p["id"] for _, p in _inbox(app, installed.workspace_id)] == ["approval-2"]


def test_a_delivery_signed_for_an_old_installation_is_refused_after_reinstall(app, sandbox, installed, deliveries):
    _emit(sandbox, installed.workspace_id)
    (old,) = deliveries()
    sandbox.control("POST", "/uninstall")
    sandbox.control("POST", "/install")

    sandbox.control("POST", f"/deliveries/{old['id']}/replay")

    assert deliveries()[-1]["status"] == 401
    assert _inbox(app, installed.workspace_id) == []


def test_drain_reports_a_queue_that_does_not_empty_in_time(sandbox, installed):
    # A listener that never accepts: the delivery hangs on it until the socket closes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        hook = next(h for h in installed.installation.webhooks if h["event"] == EVENT)
        hook["url"] = f"http://127.0.0.1:{silent.getsockname()[1]}/webhooks/new-approval-request"
        _emit(sandbox, installed.workspace_id)

        assert sandbox.control("POST", "/deliveries/drain", {"timeout": 0.2}).status_code == 504
    assert sandbox.control("POST", "/deliveries/drain", {"timeout": 10}).status_code == 200
    assert sandbox.control("GET", "/deliveries").json()[0]["outcome"] == "failed"


def test_installing_refuses_an_addon_whose_lifecycle_fails(sandbox, closeout_live, app):
    app.config["CLOCKIFY_PUBLIC_KEY"] = _other_public_key()
    app.extensions.pop("closeout_verifier", None)

    response = sandbox.control("POST", "/install")

    assert response.status_code == 502
    assert "INSTALLED" in response.json()["message"] and "401" in response.json()["message"]
    assert sandbox.world.installations == {}


def _other_public_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_change_made_through_the_world_is_delivered_and_accepted(app, sandbox, installed, deliveries):
    ws = installed.workspace_id
    member = sandbox.state.user_id_for_role(ws, "MEMBER")
    # A week before the eight the demo seeds back from its today, so the member has no request for it yet.
    today = sandbox.state.world.today
    monday = f"{today - timedelta(days=today.weekday() + 7 * 12)}T00:00:00Z"

    response = sandbox.control(
        "POST", "/world/submit_approval", {"workspace_id": ws, "user_id": member, "period_start": monday}
    )

    assert response.status_code == 200, response.text
    request_id = response.json()["result"]["id"]
    (delivery,) = deliveries(event="NEW_APPROVAL_REQUEST")
    assert delivery["status"] == 202 and delivery["payload"]["id"] == request_id
    assert [(e, p["id"]) for e, p in _inbox(app, ws)] == [("NEW_APPROVAL_REQUEST", request_id)]


def test_the_world_refuses_a_change_clockify_would_refuse(sandbox, installed):
    response = sandbox.control(
        "POST",
        "/world/decide_approval",
        {"workspace_id": installed.workspace_id, "request_id": "nope", "state": "APPROVED"},
    )

    assert response.status_code == 404
    assert response.json()["message"]


def test_the_api_refuses_the_installation_token_after_uninstall(sandbox, installed):
    token = installed.installation.installation_token
    url = f"{sandbox.backend_url}/v1/workspaces/{installed.workspace_id}"
    assert requests.get(url, headers={"X-Addon-Token": token}, timeout=10).status_code == 200

    sandbox.control("POST", "/uninstall")

    assert requests.get(url, headers={"X-Addon-Token": token}, timeout=10).status_code == 401


def test_a_disabled_webhook_receives_nothing(sandbox, installed, deliveries):
    for hook in installed.installation.webhooks:
        hook["enabled"] = False
    payload = {"id": "a-1", "workspaceId": installed.workspace_id}

    sandbox.control("POST", "/emit", {"event": "NEW_APPROVAL_REQUEST", "payload": payload})

    assert deliveries() == []
