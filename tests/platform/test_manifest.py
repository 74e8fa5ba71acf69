"""The manifest is the contract: it validates against Clockify's schema and every path is routed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from addon.manifest import declared_routes

# Clockify's official manifest schema 1.4, vendored under tests/data.
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "manifest-schema-1.4.json"


def schema_1_4() -> dict:
    return json.loads(SCHEMA.read_text())


def test_served_manifest_validates_against_the_official_1_4_schema(client):
    doc = client.get("/manifest").get_json()
    jsonschema.Draft4Validator(schema_1_4(), format_checker=jsonschema.FormatChecker()).validate(doc)
    assert doc["schemaVersion"] == "1.4"


def test_manifest_takes_base_url_and_key_from_configuration(app_config):
    from addon import create_app

    app = create_app({**app_config, "ADDON_BASE_URL": "https://closeout.example.com/", "ADDON_KEY": "closeout-eu"})
    doc = app.test_client().get("/manifest").get_json()
    assert doc["baseUrl"] == "https://closeout.example.com"
    assert doc["key"] == "closeout-eu"


def test_manifest_declares_least_privilege_and_every_capability(client):
    doc = client.get("/manifest").get_json()
    assert doc["minimalSubscriptionPlan"] == "STANDARD"
    assert {c["type"] for c in doc["components"]} == {"sidebar", "approvals.tab", "schedule.tab", "invoices.action"}
    assert {item["type"] for item in doc["lifecycle"]} == {"INSTALLED", "DELETED", "STATUS_CHANGED", "SETTINGS_UPDATED"}
    assert isinstance(doc["settings"], str)
    assert len(doc["webhooks"]) <= 10
    assert not [s for s in doc["scopes"] if s.endswith("_WRITE")] or set(doc["scopes"]) >= {"APPROVAL_WRITE"}
    # Nothing Closeout never writes.
    assert not {"USER_WRITE", "GROUP_WRITE", "CLIENT_WRITE", "PROJECT_WRITE", "WORKSPACE_WRITE"} & set(doc["scopes"])


@pytest.mark.parametrize(("method", "path"), declared_routes())
def test_every_declared_path_is_routed_with_its_method(app, method, path):
    adapter = app.url_map.bind("addon.test")
    endpoint, _ = adapter.match(path, method=method)
    assert endpoint


def test_icon_is_served(client):
    doc = client.get("/manifest").get_json()
    response = client.get(doc["iconPath"])
    assert response.status_code == 200
    assert b"<svg" in response.data
