"""The self-hosted settings page (Workspace settings → Add-ons → Closeout), admins only."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from ..extensions import db
from ..formatting import Preferences, zone_or_utc
from ..htmx import render, toast
from ..manifest import settings_path
from ..platform.clients import clients_for
from ..platform.models import Installation
from ..security import requires_user
from ..tokens import TokenContext
from ..workspace import preferences
from . import schema, store
from .schema import GROUPS, SCHEMA, SettingsError
from .store import Actor, ConflictError

log = logging.getLogger(__name__)

bp = Blueprint("settings", __name__)
PATH = settings_path()
MULTI_OPTIONS = {"approvals.user_groups": "groups", "invoicing.recurring_clients": "clients"}


def _clients() -> Any:
    return clients_for(current_app._get_current_object())  # type: ignore[attr-defined]


def _workspace_client(installation: Installation) -> Any:
    clients = _clients()
    return lambda: clients.for_installation(installation, interactive=True)


def _prefs(auth: TokenContext, installation: Installation) -> Preferences:
    g.preferences = preferences.for_request(auth, installation, _clients())
    return g.preferences


def _options(installation: Installation) -> dict[str, list[tuple[str, str]] | None]:
    factory = _workspace_client(installation)
    return {
        "approvals.user_groups": preferences.workspace_groups(installation.workspace_id, factory),
        "invoicing.recurring_clients": preferences.workspace_clients(installation.workspace_id, factory),
    }


def _context(
    installation: Installation,
    *,
    shown: dict[str, Any],
    original: dict[str, Any],
    errors: dict[str, str] | None = None,
    raw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the page and the form fragment render: values shown, the baseline they were loaded with, errors."""
    options = _options(installation)
    info = preferences.workspace_info(installation.workspace_id, _workspace_client(installation))
    zone = zone_or_utc(info.time_zone)
    return {
        "auth": g.auth,
        "groups": GROUPS,
        "schema": SCHEMA,
        "values": shown,
        "raw": raw or {},
        "original_json": json.dumps(original, sort_keys=True),
        "errors": errors or {},
        "options": options,
        "info": info,
        "history": store.history(installation.workspace_id),
        "labels": {s.key: s.label for s in SCHEMA},
        "preview": _preview(shown["invoicing.number_pattern"], shown["invoicing.next_sequence"], zone),
    }


def _preview(pattern: Any, seq: Any, zone: Any) -> dict[str, str]:
    try:
        number = schema.preview_invoice_number(str(pattern), int(seq), datetime.now(zone).date())
    except (SettingsError, ValueError) as exc:
        return {"error": str(exc)}
    return {"number": number}


@bp.get(PATH)
@requires_user(admin=True)
def page() -> Response:
    """Every per-workspace setting of Closeout, the period Clockify dictates, and the change history."""
    installation: Installation = g.installation
    _prefs(g.auth, installation)
    current = store.get_settings(installation.workspace_id).as_dict()
    return render("settings/page.html", **_context(installation, shown=current, original=current))


@bp.post(PATH)
@requires_user(admin=True)
def update() -> Response:
    """Save the keys the admin changed (atomic, audited); 422 with the form and nothing saved when any is invalid."""
    installation: Installation = g.installation
    prefs = _prefs(g.auth, installation)
    workspace_id = installation.workspace_id
    current = store.get_settings(workspace_id).as_dict()
    original = _original(request.form.get("original"), current)
    allowed = {key: [i for i, _ in pairs] for key, pairs in _options(installation).items() if pairs is not None}
    values, errors = schema.validate(request.form, current=current, options=allowed)
    changes = store.changed_keys(values, original, current)
    if not errors:
        try:
            store.save(workspace_id, changes, Actor(g.auth.user_id, prefs.user_name), expected=original)
        except ConflictError as exc:
            errors = exc.keys
    if errors:
        db.session.rollback()
        shown = {**current, **{k: v for k, v in values.items() if k not in errors}}
        raw = {key: request.form.getlist(key) for key in errors}
        # A clash is shown once: the admin has now seen the other value, so saving again is deliberate.
        baseline = {**(original if original is not None else current)}
        baseline.update({key: current[key] for key in errors if key in current})
        context = _context(installation, shown=shown, original=baseline, errors=errors, raw=raw)
        return render("settings/page.html", "settings/_form.html", status=422, **context)
    db.session.commit()
    saved = store.get_settings(workspace_id).as_dict()
    context = _context(installation, shown=saved, original=saved)
    response = render("settings/page.html", "settings/_saved.html", **context)
    message = f"Saved {len(changes)} setting{'s' if len(changes) != 1 else ''}." if changes else "Nothing changed."
    return toast(response, message)


def _original(text: str | None, current: dict[str, Any]) -> dict[str, Any] | None:
    """The values the form was loaded with (a hidden field); None when absent or unusable: compare to stored."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {k: v for k, v in data.items() if k in current}


@bp.get(PATH + "/preview")
@requires_user(admin=True)
def preview() -> Response:
    """The next invoice number a pattern gives, as the admin types it."""
    installation: Installation = g.installation
    info = preferences.workspace_info(installation.workspace_id, _workspace_client(installation))
    pattern = request.args.get("invoicing.number_pattern", "")
    seq = request.args.get("invoicing.next_sequence", "1")
    try:
        seq_value = schema.parse_value(schema.BY_KEY["invoicing.next_sequence"], seq)
    except SettingsError:
        seq_value = 1
    return render(
        "settings/_preview.html",
        preview=_preview(pattern, seq_value, zone_or_utc(info.time_zone)),
    )


@bp.app_template_filter("setting_value")
def setting_value(value: Any) -> str:
    """A stored setting value as the history shows it."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return f"{len(value)} selected" if value else "none"
    if isinstance(value, dict):
        return f"{len(value)} set" if value else "none"
    return str(value)
