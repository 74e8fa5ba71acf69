"""The settings page over HTTP: who may open it, validation with messages, atomic audited saves, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from addon.extensions import db
from addon.settings import store
from addon.settings.models import SettingChange
from tests.conftest import OTHER_WORKSPACE_ID, OWNER_ID, WORKSPACE_ID
from tests.settings.conftest import form_of


def htmx(token: str) -> dict[str, str]:
    return {"X-Addon-Token": token, "HX-Request": "true"}


def load_form(client, token: str) -> list[tuple[str, str]]:
    page = client.get("/settings", query_string={"auth_token": token})
    assert page.status_code == 200, page.get_data(as_text=True)
    return form_of(page.get_data(as_text=True))


def with_value(fields: list[tuple[str, str]], key: str, value: str) -> list[tuple[str, str]]:
    """The form as submitted after the admin set `key` to `value`."""
    kept = [(k, v) for k, v in fields if k != key]
    return [*kept, (key, value)]


def stored(app, workspace_id: str = WORKSPACE_ID) -> dict:
    with app.app_context():
        return store.get_settings(workspace_id).as_dict()


def history_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SettingChange))


def test_an_owner_sees_every_group_the_period_and_a_preview(client, settings_ready, make_token):
    settings_ready()
    page = client.get("/settings", query_string={"auth_token": make_token("user")})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for group in ('data-group="approvals"', 'data-group="invoicing"', 'data-group="scheduling"'):
        assert group in html
    assert 'data-fact="approval-period">Semi-monthly<' in html
    assert 'data-fact="week-start">Sunday<' in html
    assert 'data-fact="time-zone">Europe/Berlin<' in html
    assert f"INV-{datetime.now(UTC).year}-0001" in html
    assert '<option value="grp-eng"' in html and "Engineering" in html
    assert 'hx-get="/settings/activity"' in html and 'hx-trigger="load"' in html


@pytest.mark.parametrize("role", ["USER", "TEAM_MANAGER", "PROJECT_MANAGER"])
def test_a_non_admin_gets_403_and_never_sees_the_form(client, settings_ready, make_token, role):
    settings_ready()
    page = client.get(
        "/settings", query_string={"auth_token": make_token("user", workspaceRole=role, user="user-member")}
    )
    assert page.status_code == 403
    assert "settings-form" not in page.get_data(as_text=True)


def test_a_crafted_post_by_a_member_is_refused_and_changes_nothing(app, client, settings_ready, make_token):
    settings_ready()
    member = make_token("user", workspaceRole="USER", user="user-member")
    answer = client.post("/settings", data={"invoicing.due_days": "3"}, headers=htmx(member))
    assert answer.status_code == 403
    assert stored(app)["invoicing.due_days"] == 30
    assert history_count(app) == 0


def test_a_token_of_another_workspace_cannot_reach_this_ones_settings(
    app, client, settings_ready, make_token, key_pair
):
    settings_ready()
    stranger = make_token("user", workspaceId=OTHER_WORKSPACE_ID)
    assert client.get("/settings", query_string={"auth_token": stranger}).status_code == 403
    assert client.post("/settings", data={"invoicing.due_days": "3"}, headers=htmx(stranger)).status_code == 403
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = make_token("user", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert client.post("/settings", data={"invoicing.due_days": "3"}, headers=htmx(forged)).status_code == 401
    assert stored(app)["invoicing.due_days"] == 30


def test_an_admin_of_another_installed_workspace_saves_only_into_their_own(app, client, settings_ready, make_token):
    settings_ready()
    settings_ready(OTHER_WORKSPACE_ID)
    theirs = make_token("user", workspaceId=OTHER_WORKSPACE_ID)
    fields = with_value(load_form(client, theirs), "invoicing.due_days", "5")
    # Even naming this workspace in the body changes nothing here: the workspace comes from the token.
    answer = client.post("/settings", data=MultiDict([*fields, ("workspaceId", WORKSPACE_ID)]), headers=htmx(theirs))
    assert answer.status_code == 200
    assert stored(app, OTHER_WORKSPACE_ID)["invoicing.due_days"] == 5
    assert stored(app)["invoicing.due_days"] == 30


INVALID = [
    ("approvals.tolerance_percent", "-1", "Enter 0 or more."),
    ("approvals.tolerance_percent", "101", "Enter 100 or less."),
    ("approvals.tolerance_percent", "ten", "Enter a number."),
    ("approvals.tolerance_percent", "1.234", "Use at most two decimals."),
    ("approvals.max_hours_per_day", "25", "Enter 24 or less."),
    ("approvals.max_hours_per_day", "0", "Enter 0.25 or more."),
    ("approvals.max_hours_per_day", "", "Enter a number."),
    ("approvals.user_groups", "grp-unknown", "Choose only from the list"),
    ("invoicing.number_pattern", "INV-{YYYY}", "Include {SEQ} (or {SEQ:n}) exactly once"),
    ("invoicing.number_pattern", "INV-{CLIENT}-{SEQ}", "Unknown placeholder {CLIENT}"),
    ("invoicing.number_pattern", "INV<{SEQ}>", "Use letters, digits"),
    ("invoicing.next_sequence", "0", "Enter 1 or more."),
    ("invoicing.next_sequence", "1.5", "Enter a whole number."),
    ("invoicing.due_days", "366", "Enter 365 or less."),
    ("invoicing.due_days", "soon", "Enter a whole number."),
    ("invoicing.currency", "EURO", "three-letter ISO 4217"),
    ("invoicing.currency", "E1", "three-letter ISO 4217"),
    ("invoicing.tax_percent", "100.5", "Enter 100 or less."),
    ("invoicing.tax2_percent", "-3", "Enter 0 or more."),
    ("invoicing.discount_percent", "NaN", "Enter a number."),
    ("invoicing.subject_template", "Invoice {nmber}", "Unknown placeholder {nmber}"),
    ("invoicing.subject_template", "x" * 201, "200 characters or fewer"),
    ("invoicing.note_template", "Due {due_date", "matching }"),
    ("invoicing.recurring_clients", "cli-unknown", "Choose only from the list"),
    ("scheduling.under_max_percent", "0", "Enter 1 or more."),
    ("scheduling.under_max_percent", "106", "Leave a full band"),
    ("scheduling.over_min_percent", "93", "Leave a full band"),
    ("scheduling.heatmap_view", "monthly", "Choose one of: Daily, Weekly."),
    ("approvals.dry_run", "maybe", "Choose on or off."),
]


@pytest.mark.parametrize(("key", "value", "message"), INVALID, ids=[f"{k}={v[:12]}" for k, v, _ in INVALID])
def test_each_invalid_value_gets_its_message_422_and_nothing_is_saved(
    app, client, settings_ready, make_token, key, value, message
):
    settings_ready()
    owner = make_token("user")
    before = stored(app)
    fields = with_value(load_form(client, owner), key, value)
    # A valid change in the same submission must not be saved either: a save is all or nothing.
    if key != "invoicing.due_days":
        fields = with_value(fields, "invoicing.due_days", "45")
    answer = client.post("/settings", data=MultiDict(fields), headers=htmx(owner))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="settings-form"' in html and "<html" not in html
    assert "Nothing was saved" in html
    import html as html_lib

    field_html = html.split(f'data-field="{key}"', 1)[1].split('data-field="', 1)[0]
    assert message in html_lib.unescape(field_html)
    assert stored(app) == before
    assert history_count(app) == 0


def test_a_valid_save_writes_only_changed_keys_and_shows_them_in_the_history(app, client, settings_ready, make_token):
    settings_ready()
    owner = make_token("user")
    fields = with_value(load_form(client, owner), "invoicing.number_pattern", "AC/{YY}/{SEQ:3}")
    fields = with_value(fields, "approvals.tolerance_percent", "7.5")
    answer = client.post("/settings", data=MultiDict(fields), headers=htmx(owner))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html
    assert "Saved 2 settings" in answer.headers["HX-Trigger"]
    assert 'id="settings-history"' in html and 'hx-swap-oob="true"' in html
    assert "AC/{YY}/{SEQ:3}" in html and f"Name of {OWNER_ID}" in html
    after = stored(app)
    assert after["invoicing.number_pattern"] == "AC/{YY}/{SEQ:3}"
    assert after["approvals.tolerance_percent"] == 7.5
    with app.app_context():
        keys = sorted(db.session.scalars(sa.select(SettingChange.key)))
    assert keys == ["approvals.tolerance_percent", "invoicing.number_pattern"]


def test_unticking_a_box_and_clearing_a_selection_are_saved(app, client, settings_ready, make_token):
    settings_ready()
    owner = make_token("user")
    fields = load_form(client, owner)
    fields = [*fields, ("approvals.user_groups", "grp-eng")]
    assert client.post("/settings", data=MultiDict(fields), headers=htmx(owner)).status_code == 200
    assert stored(app)["approvals.user_groups"] == ["grp-eng"]
    fields = [(k, v) for k, v in load_form(client, owner) if not (k == "approvals.require_project" and v == "1")]
    fields = [(k, v) for k, v in fields if not (k == "approvals.user_groups" and v)]
    assert client.post("/settings", data=MultiDict(fields), headers=htmx(owner)).status_code == 200
    after = stored(app)
    assert after["approvals.require_project"] is False
    assert after["approvals.user_groups"] == []


def test_the_preview_follows_the_pattern_as_typed(client, settings_ready, make_token):
    settings_ready()
    owner = make_token("user")
    year = datetime.now(UTC).year
    answer = client.get(
        "/settings/preview",
        query_string={"invoicing.number_pattern": "Q-{YYYY}-{SEQ:5}", "invoicing.next_sequence": "42"},
        headers=htmx(owner),
    )
    assert answer.status_code == 200
    assert f">Q-{year}-00042<" in answer.get_data(as_text=True)
    bad = client.get("/settings/preview", query_string={"invoicing.number_pattern": "Q-{YYYY}"}, headers=htmx(owner))
    assert "Include {SEQ}" in bad.get_data(as_text=True)


def test_two_admins_saving_different_fields_at_once_lose_neither(app, settings_ready, make_token):
    settings_ready()
    first, second = app.test_client(), app.test_client()
    ann = make_token("user", user=OWNER_ID)
    bob = make_token("user", user="user-admin-2", workspaceRole="ADMIN")
    # Both load the same form, then each changes a different field.
    ann_fields = with_value(load_form(first, ann), "invoicing.due_days", "14")
    bob_fields = with_value(load_form(second, bob), "scheduling.heatmap_view", "daily")
    start = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def submit(name, client, token, fields):
        start.wait()
        statuses[name] = client.post("/settings", data=MultiDict(fields), headers=htmx(token)).status_code

    threads = [
        threading.Thread(target=submit, args=("ann", first, ann, ann_fields)),
        threading.Thread(target=submit, args=("bob", second, bob, bob_fields)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == {"ann": 200, "bob": 200}
    after = stored(app)
    assert after["invoicing.due_days"] == 14
    assert after["scheduling.heatmap_view"] == "daily"
    with app.app_context():
        changes = {c.key: c.changed_by for c in db.session.scalars(sa.select(SettingChange))}
    assert changes == {"invoicing.due_days": OWNER_ID, "scheduling.heatmap_view": "user-admin-2"}


def test_a_field_changed_by_someone_else_meanwhile_is_not_overwritten(app, client, settings_ready, make_token):
    settings_ready()
    ann, bob = make_token("user"), make_token("user", user="user-admin-2", workspaceRole="ADMIN")
    ann_fields = with_value(load_form(client, ann), "invoicing.due_days", "14")
    bob_fields = with_value(load_form(client, bob), "invoicing.due_days", "60")
    assert client.post("/settings", data=MultiDict(bob_fields), headers=htmx(bob)).status_code == 200
    answer = client.post("/settings", data=MultiDict(ann_fields), headers=htmx(ann))
    assert answer.status_code == 422
    assert "Someone changed this while you were editing" in answer.get_data(as_text=True)
    assert stored(app)["invoicing.due_days"] == 60


def test_hostile_fields_get_a_clear_answer_and_unknown_ones_are_ignored(app, client, settings_ready, make_token):
    settings_ready()
    owner = make_token("user")
    fields = with_value(load_form(client, owner), "invoicing.number_pattern", "{SEQ}" + "A" * 100_000)
    answer = client.post("/settings", data=MultiDict(fields), headers=htmx(owner))
    assert answer.status_code == 422
    assert "40 characters or fewer" in answer.get_data(as_text=True)
    assert "A" * 1000 not in answer.get_data(as_text=True).split("co-field-error", 1)[1]

    # A mangled baseline falls back to comparing with what is stored; a key Closeout does not know is ignored.
    fields = with_value(load_form(client, owner), "original", "{not json")
    fields = with_value(fields, "invoicing.due_days", "21")
    fields.append(("installation.api_url", "http://evil.invalid"))
    answer = client.post("/settings", data=MultiDict(fields), headers=htmx(owner))
    assert answer.status_code == 200
    with app.app_context():
        assert [c.key for c in db.session.scalars(sa.select(SettingChange))] == ["invoicing.due_days"]
    assert stored(app)["invoicing.due_days"] == 21
