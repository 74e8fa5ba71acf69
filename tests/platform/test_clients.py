"""Clients builds Clockify clients from a stored installation and a verified user token, on kept sessions."""

from __future__ import annotations

import pytest

from addon.clockify import ClockifyClient
from addon.extensions import db
from addon.platform.clients import Clients, clients_for
from addon.platform.models import Installation
from addon.tokens import TokenContext, TokenKind

pytestmark = pytest.mark.sandbox


def test_the_installation_client_reaches_clockify_with_the_stored_token(app, installed, sandbox):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        client = clients_for(app).for_installation(installation)
        assert isinstance(client, ClockifyClient)
        assert client.api_url == sandbox.backend_url and client.reports_url == sandbox.reports_url
        assert client.get_workspace().id == installed.workspace_id
        assert installed.installation.installation_token not in repr(client)
        # Every client of the workspace paces on one shared limiter.
        assert clients_for(app).for_installation(installation).limiter is client.limiter
        client.close()


def test_the_user_client_acts_with_the_viewers_token_and_hosts(app, installed, sandbox, user_token):
    token = user_token("OWNER")
    claims = sandbox.signer.decode(token)
    ctx = TokenContext(TokenKind.USER, claims, token, claims["workspaceId"], claims.get("addonId"))
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        client = clients_for(app).for_user(ctx, installation)
        assert client.api_url == claims["backendUrl"]
        assert client.get_current_user().id == claims["user"]
        client.close()


def test_a_user_token_of_another_workspace_is_refused(app, installed, sandbox, user_token):
    token = user_token("OWNER")
    claims = {**sandbox.signer.decode(token), "workspaceId": "another-workspace"}
    ctx = TokenContext(TokenKind.USER, claims, token, "another-workspace", None)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        with pytest.raises(ValueError):
            clients_for(app).for_user(ctx, installation)


def test_a_workspace_keeps_one_session_for_its_installation_and_users_until_forgotten(
    app, installed, sandbox, user_token
):
    token = user_token("OWNER")
    claims = sandbox.signer.decode(token)
    ctx = TokenContext(TokenKind.USER, claims, token, claims["workspaceId"], claims.get("addonId"))
    clients = Clients(app.config)
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        as_addon = clients.for_installation(installation)
        as_user = clients.for_user(ctx, installation)
        # The token travels per request: one session serves both, and each call still acts as its own token.
        assert as_addon._session is as_user._session and clients.session_count == 1
        assert as_user.get_current_user().id == claims["user"]
        assert as_addon.get_workspace().id == installed.workspace_id
        as_addon.close()  # a client never closes the kept session
        assert clients.for_installation(installation)._session is as_user._session
        clients.forget(installed.workspace_id)
        assert clients.session_count == 0
        assert clients.for_installation(installation)._session is not as_user._session
    clients.close()


def test_sessions_are_kept_for_the_most_recently_used_workspaces_only(app):
    clients = Clients(app.config, max_sessions=2)
    first = clients._session("ws-1", "http://a")
    clients._session("ws-2", "http://a")
    assert clients._session("ws-1", "http://a") is first  # used again: now the most recent
    clients._session("ws-3", "http://a")  # evicts ws-2, the least recently used
    assert clients.session_count == 2
    assert clients._session("ws-1", "http://a") is first
    clients.close()
