"""The add-on settings API: /api/addon/workspaces/{ws}/settings (docs/clockify.md#settings)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .common import (
    actor,
    bad,
    workspace,
    world,
)

bp = Blueprint("addon_settings", __name__)


def _settings_index(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for tab in settings.get("tabs", []):
        for setting in tab.get("settings", []) or []:
            index[setting["id"]] = setting
        for group in tab.get("groups", []) or []:
            for setting in group.get("settings", []) or []:
                index[setting["id"]] = setting
    return index


@bp.get("/addon/workspaces/<ws>/settings")
def addon_settings(ws: str) -> Response:
    with world().lock:
        return jsonify(workspace(ws).addon_settings)


@bp.patch("/addon/workspaces/<ws>/settings")
def update_addon_settings(ws: str) -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, list) or not data:
        raise bad("Request body must be a non-empty array of {id, value}")
    actor().require_admin()
    with world().lock:
        space = workspace(ws)
        index = _settings_index(space.addon_settings)
        for item in data:
            if not isinstance(item, dict) or "id" not in item or "value" not in item:
                raise bad("Each setting needs 'id' and 'value'")
            if item["id"] not in index:
                raise bad(f"Unknown setting '{item['id']}'")
        for item in data:
            index[item["id"]]["value"] = item["value"]
        return jsonify(space.addon_settings)
