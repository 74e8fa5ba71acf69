"""Fixtures for inbox tests: an installed workspace whose webhook tokens are known."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def webhook_tokens(install: Callable[..., dict[str, Any]]) -> dict[str, str]:
    """Install on the test workspace; event type → the token Clockify signs that webhook's deliveries with."""
    return install()["webhook_tokens"]


@pytest.fixture
def page() -> Iterator[Any]:
    """Chromium (system) with a fresh context; console errors (CSP violations among them) collected."""
    import os

    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        pytest.skip(f"Chromium is not installed at {chromium} (make browser)")
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=args, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
        yield page
        context.close()
        browser.close()
