"""manifest.json: loaded once, served with the configured baseUrl, and the list of paths it declares."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifest.json"

# Events schema 1.4 cannot declare; Closeout registers them through the Webhooks API at INSTALLED.
API_WEBHOOK_EVENTS = (
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_UPDATED",
    "ASSIGNMENT_DELETED",
    "ASSIGNMENT_PUBLISHED",
)


@cache
def _load() -> dict[str, Any]:
    return json.loads(MANIFEST_PATH.read_text())


def manifest_for(base_url: str, key: str) -> dict[str, Any]:
    """The manifest as served: baseUrl and key from configuration."""
    doc = copy.deepcopy(_load())
    doc["baseUrl"] = base_url
    doc["key"] = key
    return doc


def webhook_paths() -> dict[str, str]:
    """Event type → path for every webhook the manifest declares."""
    return {hook["event"]: hook["path"] for hook in _load().get("webhooks", [])}


def api_webhook_path(event_type: str) -> str:
    """Path of a webhook Closeout registers itself (same kebab-case scheme as the manifest's)."""
    return "/webhooks/" + event_type.lower().replace("_", "-")


def lifecycle_paths() -> dict[str, str]:
    return {item["type"]: item["path"] for item in _load().get("lifecycle", [])}


def component_paths() -> dict[str, str]:
    return {item["type"]: item["path"] for item in _load().get("components", [])}


def declared_routes() -> list[tuple[str, str]]:
    """(method, path) for every path the manifest declares: what Clockify will call."""
    doc = _load()
    routes = [("GET", doc["iconPath"])]
    routes += [("GET", c["path"]) for c in doc.get("components", [])]
    routes += [("GET", c["iconPath"]) for c in doc.get("components", []) if c.get("iconPath")]
    if isinstance(doc.get("settings"), str):
        routes.append(("GET", doc["settings"]))
    routes += [("POST", item["path"]) for item in doc.get("lifecycle", [])]
    routes += [("POST", hook["path"]) for hook in doc.get("webhooks", [])]
    return routes


def settings_path() -> str:
    settings = _load().get("settings")
    if not isinstance(settings, str):
        raise RuntimeError("manifest settings must be a self-hosted path")
    return settings
