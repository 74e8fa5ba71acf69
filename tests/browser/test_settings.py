"""Chromium: an admin edits the numbering pattern in Closeout's settings inside the host's settings page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

FRAME = '[data-testid="addon-frame-settings"]'
PATTERN = 'input[name="invoicing.number_pattern"]'


def _act_as(page, sandbox, role):
    page.goto(sandbox.url + "/tracker")
    with page.expect_navigation():
        page.select_option('[data-testid="role-switcher"]', role)


def _settings_frame(page, sandbox):
    page.goto(sandbox.url + "/settings/addons?open=settings")
    frame = page.locator(FRAME).element_handle().content_frame()
    frame.wait_for_selector("#settings-form")
    return frame


def test_an_admin_changes_the_numbering_pattern_sees_the_preview_saves_and_finds_it_kept(page, sandbox, installed):
    year = datetime.now(UTC).year
    _act_as(page, sandbox, "ADMIN")
    frame = _settings_frame(page, sandbox)
    assert frame.text_content("[data-preview]").strip() == f"INV-{year}-0001"

    frame.fill(PATTERN, "ACME/{YY}/{SEQ:6}")
    frame.wait_for_function(
        "expected => document.querySelector('[data-preview]')?.textContent.trim() === expected",
        arg=f"ACME/{year % 100:02d}/000001",
    )

    # A broken pattern is explained beside the field before anything is saved.
    frame.fill(PATTERN, "ACME/{YY}")
    frame.wait_for_selector("[data-preview-error]")
    assert "Include {SEQ}" in frame.text_content("[data-preview-error]")
    frame.fill(PATTERN, "ACME/{YY}/{SEQ:6}")
    frame.wait_for_selector("[data-preview]")

    frame.click('[data-action="save"]')
    frame.wait_for_selector('#settings-history [data-change="invoicing.number_pattern"]')

    page.reload()
    frame = page.locator(FRAME).element_handle().content_frame()
    frame.wait_for_selector("#settings-form")
    assert frame.input_value(PATTERN) == "ACME/{YY}/{SEQ:6}"
    assert frame.text_content("[data-preview]").strip() == f"ACME/{year % 100:02d}/000001"
    history = frame.text_content('#settings-history [data-change="invoicing.number_pattern"]')
    assert re.search(r"INV-\{YYYY\}-\{SEQ:4\}\s*→\s*ACME/\{YY\}/\{SEQ:6\}", history)
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []


def test_an_invalid_save_shows_the_message_beside_the_field_and_keeps_the_stored_value(page, sandbox, installed, app):
    _act_as(page, sandbox, "OWNER")
    frame = _settings_frame(page, sandbox)
    frame.fill('input[name="invoicing.due_days"]', "400")
    frame.click('[data-action="save"]')
    frame.wait_for_selector('[data-field="invoicing.due_days"] .co-field-error')
    assert "365 or less" in frame.text_content('[data-field="invoicing.due_days"] .co-field-error')
    assert frame.input_value('input[name="invoicing.due_days"]') == "400"
    from addon.settings import store

    with app.app_context():
        assert store.get_settings(installed.workspace_id)["invoicing.due_days"] == 30


def test_the_settings_page_fits_a_narrow_dark_iframe(context, sandbox, installed, open_component):
    page = context.new_page()
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(open_component("OWNER", "settings", theme="DARK"))
    page.wait_for_selector("#settings-form")
    assert page.get_attribute("html", "data-theme") == "dark"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
