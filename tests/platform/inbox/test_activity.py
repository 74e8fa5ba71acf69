"""The Activity section: admins see recent events and dead letters and can retry one; nobody else can."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from addon.extensions import db
from addon.platform.models import InboxEvent
from tests.conftest import OTHER_WORKSPACE_ID
from tests.platform.inbox.support import approval_body, deliver, inbox_rows

NEW = "NEW_APPROVAL_REQUEST"
PATH = "/settings/activity"


@pytest.fixture
def dead_letter(app, client, webhook_tokens):
    """One delivered event that kept failing."""
    deliver(client, webhook_tokens[NEW], NEW, approval_body(request_id="req-dead"))
    deliver(client, webhook_tokens[NEW], NEW, approval_body(request_id="req-fine"))
    dead, fine = inbox_rows(app)
    with app.app_context():
        db.session.execute(
            sa.update(InboxEvent)
            .where(InboxEvent.id == dead.id)
            .values(status="dead", attempts=5, last_error="ServerError: GET /v1/x 502: bad gateway")
        )
        db.session.execute(sa.update(InboxEvent).where(InboxEvent.id == fine.id).values(status="done", attempts=1))
        db.session.commit()
    return dead.id


def htmx(token):
    return {"X-Addon-Token": token, "HX-Request": "true"}


@pytest.mark.parametrize("role", ["MEMBER", "TEAM_MANAGER", "PROJECT_MANAGER"])
def test_activity_section_is_refused_to_non_admins(client, make_token, dead_letter, role):
    response = client.get(PATH, headers=htmx(make_token("user", workspaceRole=role)))

    assert response.status_code == 403
    assert "req-dead" not in response.get_data(as_text=True)


def test_retry_is_refused_to_non_admins_and_the_event_stays_dead(app, client, make_token, dead_letter):
    response = client.post(f"{PATH}/{dead_letter}/retry", headers=htmx(make_token("user", workspaceRole="MEMBER")))

    assert response.status_code == 403
    assert inbox_rows(app)[0].status == "dead"


def test_activity_section_without_a_token_is_refused(client, dead_letter):
    assert client.get(PATH, headers={"HX-Request": "true"}).status_code == 401
    assert client.post(f"{PATH}/{dead_letter}/retry", headers={"HX-Request": "true"}).status_code == 401


def test_admin_sees_dead_letters_with_their_error_and_recent_events(client, make_token, dead_letter):
    response = client.get(PATH, headers=htmx(make_token("user", workspaceRole="ADMIN")))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html  # a fragment for the settings page to include
    assert 'id="closeout-activity"' in html
    assert f'hx-post="/settings/activity/{dead_letter}/retry"' in html
    assert "ServerError: GET /v1/x 502: bad gateway" in html
    assert 'data-count="dead"' in html and 'data-status="done"' in html


def test_direct_load_of_the_activity_section_is_a_page(client, make_token, dead_letter):
    response = client.get(PATH, query_string={"auth_token": make_token("user")})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="closeout-activity"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_admin_retry_queues_the_event_again_and_re_renders_the_section(app, client, make_token, dead_letter):
    response = client.post(f"{PATH}/{dead_letter}/retry", headers=htmx(make_token("user", workspaceRole="OWNER")))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="closeout-activity"' in html and "<html" not in html
    assert 'data-action="retry"' not in html  # no dead letters left
    assert json.loads(response.headers["HX-Trigger"])["closeout:toast"]["message"] == "Event queued again."
    event = inbox_rows(app)[0]
    assert (event.status, event.attempts) == ("pending", 0)


def test_admin_of_another_workspace_neither_sees_nor_retries_these_dead_letters(
    app, client, install, make_token, dead_letter
):
    install(OTHER_WORKSPACE_ID, "addon-inst-0002")
    theirs = make_token("user", workspaceId=OTHER_WORKSPACE_ID, addonId="addon-inst-0002", workspaceRole="OWNER")

    page = client.get(PATH, headers=htmx(theirs))
    retry = client.post(f"{PATH}/{dead_letter}/retry", headers=htmx(theirs))

    assert page.status_code == 200 and "req-dead" not in page.get_data(as_text=True)
    assert "no longer in the dead letters" in retry.headers["HX-Trigger"]
    assert inbox_rows(app)[0].status == "dead"
