"""The settings service: defaults at install, typed reads, the numbering preview, audited saves."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from addon.extensions import db
from addon.settings import schema, store
from addon.settings.models import SettingChange, WorkspaceSetting
from tests.conftest import WORKSPACE_ID


def test_install_writes_every_default(app, install):
    install()
    with app.app_context():
        settings = store.get_settings(WORKSPACE_ID)
        assert settings.as_dict() == schema.defaults()
        assert settings.invoicing.number_pattern == "INV-{YYYY}-{SEQ:4}"
        assert settings.scheduling.under_max_percent == 92
        count = db.session.scalar(sa.select(sa.func.count()).select_from(WorkspaceSetting))
        assert count == len(schema.SCHEMA)


def test_a_reinstall_keeps_the_values_an_admin_saved(app, install):
    install()
    with app.app_context():
        store.save(WORKSPACE_ID, {"invoicing.due_days": 14}, store.Actor("u1", "Ann"))
        db.session.commit()
    install()
    with app.app_context():
        assert store.get_settings(WORKSPACE_ID)["invoicing.due_days"] == 14


@pytest.mark.parametrize(
    ("pattern", "seq", "expected"),
    [
        ("INV-{YYYY}-{SEQ:4}", 7, "INV-2026-0007"),
        ("{YY}{MM}{DD}/{SEQ}", 42, "260305/42"),
        ("#{SEQ:2}", 12345, "#12345"),
    ],
)
def test_preview_fills_every_placeholder(pattern, seq, expected):
    assert schema.preview_invoice_number(pattern, seq, date(2026, 3, 5)) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "Enter a numbering pattern"),
        ("INV-{YYYY}", "Include {SEQ}"),
        ("{SEQ}-{SEQ}", "exactly once"),
        ("INV-{CLIENT}-{SEQ}", "Unknown placeholder {CLIENT}"),
        ("INV-{SEQ:0}", "width from 1 to 12"),
        ("INV<{SEQ}>", "Use letters, digits"),
        ("INV-{SEQ", "matching }"),
        ("X" * 41 + "{SEQ}", "40 characters"),
    ],
)
def test_an_unusable_pattern_is_explained(pattern, message):
    with pytest.raises(schema.SettingsError, match=message.replace("{", r"\{").replace("}", r"\}")):
        schema.check_pattern(pattern)


def test_validate_reads_only_the_keys_sent():
    values, errors = schema.validate(MultiDict([("invoicing.due_days", "14"), ("approvals.dry_run", "0")]))
    assert errors == {}
    assert values == {"invoicing.due_days": 14, "approvals.dry_run": False}


def test_a_ticked_checkbox_wins_over_its_hidden_marker():
    values, _ = schema.validate(MultiDict([("approvals.auto_enabled", "0"), ("approvals.auto_enabled", "1")]))
    assert values["approvals.auto_enabled"] is True


def test_bands_must_leave_a_full_band_between_them():
    _, errors = schema.validate(MultiDict([("scheduling.over_min_percent", "93")]), current={})
    assert "full band" in errors["scheduling.over_min_percent"]


def test_multi_select_accepts_only_known_ids():
    form = MultiDict([("approvals.user_groups", ""), ("approvals.user_groups", "g1"), ("approvals.user_groups", "zz")])
    _, errors = schema.validate(form, options={"approvals.user_groups": ["g1", "g2"]})
    assert "unknown" in errors["approvals.user_groups"]
    values, errors = schema.validate(MultiDict([("approvals.user_groups", "")]), options={"approvals.user_groups": []})
    assert values == {"approvals.user_groups": []} and errors == {}


def test_save_writes_history_only_for_values_that_change(app, install):
    install()
    with app.app_context():
        written = store.save(
            WORKSPACE_ID, {"invoicing.due_days": 30, "invoicing.tax_percent": 8.5}, store.Actor("u1", "Ann")
        )
        db.session.commit()
        assert [c.key for c in written] == ["invoicing.tax_percent"]
        change = db.session.scalar(sa.select(SettingChange))
        assert (change.old_value, change.new_value, change.changed_by_name) == (0, 8.5, "Ann")
        assert store.get_settings(WORKSPACE_ID)["invoicing.tax_percent"] == 8.5


def test_save_refuses_a_value_someone_else_changed_meanwhile(app, install):
    install()
    with app.app_context():
        store.save(WORKSPACE_ID, {"invoicing.due_days": 10}, store.Actor("u2"))
        db.session.commit()
        with pytest.raises(store.ConflictError) as caught:
            store.save(WORKSPACE_ID, {"invoicing.due_days": 45}, store.Actor("u1"), expected={"invoicing.due_days": 30})
        db.session.rollback()
        assert "invoicing.due_days" in caught.value.keys
        assert store.get_settings(WORKSPACE_ID)["invoicing.due_days"] == 10


def test_a_stored_value_that_no_longer_validates_reads_as_its_default(app, install):
    install()
    with app.app_context():
        row = db.session.scalar(sa.select(WorkspaceSetting).filter_by(key="scheduling.heatmap_view"))
        row.value = "monthly"
        db.session.commit()
        assert store.get_settings(WORKSPACE_ID).scheduling.heatmap_view == "weekly"


def test_utilization_bands_use_the_documented_defaults():
    assert [schema.utilization_band(p) for p in (92, 92.5, 106.9, 107)] == ["under", "full", "full", "over"]


def test_deleted_removes_settings_history_cached_preferences_and_snapshots(app, client, install, make_token):
    from datetime import date as day

    from addon.dashboard.models import DashboardSnapshot
    from addon.workspace.models import PreferenceCache
    from tests.conftest import ADDON_ID, OTHER_WORKSPACE_ID

    install()
    install(workspace_id=OTHER_WORKSPACE_ID)
    with app.app_context():
        store.save(WORKSPACE_ID, {"invoicing.due_days": 14}, store.Actor("u1"))
        for workspace_id in (WORKSPACE_ID, OTHER_WORKSPACE_ID):
            db.session.add(PreferenceCache(workspace_id=workspace_id, scope="workspace", value={}))
            db.session.add(
                DashboardSnapshot(
                    workspace_id=workspace_id,
                    period_start=day(2026, 11, 16),
                    period_end=day(2026, 11, 22),
                    period_kind="WEEKLY",
                    figures={},
                )
            )
        db.session.commit()
    body = {"workspaceId": WORKSPACE_ID, "addonId": ADDON_ID}
    answer = client.post("/lifecycle/deleted", json=body, headers={"X-Addon-Lifecycle-Token": make_token("lifecycle")})
    assert answer.status_code == 200
    with app.app_context():
        for model in (WorkspaceSetting, SettingChange, PreferenceCache, DashboardSnapshot):
            left = set(db.session.scalars(sa.select(model.workspace_id)))
            assert WORKSPACE_ID not in left, model.__name__
        for model in (WorkspaceSetting, PreferenceCache, DashboardSnapshot):
            assert OTHER_WORKSPACE_ID in set(db.session.scalars(sa.select(model.workspace_id))), model.__name__
