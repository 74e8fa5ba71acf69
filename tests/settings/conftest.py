"""Settings fixtures: an installed workspace whose Clockify facts are already cached (no Clockify needed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from addon.extensions import db, utcnow
from addon.workspace.models import PreferenceCache
from tests.conftest import OTHER_WORKSPACE_ID, OWNER_ID, WORKSPACE_ID

GROUPS = [["grp-design", "Design"], ["grp-eng", "Engineering"]]
CLIENTS = [["cli-acme", "Acme"], ["cli-globex", "Globex"]]


def remember(app: Flask, workspace_id: str, scope: str, value: Any, age: timedelta = timedelta(0)) -> None:
    """Store what Clockify would have answered, as the preferences cache does."""
    with app.app_context():
        db.session.add(PreferenceCache(workspace_id=workspace_id, scope=scope, value=value, fetched_at=utcnow() - age))
        db.session.commit()


def known_workspace(app: Flask, workspace_id: str = WORKSPACE_ID, **workspace: Any) -> None:
    remember(
        app,
        workspace_id,
        "workspace",
        {
            "name": "Acme Studio",
            "currency": "EUR",
            "durationFormat": "COMPACT",
            "numberFormat": "COMMA_PERIOD",
            "currencyFormat": "CURRENCY_SPACE_VALUE",
            "timeZone": "Europe/Berlin",
            "approvalPeriod": "SEMI_MONTHLY",
            "weekStart": "SUNDAY",
            "periodSource": "workspace",
            **workspace,
        },
    )
    remember(app, workspace_id, "groups", GROUPS)
    remember(app, workspace_id, "clients", CLIENTS)


@pytest.fixture
def settings_ready(app: Flask, install: Callable[..., Any]) -> Callable[..., None]:
    """Install the workspace and cache its Clockify facts and the owner's formats."""

    def ready(
        workspace_id: str = WORKSPACE_ID, users: tuple[str, ...] = (OWNER_ID, "user-admin-2", "user-member")
    ) -> None:
        install(workspace_id=workspace_id)
        known_workspace(app, workspace_id)
        for user_id in users:
            remember(
                app,
                workspace_id,
                f"user:{user_id}",
                {"id": user_id, "name": f"Name of {user_id}", "timeZone": "Europe/Berlin", "dateFormat": "DD.MM.YYYY"},
            )

    return ready


@pytest.fixture
def other_workspace() -> str:
    return OTHER_WORKSPACE_ID


def form_of(html: str) -> list[tuple[str, str]]:
    """The fields a browser would submit from the settings form (hidden markers, ticked boxes, selections)."""
    form = re.search(r'<form id="settings-form".*?</form>', html, re.S)
    assert form, "the page has no settings form"
    body = form.group(0)
    fields: list[tuple[str, str]] = []
    for tag in re.finditer(
        r"<(input|select|textarea)\b([^>]*)>(.*?)(?=<(?:input|select|textarea)\b|</form>)", body, re.S
    ):
        kind, attrs, rest = tag.group(1), tag.group(2), tag.group(3)
        name = re.search(r'name="([^"]+)"', attrs)
        if not name:
            continue
        if kind == "input":
            input_type = (re.search(r'type="([^"]+)"', attrs) or [None, "text"])[1]
            value = re.search(r'value="([^"]*)"', attrs)
            if input_type == "checkbox" and " checked" not in attrs:
                continue
            fields.append((name.group(1), _unescape(value.group(1) if value else "")))
        elif kind == "select":
            for option in re.finditer(r'<option value="([^"]*)"([^>]*)>', rest.split("</select>")[0]):
                if "selected" in option.group(2):
                    fields.append((name.group(1), _unescape(option.group(1))))
        else:
            fields.append((name.group(1), _unescape(rest.split("</textarea>")[0])))
    return fields


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)
