"""Chromium: an admin finds a dead-lettered webhook in Settings → Activity and retries it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from addon.extensions import db
from addon.platform.models import InboxEvent
from tests.platform.inbox.support import approval_body, inbox_rows

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

FRAME = '[data-testid="addon-frame-settings"]'


def test_admin_retries_a_dead_letter_from_the_settings_page(app, page, sandbox, installed):
    workspace_id = installed.workspace_id
    body = approval_body(request_id="req-browser", workspaceId=workspace_id)
    assert (
        sandbox.control(
            "POST", "/emit", {"workspaceId": workspace_id, "event": "NEW_APPROVAL_REQUEST", "payload": body}
        ).status_code
        == 202
    )
    sandbox.drain()
    [event] = [e for e in inbox_rows(app) if e.entity_id == "req-browser"]
    with app.app_context():
        db.session.execute(
            sa.update(InboxEvent)
            .where(InboxEvent.id == event.id)
            .values(status="dead", attempts=5, last_error="ServerError: 502")
        )
        db.session.commit()

    page.goto(sandbox.url + "/tracker")
    with page.expect_navigation():
        page.select_option('[data-testid="role-switcher"]', "ADMIN")
    page.goto(sandbox.url + "/settings/addons?open=settings")
    frame = page.locator(FRAME).element_handle().content_frame()
    retry = f'#closeout-activity tr[data-event="{event.id}"] [data-action="retry"]'
    frame.wait_for_selector(retry)
    assert "ServerError: 502" in frame.text_content("#closeout-activity [data-table=dead]")

    frame.click(retry)
    frame.wait_for_selector(retry, state="detached")

    assert [e.status for e in inbox_rows(app) if e.id == event.id] == ["pending"]
    assert frame.locator('#closeout-activity [data-empty="dead"]').count() == 1
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
