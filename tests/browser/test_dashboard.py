"""Chromium: the sidebar dashboard inside the host shell, in a narrow iframe, with its Refresh button."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def test_an_owner_refreshes_the_dashboard_and_its_links_leave_the_iframe(context, sandbox, installed, open_component):
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 360, "height": 900})
    page.goto(open_component("OWNER", "sidebar", theme="DARK"))
    page.wait_for_selector('[data-period="previous"]')
    assert page.get_attribute("html", "data-theme") == "dark"
    assert "Last refreshed" in page.text_content("[data-refreshed]")

    page.evaluate("document.querySelector('[data-refreshed]').setAttribute('data-old', '1')")
    with page.expect_response(lambda r: r.url.endswith("/components/sidebar/refresh")) as answer:
        page.click('[data-action="refresh"]')
    assert answer.value.status == 200
    # The figures were swapped in afresh (the marker on the old paragraph is gone).
    page.wait_for_selector("[data-refreshed]:not([data-old])")
    assert page.locator("[data-problem]").count() == 0
    pending = page.locator('[data-period="previous"] [data-figure="pending"]')
    assert pending.get_attribute("target") == "_top"
    assert pending.get_attribute("href").startswith(sandbox.url + "/approvals?status=PENDING")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
