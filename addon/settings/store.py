"""Settings as stored: defaults for a new workspace, typed reads, and audited saves of only what changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..exceptions import DomainError
from ..extensions import db, utcnow
from ..platform.installations import lock_active
from .models import SettingChange, WorkspaceSetting
from .schema import (
    BY_KEY,
    GROUPS,
    Setting,
    SettingsError,
    copy_value,
    defaults,
    parse_value,
    recurring_plans,
    same_value,
    utilization_band,
)

log = logging.getLogger(__name__)


def ensure_defaults(workspace_id: str) -> int:
    """Add a row for every key the workspace lacks; existing values (a reinstall) are kept. Returns rows added."""
    existing = set(db.session.scalars(sa.select(WorkspaceSetting.key).filter_by(workspace_id=workspace_id)))
    added = 0
    for key, value in defaults().items():
        if key not in existing:
            db.session.add(WorkspaceSetting(workspace_id=workspace_id, key=key, value=value, updated_by=None))
            added += 1
    db.session.flush()
    return added


class Settings(Mapping[str, Any]):
    """A workspace's settings, typed: `s["approvals.tolerance_percent"]` or `s.approvals.tolerance_percent`."""

    def __init__(self, values: dict[str, Any], updated_at: dict[str, Any] | None = None) -> None:
        self._values = values
        self.updated_at = updated_at or {}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, group: str) -> Any:
        if group.startswith("_") or group not in GROUPS:
            raise AttributeError(group)
        prefix = group + "."
        return _Group({k[len(prefix) :]: v for k, v in self._values.items() if k.startswith(prefix)})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def utilization_band(self, percent: float) -> str:
        """'under', 'full' or 'over' for a scheduled share of capacity (in percent points)."""
        return utilization_band(percent, self["scheduling.under_max_percent"], self["scheduling.over_min_percent"])


@dataclass(frozen=True)
class _Group:
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def get_settings(workspace_id: str) -> Settings:
    """The workspace's settings: stored values over defaults (a key never stored reads as its default)."""
    values = defaults()
    updated: dict[str, Any] = {}
    rows = db.session.scalars(sa.select(WorkspaceSetting).filter_by(workspace_id=workspace_id))
    for row in rows:
        setting = BY_KEY.get(row.key)
        if setting is None:
            continue  # a key a later version dropped
        try:
            values[row.key] = _coerce_stored(setting, row.value)
        except SettingsError:
            log.warning("workspace %s: stored %s is unusable; using its default", workspace_id, row.key)
        updated[row.key] = row.updated_at
    return Settings(values, updated)


def _coerce_stored(setting: Setting, value: Any) -> Any:
    """Stored JSON back to the setting's type, re-checked (a hand-edited row must not break a page)."""
    if setting.kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError("not a boolean")
        return value
    if setting.kind == "multi":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError("not a list")
        return list(value)
    if setting.kind == "map":
        return recurring_plans(value)
    return parse_value(setting, value if isinstance(value, str) else str(value))


class ConflictError(Exception):
    """Keys someone else changed since the form was loaded; `keys` maps each to a message."""

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__("settings changed meanwhile")
        self.keys = keys


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    name: str | None = None


def changed_keys(values: Mapping[str, Any], original: Mapping[str, Any] | None, current: Mapping[str, Any]) -> dict:
    """The submitted values that differ from what the form showed (or, without that, from what is stored)."""
    baseline = original if original is not None else current
    return {k: v for k, v in values.items() if k not in baseline or not same_value(baseline[k], v)}


def save(
    workspace_id: str,
    changes: Mapping[str, Any],
    actor: Actor,
    *,
    expected: Mapping[str, Any] | None = None,
) -> list[SettingChange]:
    """Write only `changes`, each with a history row, locking each key's row; the caller commits once.

    With `expected` (what the form showed), a key someone else changed meanwhile raises ConflictError and
    nothing is written, so one admin never silently overwrites another's edit of the same field.
    """
    unknown = [k for k in changes if k not in BY_KEY]
    if unknown:
        raise SettingsError("unknown setting: " + ", ".join(sorted(unknown)))
    # The installation row first (DELETED locks it before purging): a save and an uninstall never
    # interleave, so no setting is written for a workspace that was just removed (M-4).
    _still_installed(workspace_id)
    now = utcnow()
    rows: dict[str, WorkspaceSetting] = {}
    # A stable order of row locks keeps two concurrent saves from deadlocking each other.
    for key in sorted(changes):
        row = _locked_row(workspace_id, key)
        rows[key] = row
    if expected is not None:
        clashes = {
            key: "Someone changed this while you were editing; it now reads "
            f"{_display(rows[key].value)}. Check it and save again."
            for key in changes
            if key in expected and not same_value(_stored_or_default(rows[key]), expected[key])
        }
        if clashes:
            raise ConflictError(clashes)
    history: list[SettingChange] = []
    for key in sorted(changes):
        row = rows[key]
        old = _stored_or_default(row)
        new = changes[key]
        if same_value(old, new):
            continue
        row.value = copy_value(new)
        row.updated_at = now
        row.updated_by = actor.user_id
        change = SettingChange(
            workspace_id=workspace_id,
            key=key,
            old_value=old,
            new_value=copy_value(new),
            changed_by=actor.user_id,
            changed_by_name=actor.name,
            changed_at=now,
        )
        db.session.add(change)
        history.append(change)
    db.session.flush()
    # SQLite takes no row locks: once this transaction writes it holds the database's write lock, so a
    # second look now is final there too.
    _still_installed(workspace_id)
    log.info("workspace %s: %d setting(s) changed", workspace_id, len(history))
    return history


def _still_installed(workspace_id: str) -> None:
    if lock_active(workspace_id) is None:
        raise DomainError("Closeout was removed or paused on this workspace; nothing was saved.", 409)


def _stored_or_default(row: WorkspaceSetting) -> Any:
    return row.value if row.value is not None else BY_KEY[row.key].default


def _locked_row(workspace_id: str, key: str) -> WorkspaceSetting:
    query = sa.select(WorkspaceSetting).filter_by(workspace_id=workspace_id, key=key).with_for_update()
    row = db.session.scalar(query)
    if row is not None:
        return row
    # A workspace installed before this key existed: insert it, tolerating a concurrent insert of the same key.
    try:
        with db.session.begin_nested():
            row = WorkspaceSetting(workspace_id=workspace_id, key=key, value=copy_value(BY_KEY[key].default))
            db.session.add(row)
        return row
    except IntegrityError:
        found = db.session.scalar(query)
        if found is None:
            raise
        return found


def keep_counter(workspace_id: str, key: str, next_value: int) -> None:
    """Move a counter setting (invoicing.next_sequence) forward to `next_value` as Closeout uses it up.

    Not an admin's edit, so no history row: the settings page only shows the true next value.
    """
    row = _locked_row(workspace_id, key)
    current = _stored_or_default(row)
    if not isinstance(current, int) or isinstance(current, bool) or current < next_value:
        row.value = next_value
        row.updated_at = utcnow()
    db.session.flush()


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return f"{len(value)} selected"
    if isinstance(value, dict):
        return f"{len(value)} set"
    return f"“{value}”"


def history(workspace_id: str, limit: int = 50) -> list[SettingChange]:
    """The latest changes, newest first."""
    return list(
        db.session.scalars(
            sa.select(SettingChange)
            .filter_by(workspace_id=workspace_id)
            .order_by(SettingChange.changed_at.desc(), SettingChange.id.desc())
            .limit(limit)
        )
    )
