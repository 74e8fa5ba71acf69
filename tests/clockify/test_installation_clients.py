"""client_for and user_client build clients from a stored installation and a verified user token."""

from __future__ import annotations

import pytest

from addon.clockify import ClockifyClient
from addon.extensions import db
from addon.models import Installation
from addon.security import TokenContext, TokenKind
from addon.services.installations import client_for, user_client

pytestmark = pytest.mark.sandbox


def test_the_installation_client_reaches_clockify_with_the_stored_token(app, installed, sandbox):
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        client = client_for(installation, app.config)
        assert isinstance(client, ClockifyClient)
        assert client.api_url == sandbox.backend_url and client.reports_url == sandbox.reports_url
        assert client.get_workspace().id == installed.workspace_id
        assert installed.installation.installation_token not in repr(client)
        # Every client of the workspace paces on one shared limiter.
        assert client_for(installation, app.config).limiter is client.limiter
        client.close()


def test_the_user_client_acts_with_the_viewers_token_and_hosts(app, installed, sandbox, user_token):
    token = user_token("OWNER")
    claims = sandbox.signer.decode(token)
    ctx = TokenContext(TokenKind.USER, claims, token, claims["workspaceId"], claims.get("addonId"))
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        client = user_client(ctx, installation, app.config)
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
            user_client(ctx, installation, app.config)
