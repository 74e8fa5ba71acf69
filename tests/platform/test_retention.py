"""Retention (docs/privacy.md): the sweep deletes audit entries past AUDIT_RETENTION_DAYS, 0 keeps them all,
and DELETED still removes every row of a workspace in every table, whatever a table holds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from addon.config import ConfigError, build_config
from addon.extensions import db, utcnow
from addon.jobs import jobs_for
from addon.platform import audit
from addon.platform.installations import workspace_tables
from addon.platform.models import AuditEntry
from tests.conftest import ADDON_ID, OTHER_WORKSPACE_ID, WORKSPACE_ID


def _audit_rows(app, ages_in_days: list[float], workspace_id: str = WORKSPACE_ID) -> None:
    with app.app_context():
        for n, age in enumerate(ages_in_days):
            entry = audit.record(workspace_id, audit.Actor("u1", "Ana"), "approval.approve", "request", f"r{n}")
            entry.created_at = utcnow() - timedelta(days=age)
        db.session.commit()


def _ages(app) -> list[int]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry.created_at).order_by(AuditEntry.id)).all()
        return [(utcnow() - created).days for created in rows]


def test_the_sweep_deletes_audit_entries_past_the_retention_and_keeps_recent_ones(app, install):
    install()
    app.config["AUDIT_RETENTION_DAYS"] = 400.0
    _audit_rows(app, [401, 800, 399, 10, 0])
    _audit_rows(app, [500, 5], workspace_id=OTHER_WORKSPACE_ID)
    jobs_for(app).sweep.call_local()
    assert sorted(_ages(app)) == [0, 5, 10, 399]


def test_a_retention_of_zero_keeps_every_audit_entry(app, install):
    install()
    app.config["AUDIT_RETENTION_DAYS"] = 0.0
    _audit_rows(app, [5000, 401, 1])
    jobs_for(app).sweep.call_local()
    assert sorted(_ages(app)) == [1, 401, 5000]


def test_audit_pruning_goes_in_bounded_batches_oldest_first(app):
    _audit_rows(app, [900, 800, 700, 1])
    with app.app_context():
        assert audit.prune(400, limit=2) == 2
        db.session.commit()
    assert _ages(app) == [700, 1]
    with app.app_context():
        assert audit.prune(400, limit=2) == 1
        assert audit.prune(400, limit=2) == 0


@pytest.mark.parametrize(("value", "days"), [(None, 0.0), ("", 0.0), ("0", 0.0), ("30", 30.0), (400, 400.0)])
def test_audit_retention_setting_is_read_as_days(tmp_path, value, days):
    config = build_config(str(tmp_path), {"TESTING": True, "AUDIT_RETENTION_DAYS": value})
    assert config["AUDIT_RETENTION_DAYS"] == days


def test_audit_retention_defaults_to_400_days(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_RETENTION_DAYS", raising=False)
    assert build_config(str(tmp_path), {"TESTING": True})["AUDIT_RETENTION_DAYS"] == 400.0


@pytest.mark.parametrize("value", ["-1", "a year", "nan"])
def test_an_unusable_audit_retention_stops_start_up(tmp_path, value):
    with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS"):
        build_config(str(tmp_path), {"TESTING": True, "AUDIT_RETENTION_DAYS": value})


# --- DELETED removes all of it -------------------------------------------------------------------------


def _filler(column: sa.Column[Any], workspace_id: str) -> Any:
    """A value a non-null column without a default accepts (text names the workspace: some is unique)."""
    if isinstance(column.type, sa.JSON):
        return {}
    kind = getattr(column.type, "impl", column.type).python_type  # through type decorators (UTCDateTime)
    if kind is str:
        length = getattr(column.type, "length", None) or 20
        return workspace_id[:length]
    if kind is bool:
        return False
    if kind is int:
        return 1
    if kind is float:
        return 0.0
    if kind is datetime:
        return utcnow()
    if kind is date:
        return date.today()
    raise AssertionError(f"no filler for {column}")


def _fill_every_workspace_table(workspace_id: str) -> None:
    """One row in every table with a workspace_id (parents before children), beside any already there."""
    inserted: dict[str, int] = {}
    for table in workspace_tables():
        existing = db.session.execute(
            sa.select(table.c.id).where(table.c.workspace_id == workspace_id).limit(1)
        ).scalar_one_or_none()
        if existing is not None:
            inserted[table.name] = int(existing)
            continue
        row: dict[str, Any] = {"workspace_id": workspace_id}
        for column in table.c:
            if column.primary_key or column.name in row:
                continue
            if column.foreign_keys:
                row[column.name] = inserted[next(iter(column.foreign_keys)).column.table.name]
            elif not column.nullable and column.default is None and column.server_default is None:
                row[column.name] = _filler(column, workspace_id)
        inserted[table.name] = int(db.session.execute(sa.insert(table).values(row)).inserted_primary_key[0])
    db.session.commit()


def _counts(workspace_id: str) -> dict[str, int]:
    return {
        table.name: int(
            db.session.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.workspace_id == workspace_id))
            or 0
        )
        for table in workspace_tables()
    }


def test_deleted_removes_a_row_of_every_workspace_table_and_leaves_other_workspaces(app, client, install, make_token):
    """Every table in addon/models.py with a workspace_id holds a row of both workspaces; DELETED of one
    leaves none of its rows anywhere (tests/platform/test_lifecycle.py checks the rows an install writes)."""
    install(WORKSPACE_ID)
    install(OTHER_WORKSPACE_ID, addon_id="addon-inst-b")
    with app.app_context():
        _fill_every_workspace_table(WORKSPACE_ID)
        _fill_every_workspace_table(OTHER_WORKSPACE_ID)
        before = _counts(WORKSPACE_ID)
        assert len(before) >= 20 and all(before.values()), before
    body = {"addonId": ADDON_ID, "workspaceId": WORKSPACE_ID, "asUser": "u"}
    token = make_token("lifecycle")
    assert client.post("/lifecycle/deleted", json=body, headers={"X-Addon-Lifecycle-Token": token}).status_code == 200
    with app.app_context():
        assert _counts(WORKSPACE_ID) == dict.fromkeys(before, 0)
        assert all(_counts(OTHER_WORKSPACE_ID).values())
