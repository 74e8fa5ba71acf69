"""Fixtures for approvals tests: Closeout installed on the sandbox's demo workspace, read as a viewer would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from addon.extensions import db
from addon.models import Installation, WorkspaceSetting
from addon.services import approvals
from addon.services.installations import client_for
from addon.services.periods import Period, last_closed_period


@pytest.fixture
def demo(app: Flask, installed: Any) -> Iterator[dict[str, Any]]:
    """App context with the demo workspace's installation, its client and the last closed week."""
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        assert installation is not None
        approvals.forget_directory(installation.workspace_id)
        client = client_for(installation, app.config)
        yield {
            "installation": installation,
            "client": client,
            "workspace_id": installation.workspace_id,
            "week": last_closed_period(date.today(), "WEEKLY", "MONDAY"),
        }
        db.session.rollback()
        approvals.forget_directory(installation.workspace_id)


@pytest.fixture
def synced(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo workspace's requests of the last closed week read into the mirror."""
    fetched = approvals.fetch_requests(demo["client"], demo["week"].start)
    approvals.store_requests(demo["workspace_id"], fetched)
    db.session.commit()
    return demo


@pytest.fixture
def set_settings() -> Callable[..., None]:
    """set_settings(workspace_id, **{"approvals.dry_run": False, …}): store settings rows."""

    def store(workspace_id: str, **values: Any) -> None:
        for key, value in values.items():
            row = db.session.scalar(db.select(WorkspaceSetting).filter_by(workspace_id=workspace_id, key=key))
            if row is None:
                db.session.add(WorkspaceSetting(workspace_id=workspace_id, key=key, value=value))
            else:
                row.value = value
        db.session.commit()

    return store


def sandbox_request(sandbox: Any, workspace_id: str, request_id: str) -> dict[str, Any]:
    with sandbox.world.lock:
        return dict(sandbox.world.workspaces[workspace_id].approvals[request_id])


def week_of(period: Period) -> tuple[date, date]:
    return period.start, period.start + timedelta(days=6)
