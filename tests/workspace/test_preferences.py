"""The viewing user's formats and the workspace's facts come from Clockify, cached, and survive Clockify failing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa

from addon.extensions import db
from addon.workspace.models import PreferenceCache

pytestmark = pytest.mark.sandbox


def _previous_week_start():
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday() + 7)


def test_dates_and_hours_follow_the_users_and_workspaces_clockify_formats(sandbox, installed, open_component):
    page = requests.get(open_component("MEMBER", "sidebar"), timeout=60)
    assert page.status_code == 200, page.text
    # The seeded users read dates as DD/MM/YYYY; the workspace shows durations in FULL (h:mm:ss).
    assert _previous_week_start().strftime("%d/%m/%Y") in page.text
    planned = page.text.split('data-figure="planned"', 1)[1].split("</li>", 1)[0]
    assert ":00:00" in planned or ":30:00" in planned


def test_opening_pages_again_asks_clockify_only_once_per_ttl(sandbox, installed, open_component, request_log):
    for _ in range(3):
        assert requests.get(open_component("OWNER", "settings"), timeout=60).status_code == 200
    assert len(request_log(method="GET", path="*/v1/user")) == 1
    assert len(request_log(method="GET", path=f"*/v1/workspaces/{installed.workspace_id}")) == 1
    assert len(request_log(method="GET", path="*/user-groups*")) == 1


def test_when_clockify_refuses_the_last_known_formats_are_used(app, sandbox, installed, open_component, request_log):
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(PreferenceCache).values(fetched_at=datetime.now(UTC) - timedelta(days=1)))
        db.session.commit()
    for pattern in ("/api/v1/user", f"/api/v1/workspaces/{installed.workspace_id}"):
        fault = sandbox.control(
            "POST", "/faults", {"pattern": pattern, "methods": ["GET"], "errorRate": 1.0, "errorStatus": 403}
        )
        assert fault.status_code in (200, 201), fault.text
    page = requests.get(open_component("OWNER", "sidebar"), timeout=60)
    assert page.status_code == 200
    owner = next(u for u in sandbox.world.workspaces[installed.workspace_id].users.values() if u["role"] == "OWNER")
    strftime = {"MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y"}[owner["dateFormat"]]
    assert strftime != "%Y-%m-%d"  # not the default a failed read would fall back to
    assert _previous_week_start().strftime(strftime) in page.text
    assert request_log(method="GET", path="/api/v1/user", status=403)
