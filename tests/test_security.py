"""Token verification: only correctly signed Clockify tokens of the right kind get in."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from addon.tokens import Role, role_from_claim
from tests.conftest import ADDON_ID, OTHER_WORKSPACE_ID, WORKSPACE_ID


def _open(client, token, path="/components/sidebar", **kwargs):
    return client.get(path, query_string={"auth_token": token}, **kwargs)


def test_valid_user_token_opens_a_component(client, install, make_token):
    install()
    # No Clockify answers here: the tab opens and says so, rather than refusing the viewer.
    response = _open(client, make_token("user", user="user-42"), "/components/schedule")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Plan vs actual" in page and "could not be reached" in page


def _unsigned(claims: dict) -> str:
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}."


FORGERIES = {
    "forged signature": lambda mk, pub: mk("user", key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    "hs256 with public key": lambda mk, pub: _hs256_with_public_key(pub),
    "alg none": lambda mk, pub: _unsigned(
        {"iss": "clockify", "sub": "closeout", "type": "addon", "workspaceId": WORKSPACE_ID, "addonId": ADDON_ID}
    ),
    "expired": lambda mk, pub: mk("user", exp=int(time.time()) - 120),
    "wrong issuer": lambda mk, pub: mk("user", iss="not-clockify"),
    "wrong subject": lambda mk, pub: mk("user", sub="another-addon"),
    "wrong type": lambda mk, pub: mk("user", type="user"),
    "no issuer": lambda mk, pub: mk("user", iss=None),
    "garbage": lambda mk, pub: "not-a-jwt",
    "empty": lambda mk, pub: "",
}


def _hs256_with_public_key(public_pem: str) -> str:
    import hashlib
    import hmac

    def enc(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "iss": "clockify",
        "sub": "closeout",
        "type": "addon",
        "workspaceId": WORKSPACE_ID,
        "addonId": ADDON_ID,
        "user": "u",
        "workspaceRole": "OWNER",
        "exp": int(time.time()) + 600,
    }
    payload = enc(json.dumps(claims).encode())
    signature = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{enc(signature)}"


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_untrustworthy_user_tokens_are_refused(client, install, make_token, key_pair, name):
    install()
    token = FORGERIES[name](make_token, key_pair[1])
    response = _open(client, token)
    assert response.status_code == 401, name
    assert b"Traceback" not in response.data


def test_expiry_leeway_is_at_most_sixty_seconds(client, install, make_token):
    install()
    assert _open(client, make_token("user", exp=int(time.time()) - 30)).status_code == 200
    assert _open(client, make_token("user", exp=int(time.time()) - 90)).status_code == 401


def test_workspace_a_token_cannot_open_workspace_b(client, install, make_token):
    install(WORKSPACE_ID)
    # B is not installed: the token is genuine but names a workspace Closeout does not serve.
    response = _open(client, make_token("user", workspaceId=OTHER_WORKSPACE_ID))
    assert response.status_code == 403


def test_user_token_with_another_installations_addon_id_is_refused(client, install, make_token):
    install()
    assert _open(client, make_token("user", addonId="someone-elses-installation")).status_code == 401


@pytest.mark.parametrize("kind", ["lifecycle", "webhook", "installation"])
def test_only_user_tokens_open_components(client, install, make_token, kind):
    install()
    assert _open(client, make_token(kind)).status_code == 401


@pytest.mark.parametrize("path", ["/lifecycle/deleted", "/lifecycle/status-changed"])
def test_user_token_in_the_lifecycle_header_cannot_uninstall_or_pause(app, client, install, make_token, path):
    install()
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "status": "INACTIVE"}
    response = client.post(path, json=body, headers={"X-Addon-Lifecycle-Token": make_token("user")})
    assert response.status_code == 401
    with app.app_context():
        from addon.extensions import db
        from addon.platform.models import Installation

        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=WORKSPACE_ID))
        assert installation is not None and installation.is_active


def test_user_token_on_lifecycle_route_is_refused(client, install, make_token):
    install()
    response = client.post(
        "/lifecycle/status-changed",
        json={"workspaceId": WORKSPACE_ID, "addonId": ADDON_ID, "status": "INACTIVE"},
        headers={"X-Addon-Token": make_token("user")},
    )
    assert response.status_code == 401
    assert response.is_json


def test_user_token_in_query_is_not_accepted_on_htmx_calls(client, install, make_token):
    install()
    token = make_token("user")
    response = client.get("/components/sidebar", query_string={"auth_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 401
    response = client.get("/components/sidebar", headers={"HX-Request": "true", "X-Addon-Token": token})
    assert response.status_code == 200


def test_webhook_token_that_verifies_but_differs_from_the_stored_one_is_refused(client, install, make_token):
    install()
    other = make_token("webhook", nonce="a-different-token")
    response = client.post(
        "/webhooks/new-approval-request",
        json={"id": "ar-1", "workspaceId": WORKSPACE_ID},
        headers={"Clockify-Signature": other, "Clockify-Webhook-Event-Type": "NEW_APPROVAL_REQUEST"},
    )
    assert response.status_code == 401


def test_members_cannot_open_admin_only_pages(client, install, make_token):
    install()
    member = make_token("user", workspaceRole="USER")
    assert _open(client, member, "/settings").status_code == 403
    assert _open(client, member, "/components/invoices").status_code == 403
    assert _open(client, make_token("user", workspaceRole="ADMIN"), "/settings").status_code == 200


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        ("OWNER", Role.OWNER),
        ("WORKSPACE_ADMIN", Role.ADMIN),
        ("ADMIN", Role.ADMIN),
        ("TEAM_MANAGER", Role.TEAM_MANAGER),
        ("PROJECT_MANAGER", Role.PROJECT_MANAGER),
        ("USER", Role.MEMBER),
        (None, Role.MEMBER),
        ("owner", Role.OWNER),
    ],
)
def test_role_helper_reads_workspace_role(claim, role):
    assert role_from_claim(claim) is role
