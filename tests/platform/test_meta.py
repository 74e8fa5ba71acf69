"""Health, headers, configuration and logs."""

from __future__ import annotations

import logging

import pytest

from addon import create_app
from addon.config import ConfigError
from tests.conftest import WORKSPACE_ID


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_when_the_database_is_unreachable(app_config, tmp_path):
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_component_pages_allow_framing_only_by_configured_ancestors(app_config):
    app = create_app({**app_config, "FRAME_ANCESTORS": "https://app.clockify.me https://*.clockify.me"})
    # Even a refused load is a page that may only be framed by Clockify.
    response = app.test_client().get("/components/sidebar", query_string={"auth_token": "x"})
    assert response.status_code == 401
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://app.clockify.me https://*.clockify.me;" in csp
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_default_frame_ancestors_are_clockify(client, install, make_token):
    install()
    response = client.get("/components/sidebar", query_string={"auth_token": make_token("user")})
    assert "frame-ancestors https://*.clockify.me https://clockify.me" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_when_served_over_https(client, install, make_token):
    install()
    response = client.get(
        "/components/sidebar", query_string={"auth_token": make_token("user")}, base_url="https://addon.test"
    )
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:closeout?mode=memory&uri=true"])
def test_an_in_memory_database_is_refused_at_start(app_config, url):
    with pytest.raises(ConfigError, match="in-memory"):
        create_app({**app_config, "DATABASE_URL": url})


def test_development_generates_and_keeps_a_secret_key(monkeypatch, app_config):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {k: v for k, v in app_config.items() if k not in ("SECRET_KEY", "TESTING")}
    first = create_app(config).config["SECRET_KEY"]
    second = create_app(config).config["SECRET_KEY"]
    assert first and first == second


def test_environment_and_overrides_share_names(monkeypatch, app_config):
    monkeypatch.setenv("ADDON_BASE_URL", "https://from-env.example.com")
    without_override = {k: v for k, v in app_config.items() if k != "ADDON_BASE_URL"}
    assert create_app(without_override).config["ADDON_BASE_URL"] == "https://from-env.example.com"
    assert create_app(app_config).config["ADDON_BASE_URL"] == "http://addon.test"


def test_unknown_route_answers_a_page_not_a_trace(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Traceback" not in response.data


def test_no_token_appears_in_any_log_line(client, install, make_token, caplog):
    caplog.set_level(logging.DEBUG)
    sent = install()
    user = make_token("user")
    client.get("/components/sidebar", query_string={"auth_token": user})
    client.get("/components/approvals", headers={"HX-Request": "true", "X-Addon-Token": user})
    client.get("/settings", query_string={"auth_token": make_token("user", workspaceRole="USER")})
    hook = sent["webhook_tokens"]["NEW_APPROVAL_REQUEST"]
    client.post(
        "/webhooks/new-approval-request",
        json={"id": "ar-1", "workspaceId": WORKSPACE_ID},
        headers={"Clockify-Signature": hook, "Clockify-Webhook-Event-Type": "NEW_APPROVAL_REQUEST"},
    )
    client.post(
        "/webhooks/new-approval-request",
        json={"id": "ar-1", "workspaceId": WORKSPACE_ID},
        headers={"Clockify-Signature": "forged", "Clockify-Webhook-Event-Type": "NEW_APPROVAL_REQUEST"},
    )
    secrets = [user, sent["body"]["authToken"], *sent["webhook_tokens"].values()]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # something was logged
    for secret in secrets:
        assert secret not in text
        assert secret.split(".")[2] not in text


def test_oversized_bodies_are_refused_with_413(client, make_token):
    response = client.post(
        "/lifecycle/installed",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        content_type="application/json",
        headers={"X-Addon-Lifecycle-Token": make_token("lifecycle")},
    )
    assert response.status_code == 413
    assert response.is_json


def test_closeout_keeps_no_cookie_session(app, client):
    from flask import session

    assert "Set-Cookie" not in client.get("/healthz").headers
    with app.test_request_context("/"):
        assert dict(session) == {}
        with pytest.raises(RuntimeError, match="no cookie session"):
            session["user"] = "someone"
