"""Findings H-2, M-2, L-4, L-3, L-5, L-6 and rule 3 on the lifecycle routes: tokens recognised, used once,
bound to the installation; strict bodies; only Clockify hosts."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import sqlalchemy as sa

from addon.extensions import db
from addon.platform.models import Installation, RemovedInstallation, WebhookSubscription
from tests.conftest import ADDON_ID, WORKSPACE_ID, installed_body

LIFECYCLE = "X-Addon-Lifecycle-Token"


def _post(client: Any, path: str, body: Any, token: str) -> Any:
    return client.post(path, json=body, headers={LIFECYCLE: token})


def _installation(app: Any, workspace_id: str = WORKSPACE_ID) -> Installation | None:
    with app.app_context():
        found = db.session.scalar(sa.select(Installation).filter_by(workspace_id=workspace_id))
        if found is not None:
            db.session.expunge(found)
        return found


def _rows(app: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) or 0)


# --- H-2 and L-4 with the test key: which tokens count as lifecycle tokens -------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"webhookId": "5f00000000000000000000aa"},  # what an admin gets by creating a webhook
        {"user": "user-1"},  # an installation token
        {"user": "user-1", "workspaceRole": "MEMBER"},  # a user token
    ],
    ids=["webhook token", "installation-shaped token", "user token"],
)
@pytest.mark.parametrize("path", ["/lifecycle/status-changed", "/lifecycle/deleted", "/lifecycle/settings-updated"])
def test_h2_tokens_naming_a_user_or_a_webhook_are_not_lifecycle_tokens(app, client, install, make_token, claims, path):
    install()
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE", "settings": []}
    response = _post(client, path, body, make_token("webhook", **claims))
    assert response.status_code == 401, response.get_data(as_text=True)
    installation = _installation(app)
    assert installation is not None and installation.is_active and _rows(app)


def test_l4_a_lifecycle_token_is_accepted_once_on_any_route(app, client, install, make_token):
    install()
    token = make_token("lifecycle")
    pause = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    assert _post(client, "/lifecycle/status-changed", pause, token).status_code == 200
    assert _post(client, "/lifecycle/status-changed", {**pause, "status": "ACTIVE"}, token).status_code == 401
    assert _post(client, "/lifecycle/deleted", pause, token).status_code == 401
    assert _installation(app) is not None


def test_l4_a_lifecycle_token_without_exp_must_be_recent(app, client, install, make_token):
    install()
    import time

    old = make_token("lifecycle", iat=int(time.time()) - 3600)
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    assert _post(client, "/lifecycle/status-changed", body, old).status_code == 401
    assert _installation(app).is_active


def test_m2_after_deleted_the_removed_installations_tokens_cannot_recreate_it(app, client, install, make_token):
    sent = install()
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID}
    assert _post(client, "/lifecycle/deleted", body, make_token("lifecycle")).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(RemovedInstallation.addon_id)) == ADDON_ID
    again = installed_body(authToken=sent["body"]["authToken"], webhooks=sent["body"]["webhooks"])
    response = _post(client, "/lifecycle/installed", again, make_token("lifecycle"))
    assert response.status_code == 401
    assert _installation(app) is None
    # A retried DELETED of the removed installation is acknowledged and changes nothing.
    assert _post(client, "/lifecycle/deleted", body, make_token("lifecycle")).status_code == 200


def test_h2_a_reinstall_cannot_move_a_live_installation_to_another_addon_id(app, client, install, make_token):
    install()
    before = _installation(app)
    body = installed_body(addon_id="addon-attacker", authToken=make_token("installation", addonId="addon-attacker"))
    response = _post(client, "/lifecycle/installed", body, make_token("lifecycle", addonId="addon-attacker"))
    assert response.status_code == 409
    after = _installation(app)
    assert (after.addon_id, after.api_url, after.token_ciphertext) == (
        before.addon_id,
        before.api_url,
        before.token_ciphertext,
    )


# --- rule 3: API hosts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_url",
    [
        "https://attacker.example/api",
        "https://clockify.me.attacker.example/api",
        "https://api.clockify.me@attacker.example/api",
        "http://api.clockify.me/api",  # Clockify's host, but not over https
        "https://api.clockify.me:8443/api",
        "https://" + "a" * 100_000 + ".clockify.me/api",
    ],
)
def test_rule3_installed_refuses_an_api_url_outside_the_allow_list(app, client, make_token, api_url):
    body = installed_body(apiUrl=api_url, authToken=make_token("installation"))
    response = _post(client, "/lifecycle/installed", body, make_token("lifecycle"))
    assert response.status_code == 400
    assert _installation(app) is None


@pytest.mark.parametrize("claim", ["backendUrl", "reportsUrl"])
def test_rule3_an_installation_token_naming_a_foreign_host_is_refused(app, client, make_token, claim):
    body = installed_body(authToken=make_token("installation", **{claim: "https://attacker.example"}))
    assert _post(client, "/lifecycle/installed", body, make_token("lifecycle")).status_code == 400
    assert _installation(app) is None


@pytest.mark.parametrize("claim", ["backendUrl", "reportsUrl"])
def test_rule3_a_user_token_naming_a_foreign_host_is_refused(client, install, make_token, claim):
    install()
    token = make_token("user", **{claim: "https://attacker.example/api"})
    assert client.get("/components/sidebar", query_string={"auth_token": token}).status_code == 401


def test_rule3_the_default_allow_list_is_clockifys_https_hosts():
    from addon.hosts import DEFAULT_API_HOSTS, is_allowed

    for url in ("https://api.clockify.me/api", "https://reports.api.clockify.me", "https://euc1.clockify.me/api"):
        assert is_allowed(url, DEFAULT_API_HOSTS), url
    for url in ("http://api.clockify.me/api", "https://clockify.me.evil.test", "https://evilclockify.me"):
        assert not is_allowed(url, DEFAULT_API_HOSTS), url


# --- L-3, L-5, L-6: hostile bodies and claims --------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"workspaceId": "ws-alpha-0001", "x": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("path", ["/lifecycle/installed", "/lifecycle/status-changed", "/lifecycle/deleted"])
def test_l3_deeply_nested_json_is_a_400_not_a_500(client, install, make_token, path):
    install()
    response = client.post(
        path,
        data=_nested(100_000),
        headers={LIFECYCLE: make_token("lifecycle"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_l3_deeply_nested_json_on_a_webhook_is_a_400(client, install):
    tokens = install()["webhook_tokens"]
    response = client.post(
        "/webhooks/new-approval-request",
        data=_nested(10_000),  # small enough to pass the size cap: the depth is what is refused
        headers={
            "Clockify-Signature": tokens["NEW_APPROVAL_REQUEST"],
            "Clockify-Webhook-Event-Type": "NEW_APPROVAL_REQUEST",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "claims",
    [
        {"user": ["a", "b"]},
        {"user": {"id": ["x"]}},
        {"workspaceRole": ["OWNER"]},
        {"backendUrl": 7},
        {"theme": {"dark": True}},
        {"addonId": 12},
    ],
)
def test_l5_a_signed_user_token_with_claims_of_the_wrong_type_is_a_401(client, install, make_token, claims):
    install()
    token = make_token("user", **claims)
    for path in ("/components/sidebar", "/components/approvals", "/settings"):
        response = client.get(path, query_string={"auth_token": token})
        assert response.status_code == 401, (path, response.status_code)


@pytest.mark.parametrize(
    "change",
    [
        {"addonId": ["x"]},
        {"workspaceId": 12},
        {"apiUrl": "https://api.clockify.me/" + "a" * 100_000},
        {"asUser": "a\x00b"},
        {"addonUserId": "x" * 10_000},
        {"authToken": 5},
        {"webhooks": [{"path": "/webhooks/new-invoice", "authToken": ["t"]}]},
    ],
)
def test_l6_wrong_types_nul_and_over_long_fields_are_refused_and_not_stored(app, client, make_token, change):
    body = {**installed_body(authToken=make_token("installation")), **change}
    response = _post(client, "/lifecycle/installed", body, make_token("lifecycle"))
    assert response.status_code in (400, 401)
    assert _installation(app) is None


@pytest.mark.parametrize("raw", ['{"status": NaN}', '{"status": Infinity}', '{"status": "ACTIVE\\u0000"}'])
def test_l6_nan_infinity_and_nul_are_refused(client, install, make_token, raw):
    install()
    body = raw.replace("{", '{"workspaceId": "ws-alpha-0001", "addonId": "addon-inst-0001", ', 1)
    response = client.post(
        "/lifecycle/status-changed",
        data=body,
        headers={LIFECYCLE: make_token("lifecycle"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_l6_a_status_of_the_wrong_type_is_a_400(app, client, install, make_token):
    install()
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": ["INACTIVE"]}
    assert _post(client, "/lifecycle/status-changed", body, make_token("lifecycle")).status_code == 400
    assert _installation(app).is_active


# --- H-2 and M-2 end to end against the sandbox --------------------------------------------------------


@pytest.mark.sandbox
def test_h2_a_webhook_token_an_admin_had_clockify_mint_cannot_pause_delete_or_repoint(
    app, sandbox, installed, closeout_live, user_token
):
    ws = installed.workspace_id
    admin = {"X-Addon-Token": user_token("ADMIN")}
    created = requests.post(
        f"{sandbox.backend_url}/v1/workspaces/{ws}/webhooks",
        json={
            "url": "https://attacker.example/hook",
            "webhookEvent": "NEW_PROJECT",
            "triggerSourceType": "WORKSPACE_ID",
            "triggerSource": [ws],
        },
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    minted = created.json()["authToken"]
    addon_id = installed.installation.addon_id
    before = _installation(app, ws)
    calls = {
        "/lifecycle/status-changed": {"workspaceId": ws, "addonId": addon_id, "status": "INACTIVE"},
        "/lifecycle/deleted": {"workspaceId": ws, "addonId": addon_id},
        "/lifecycle/installed": {
            "workspaceId": ws,
            "addonId": addon_id,
            "apiUrl": "https://attacker.example/api",
            "authToken": minted,
            "webhooks": [],
        },
    }
    for path, body in calls.items():
        response = requests.post(closeout_live.url + path, json=body, headers={LIFECYCLE: minted}, timeout=10)
        assert response.status_code in (400, 401), (path, response.status_code)
    after = _installation(app, ws)
    assert after is not None and after.is_active
    assert (after.api_url, after.token_ciphertext) == (before.api_url, before.token_ciphertext)
    assert _rows(app)


@pytest.mark.sandbox
def test_m2_a_reinstall_after_clockify_dropped_the_installation_is_confirmed_and_accepted(
    app, sandbox, installed, closeout_live
):
    ws = installed.workspace_id
    # Clockify removed the installation but its DELETED never reached Closeout.
    with sandbox.world.lock:
        del sandbox.world.installations[ws]
    again = sandbox.control("POST", "/install", {"workspaceId": ws})
    assert again.status_code == 201, again.text
    assert _installation(app, ws).addon_id == again.json()["addonId"] != installed.installation.addon_id


def test_m4_a_settings_save_after_deleted_writes_nothing_and_says_so(app, client, install, make_token):
    from addon.exceptions import DomainError
    from addon.settings import store
    from addon.settings.models import SettingChange, WorkspaceSetting
    from addon.settings.store import Actor

    install()
    # The save's request was verified while Closeout was installed; DELETED lands before it writes.
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID}
    assert _post(client, "/lifecycle/deleted", body, make_token("lifecycle")).status_code == 200
    with app.app_context():
        with pytest.raises(DomainError) as refused:
            store.save(WORKSPACE_ID, {"approvals.tolerance_percent": 7}, Actor("user-1", "Ada"))
        assert refused.value.status == 409
        db.session.rollback()
        for model in (WorkspaceSetting, SettingChange):
            assert not db.session.scalars(sa.select(model).filter_by(workspace_id=WORKSPACE_ID)).all()
