"""Chromium drives the schedule tab against the sandbox: publish a week, roll a week forward twice, read a cell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from addon.jobs import jobs_for, start_consumer
from addon.scheduling import plan as plans

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


@pytest.fixture
def worker(app: Any, installed: Any) -> Iterator[Any]:
    """Closeout's background worker: schedule jobs run as in production."""
    plans._plans.clear()
    consumer = start_consumer(app, workers=2, max_delay=0.1)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()
    plans._plans.clear()


def this_monday() -> Any:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def test_an_admin_publishes_a_week_and_clockify_has_it_published(page, sandbox, installed, worker, open_component):
    week = this_monday() + timedelta(days=14)
    last = week + timedelta(days=6)
    with sandbox.world.lock:
        space = sandbox.world.workspaces[installed.workspace_id]
        drafts = [
            a["id"]
            for a in space.assignments.values()
            if not a["published"] and a["start"] <= last and a["end"] >= week
        ]
    assert drafts
    page.goto(open_component("OWNER", "schedule"))
    page.fill("#publish-first", week.isoformat())
    page.fill("#publish-last", last.isoformat())
    page.click("button:text-is('Count unpublished')")
    preview = page.wait_for_selector("[data-publish-preview]")
    assert preview.get_attribute("data-assignments") == str(len(drafts))
    page.click("button:text-is('Publish')")
    page.wait_for_selector("[data-job-kind=publish][data-job-status=done]", timeout=30_000)
    with sandbox.world.lock:
        assert all(space.assignments[a]["published"] for a in drafts)
    # Other weeks' drafts stay drafts.
    with sandbox.world.lock:
        assert any(not a["published"] for a in space.assignments.values() if a["start"] > last)
    assert page.console_errors == []


def test_rolling_a_week_forward_twice_creates_each_copy_once(page, sandbox, installed, worker, open_component):
    week = this_monday()
    target = week + timedelta(days=28)  # beyond the seeded plan: nothing is there yet
    with sandbox.world.lock:
        space = sandbox.world.workspaces[installed.workspace_id]
        person = next(a["userId"] for a in space.assignments.values() if a["start"] == week)
        sources = [a for a in space.assignments.values() if a["userId"] == person and a["start"] == week]
    page.goto(open_component("OWNER", "schedule"))
    for _ in range(2):
        page.fill("#copy-week", week.isoformat())
        page.fill("#copy-weeks", "4")
        page.select_option("#copy-users", [person])
        page.check("input[name=allow_overbooking]")
        page.click("button:text-is('Copy to next weeks')")
        page.wait_for_selector("[data-job-kind=copy][data-job-status=done]", timeout=30_000)
        page.eval_on_selector("#schedule-job", "el => el.innerHTML = ''")
    with sandbox.world.lock:
        copies = [a for a in space.assignments.values() if a["userId"] == person and a["start"] == target]
        left_behind = [a for a in space.assignments.values() if a["userId"] == person and a["start"] == week]
    assert sorted(a["projectId"] for a in copies) == sorted(a["projectId"] for a in sources)
    assert len(left_behind) == len(sources)
    assert page.console_errors == []


def test_a_cell_opens_in_place_and_the_grid_stays_readable_in_dark_mode(page, sandbox, installed, open_component):
    page.goto(open_component("OWNER", "schedule", theme="DARK"))
    assert page.get_attribute("html", "data-theme") == "dark"
    page.wait_for_selector("#schedule-variance table")
    page.evaluate("window.__loaded = true")
    cell = page.locator("button.co-cell[data-week]").nth(3)
    user_id = cell.get_attribute("data-user-id")
    cell.click()
    detail = page.wait_for_selector(f"[data-cell-detail][data-user-id='{user_id}']")
    assert detail.is_visible()
    assert page.evaluate("window.__loaded") is True  # no full reload
    # Names and the header stay in place while the grid scrolls; the page itself never scrolls sideways.
    assert page.eval_on_selector("thead th", "th => getComputedStyle(th).position") == "sticky"
    assert page.eval_on_selector("tbody th.co-heatmap-name", "th => getComputedStyle(th).position") == "sticky"
    assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")
    text = page.eval_on_selector(
        "button.co-cell.co-band--full, button.co-cell.co-band--under", "b => getComputedStyle(b).color"
    )
    assert text == "rgb(227, 232, 236)"
    assert page.console_errors == []
