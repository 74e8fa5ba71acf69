"""The host shell over HTTP: what each role sees, the iframe URLs it builds, and its add-on buttons."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

pytestmark = pytest.mark.sandbox


def _as(sandbox, role):
    session = requests.Session()
    response = session.post(sandbox.url + "/shell/role", data={"role": role, "next": "/tracker"}, timeout=10)
    assert response.status_code == 200
    return session


def _frames(html):
    """(component, src) of every add-on iframe on a page."""
    return [
        (component, unescape(src))
        for component, src in re.findall(r'data-component="([^"]+)"[^>]*?src="([^"]+)"', html, re.S)
    ]


def _token_of(src):
    return parse_qs(urlsplit(src).query)["auth_token"][0]


def test_before_install_no_page_shows_closeout(sandbox, closeout_live):
    owner = _as(sandbox, "OWNER")

    for path in ("/tracker", "/approvals", "/schedule", "/invoices"):
        html = owner.get(sandbox.url + path, timeout=10).text
        assert "sidebar-addon-closeout" not in html and _frames(html) == []
    assert 'data-testid="addon-install"' in owner.get(sandbox.url + "/settings/addons", timeout=10).text


def test_installing_from_the_settings_page_reaches_closeout(app, sandbox, closeout_live):
    owner = _as(sandbox, "OWNER")

    response = owner.post(sandbox.url + "/shell/addon/install", timeout=30)

    assert response.status_code == 200 and 'data-testid="notice"' in response.text
    assert sandbox.demo_workspace_id in sandbox.world.installations
    assert 'data-testid="sidebar-addon-closeout"' in response.text


def test_a_member_cannot_install_from_the_shell(sandbox, closeout_live):
    member = _as(sandbox, "MEMBER")

    response = member.post(sandbox.url + "/shell/addon/install", timeout=30)

    assert 'data-testid="notice-error"' in response.text
    assert sandbox.world.installations == {}


@pytest.mark.parametrize(
    ("path", "component"),
    [
        ("/addons/closeout", "sidebar"),
        ("/approvals?tab=addon-approvals.tab", "approvals.tab"),
        ("/schedule?tab=addon-schedule.tab", "schedule.tab"),
        ("/invoices?action=invoices.action", "invoices.action"),
        ("/settings/addons?open=settings", "settings"),
    ],
)
def test_each_page_embeds_closeout_with_a_fresh_token_for_the_role(sandbox, closeout_live, installed, path, component):
    admin = _as(sandbox, "ADMIN")

    ((found, src),) = _frames(admin.get(sandbox.url + path, timeout=10).text)

    assert found == component
    assert src.startswith(closeout_live.url + "/")
    claims = sandbox.signer.decode(_token_of(src))
    assert claims["workspaceRole"] == "WORKSPACE_ADMIN"
    assert claims["addonId"] == installed.installation.addon_id
    assert requests.get(src, timeout=10).status_code == 200


@pytest.mark.parametrize("role", ["MEMBER", "TEAM_MANAGER"])
def test_non_admins_see_no_admin_only_component_and_no_settings(sandbox, closeout_live, installed, role):
    user = _as(sandbox, role)

    invoices = user.get(sandbox.url + "/invoices?action=invoices.action", timeout=10).text
    settings = user.get(sandbox.url + "/settings/addons?open=settings", timeout=10).text
    approvals = user.get(sandbox.url + "/approvals?tab=addon-approvals.tab", timeout=10).text

    assert _frames(invoices) == [] and "addon-action-invoices.action" not in invoices
    assert _frames(settings) == [] and 'data-testid="settings-forbidden"' in settings
    assert [c for c, _ in _frames(approvals)] == ["approvals.tab"]


def test_a_paused_addon_is_not_loaded_anywhere(sandbox, closeout_live, installed):
    sandbox.control("POST", "/pause")
    owner = _as(sandbox, "OWNER")

    html = owner.get(sandbox.url + "/approvals?tab=addon-approvals.tab", timeout=10).text

    assert _frames(html) == [] and "sidebar-addon-closeout" not in html
    assert 'data-testid="addon-resume"' in owner.get(sandbox.url + "/settings/addons", timeout=10).text


def test_the_theme_switch_reaches_the_token(sandbox, closeout_live, installed):
    owner = _as(sandbox, "OWNER")
    owner.post(sandbox.url + "/shell/theme", data={"next": "/tracker"}, timeout=10)

    ((_, src),) = _frames(owner.get(sandbox.url + "/addons/closeout", timeout=10).text)

    assert jwt.decode(_token_of(src), options={"verify_signature": False})["theme"] == "DARK"


def test_the_token_endpoint_answers_for_the_current_role(sandbox, closeout_live, installed):
    member = _as(sandbox, "MEMBER")

    response = member.post(sandbox.url + "/shell/token", timeout=10)

    assert response.status_code == 200
    assert sandbox.signer.decode(response.json()["token"])["workspaceRole"] == "USER"


def test_the_token_endpoint_refuses_when_closeout_is_not_installed(sandbox):
    assert requests.post(sandbox.url + "/shell/token", timeout=10).status_code == 409


def test_the_shell_never_redirects_off_its_own_host(sandbox):
    response = requests.post(
        sandbox.url + "/shell/role",
        data={"role": "ADMIN", "next": "//evil.example/"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.headers["Location"].endswith("/tracker")


def test_shell_pages_allow_frames_only_from_closeout(sandbox, closeout_live, installed):
    response = requests.get(sandbox.url + "/approvals", timeout=10)

    csp = response.headers["Content-Security-Policy"]
    assert f"frame-src {closeout_live.url}" in csp and "script-src 'self'" in csp


def test_a_shorter_token_lifetime_reaches_the_iframes(sandbox, closeout_live, installed):
    sandbox.state.config["SANDBOX_USER_TOKEN_TTL"] = 90
    owner = _as(sandbox, "OWNER")

    ((_, src),) = _frames(owner.get(sandbox.url + "/addons/closeout", timeout=10).text)

    claims = sandbox.signer.decode(_token_of(src))
    assert claims["exp"] - claims["iat"] == 90
