"""Chromium drives the sandbox's host shell: install Closeout, open every surface as every role, refresh tokens."""

from __future__ import annotations

import json

import jwt
import pytest

from addon.extensions import db
from addon.platform.models import Installation

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

ROLE_CLAIMS = {"OWNER": "OWNER", "ADMIN": "WORKSPACE_ADMIN", "TEAM_MANAGER": "TEAM_MANAGER", "MEMBER": "USER"}
# page URL on the shell → the component its iframe holds
SURFACES = {
    "/addons/closeout": "sidebar",
    "/approvals?tab=addon-approvals.tab": "approvals.tab",
    "/schedule?tab=addon-schedule.tab": "schedule.tab",
    "/invoices?action=invoices.action": "invoices.action",
    "/settings/addons?open=settings": "settings",
}
ADMIN_ONLY = {"invoices.action", "settings"}


def _frame_selector(component):
    return f'[data-testid="addon-frame-{component}"]'


def _act_as(page, sandbox, role):
    page.goto(sandbox.url + "/tracker")
    with page.expect_navigation():
        page.select_option('[data-testid="role-switcher"]', role)
    assert page.get_attribute("body", "data-role") == role


def _loaded_frame(page, component):
    """The component's iframe once Closeout has rendered into it."""
    frame = page.locator(_frame_selector(component)).element_handle().content_frame()
    frame.wait_for_selector("body.co-body")
    return frame


def _frame_claims(frame):
    token = frame.evaluate("document.body.getAttribute('data-token')")
    return token, jwt.decode(token, options={"verify_signature": False})


def test_closeout_installs_through_the_host_page(page, sandbox, closeout_live, app):
    page.goto(sandbox.url + "/settings/addons")
    assert page.text_content('[data-testid="addon-status"]').strip() == "Not installed"

    page.click('[data-testid="addon-install"]')

    assert page.text_content('[data-testid="addon-status"]').strip() == "Active"
    assert page.is_visible('[data-testid="sidebar-addon-closeout"]')
    installation = sandbox.world.installations[sandbox.demo_workspace_id]
    with app.app_context():
        stored = db.session.scalar(db.select(Installation).filter_by(workspace_id=sandbox.demo_workspace_id))
        assert stored is not None and stored.addon_id == installation.addon_id
    assert page.console_errors == []


@pytest.mark.parametrize("role", ["OWNER", "ADMIN", "TEAM_MANAGER", "MEMBER"])
def test_each_page_shows_the_right_closeout_iframe_for_the_role(page, sandbox, installed, role):
    _act_as(page, sandbox, role)

    for path, component in SURFACES.items():
        page.goto(sandbox.url + path)
        if component in ADMIN_ONLY and role in ("TEAM_MANAGER", "MEMBER"):
            assert page.locator(_frame_selector(component)).count() == 0, (role, component)
            continue
        frame = _loaded_frame(page, component)
        token, claims = _frame_claims(frame)
        sandbox.signer.decode(token)  # signed by the sandbox and not expired
        assert claims["workspaceRole"] == ROLE_CLAIMS[role]
        assert claims["addonId"] == installed.installation.addon_id
        assert frame.text_content("#closeout-error").strip() == ""

    page.goto(sandbox.url + "/invoices")
    admin = role in ("OWNER", "ADMIN")
    assert page.locator('[data-testid="addon-actions"]').count() == (1 if admin else 0)
    page.goto(sandbox.url + "/settings/addons")
    assert page.locator('[data-testid="settings-forbidden"]').count() == (0 if admin else 1)
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []


def test_refresh_addon_token_round_trip(page, sandbox, installed):
    page.goto(sandbox.url + "/addons/closeout")
    frame = _loaded_frame(page, "sidebar")
    old = frame.evaluate("window.Closeout.token()")

    # Exactly what Closeout's glue sends when its token is about to expire (docs/clockify.md#iframe).
    frame.evaluate("window.top.postMessage(JSON.stringify({action: 'refreshAddonToken', payload: {}}), '*')")
    frame.wait_for_function("old => window.Closeout.token() !== old", arg=old)

    fresh = frame.evaluate("window.Closeout.token()")
    claims = sandbox.signer.decode(fresh)
    assert claims["workspaceRole"] == "OWNER" and claims["addonId"] == installed.installation.addon_id
    assert frame.evaluate("document.body.getAttribute('data-token')") == fresh
    assert page.get_attribute("body", "data-token-refreshes") == "1"


def test_messages_from_outside_closeouts_iframes_are_ignored(page, sandbox, installed):
    page.goto(sandbox.url + "/addons/closeout")
    _loaded_frame(page, "sidebar")

    page.evaluate(
        "window.postMessage(JSON.stringify({action: 'toastrPop', payload: {type: 'error', message: 'forged'}}), '*')"
    )
    page.evaluate("window.postMessage(JSON.stringify({action: 'refreshAddonToken', payload: {}}), '*')")

    # A message from Closeout's iframe after the forged ones: once it shows, the forged ones had their chance.
    frame = _loaded_frame(page, "sidebar")
    frame.evaluate(
        "window.top.postMessage(JSON.stringify({action: 'toastrPop', payload: {type: 'info', message: 'real'}}), '*')"
    )
    page.wait_for_selector('[data-testid="toast"]')
    assert page.locator('[data-testid="toast"]').all_text_contents() == ["real"]
    assert page.get_attribute("body", "data-token-refreshes") is None


@pytest.mark.parametrize("kind", ["success", "error"])
def test_toastr_pop_from_closeout_shows_a_toast(page, sandbox, installed, kind):
    page.goto(sandbox.url + "/approvals?tab=addon-approvals.tab")
    frame = _loaded_frame(page, "approvals.tab")
    message = json.dumps({"action": "toastrPop", "payload": {"type": kind, "message": f"Saved ({kind})"}})

    frame.evaluate("m => window.top.postMessage(m, '*')", message)

    toast = page.wait_for_selector('[data-testid="toast"]')
    assert toast.text_content() == f"Saved ({kind})"
    assert toast.get_attribute("data-type") == kind


def test_the_dark_theme_reaches_closeout(page, sandbox, installed):
    page.goto(sandbox.url + "/tracker")
    with page.expect_navigation():
        page.click('[data-testid="theme-toggle"]')
    page.goto(sandbox.url + "/addons/closeout")

    frame = _loaded_frame(page, "sidebar")

    assert page.get_attribute("html", "data-theme") == "dark"
    assert frame.get_attribute("html", "data-theme") == "dark"


def test_pause_resume_and_uninstall_from_the_host_page(page, sandbox, installed, app):
    page.goto(sandbox.url + "/settings/addons")

    page.click('[data-testid="addon-pause"]')
    assert page.text_content('[data-testid="addon-status"]').strip() == "Paused"
    assert page.locator('[data-testid="sidebar-addon-closeout"]').count() == 0

    page.click('[data-testid="addon-resume"]')
    assert page.text_content('[data-testid="addon-status"]').strip() == "Active"
    assert page.locator('[data-testid="sidebar-addon-closeout"]').count() == 1

    page.click('[data-testid="addon-uninstall"]')
    assert page.text_content('[data-testid="addon-status"]').strip() == "Not installed"
    assert sandbox.world.installations == {}
