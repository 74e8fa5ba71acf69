"""Fixtures for approvals tests: Closeout installed on the sandbox's demo workspace, read as a viewer would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from addon.approvals import mirror
from addon.extensions import db
from addon.platform.clients import clients_for
from addon.platform.models import Installation
from addon.settings.models import WorkspaceSetting
from addon.workspace.directory import forget_directory
from addon.workspace.periods import Period, last_closed_period


@pytest.fixture
def demo(app: Flask, installed: Any) -> Iterator[dict[str, Any]]:
    """App context with the demo workspace's installation, its client and the last closed week."""
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=installed.workspace_id))
        assert installation is not None
        forget_directory(installation.workspace_id)
        client = clients_for(app).for_installation(installation)
        yield {
            "installation": installation,
            "client": client,
            "workspace_id": installation.workspace_id,
            "week": last_closed_period(date.today(), "WEEKLY", "MONDAY"),
        }
        db.session.rollback()
        forget_directory(installation.workspace_id)


@pytest.fixture
def synced(demo: dict[str, Any]) -> dict[str, Any]:
    """The demo workspace's requests of the last closed week read into the mirror."""
    fetched = mirror.fetch_requests(demo["client"], demo["week"].start)
    mirror.store_requests(demo["workspace_id"], fetched)
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
