"""What the sandbox sends Closeout as Clockify does: install, pause, resume, settings, uninstall.

The payloads are those of docs/clockify.md#lifecycle.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import requests

from .delivery import HTTP_TIMEOUT, elapsed_ms
from .sandbox import Sandbox
from .state import AddonInstallation
from .wire import now_iso

log = logging.getLogger(__name__)


class PlatformError(RuntimeError):
    """A lifecycle step that could not happen; `status` is what the control API answers."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def new_id() -> str:
    """A 24-hex id, shaped like Clockify's (Mongo ObjectId) ids."""
    return secrets.token_hex(12)


def fetch_manifest(addon_url: str) -> dict[str, Any]:
    """Closeout's manifest, as Clockify reads it from `{baseUrl}/manifest`."""
    try:
        response = requests.get(addon_url.rstrip("/") + "/manifest", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        manifest = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise PlatformError(f"cannot read the add-on manifest at {addon_url}/manifest: {exc}", 502) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("baseUrl"), str):
        raise PlatformError("the add-on manifest has no baseUrl", 502)
    return manifest


def owner_of(sandbox: Sandbox, workspace_id: str) -> str:
    return sandbox.user_id_for_role(workspace_id, "OWNER")


def install(sandbox: Sandbox, workspace_id: str) -> AddonInstallation:
    """Install Closeout: a new addonId, installation and webhook tokens, then INSTALLED (docs/clockify.md#lifecycle)."""
    world = sandbox.world
    manifest = fetch_manifest(sandbox.addon_url)
    base_url = manifest["baseUrl"].rstrip("/")
    with world.lock:
        if workspace_id in world.installations:
            raise PlatformError("Closeout is already installed on this workspace; uninstall it first")
        if world.workspaces and workspace_id not in world.workspaces:
            raise PlatformError(f"no workspace {workspace_id}", 404)
        owner_id = owner_of(sandbox, workspace_id)
        addon_id = new_id()
        webhooks = []
        for hook in manifest.get("webhooks") or []:
            webhook_id = new_id()
            webhooks.append(
                {
                    "id": webhook_id,
                    "event": hook["event"],
                    "url": base_url + hook["path"],
                    "token": sandbox.signer.webhook_token(workspace_id, addon_id, webhook_id),
                    "source": "manifest",
                }
            )
        installation = AddonInstallation(
            workspace_id=workspace_id,
            addon_id=addon_id,
            addon_url=base_url,
            installation_token=sandbox.signer.installation_token(workspace_id, addon_id, owner_id, sandbox.urls),
            scopes=set(manifest.get("scopes") or []),
            webhooks=webhooks,
        )
        # In place before INSTALLED goes out: Closeout may call the API (register webhooks) while handling it.
        world.installations[workspace_id] = installation
        sandbox.manifests[workspace_id] = manifest
    body = {
        "addonId": addon_id,
        "authToken": installation.installation_token,
        "workspaceId": workspace_id,
        "asUser": owner_id,
        "apiUrl": sandbox.backend_url,
        "addonUserId": new_id(),
        "webhooks": [{"path": h["url"], "webhookType": "ADDON", "authToken": h["token"]} for h in webhooks],
    }
    try:
        _lifecycle_call(sandbox, installation, "INSTALLED", body)
    except PlatformError:
        with world.lock:
            if world.installations.get(workspace_id) is installation:
                del world.installations[workspace_id]
            sandbox.manifests.pop(workspace_id, None)
        raise
    log.info("installed Closeout on %s as %s", workspace_id, addon_id)
    return installation


def set_active(sandbox: Sandbox, workspace_id: str, active: bool) -> AddonInstallation:
    """Pause (INACTIVE) or resume (ACTIVE): STATUS_CHANGED."""
    installation = _installed(sandbox, workspace_id)
    status = "ACTIVE" if active else "INACTIVE"
    previous = installation.is_active
    installation.is_active = active
    body = {"addonId": installation.addon_id, "workspaceId": workspace_id, "status": status}
    try:
        _lifecycle_call(sandbox, installation, "STATUS_CHANGED", body)
    except PlatformError:
        installation.is_active = previous
        raise
    return installation


def update_settings(sandbox: Sandbox, workspace_id: str, settings: list[dict[str, Any]]) -> AddonInstallation:
    """SETTINGS_UPDATED with the flat `[{id, name, value}]` list of docs/clockify.md#lifecycle."""
    installation = _installed(sandbox, workspace_id)
    body = {"workspaceId": workspace_id, "addonId": installation.addon_id, "settings": settings}
    _lifecycle_call(sandbox, installation, "SETTINGS_UPDATED", body)
    return installation


def uninstall(sandbox: Sandbox, workspace_id: str) -> None:
    """DELETED, then the installation and every token of it are gone."""
    installation = _installed(sandbox, workspace_id)
    body = {"addonId": installation.addon_id, "workspaceId": workspace_id, "asUser": owner_of(sandbox, workspace_id)}
    try:
        _lifecycle_call(sandbox, installation, "DELETED", body)
    finally:
        # Clockify forgets the installation whatever the add-on answers.
        with sandbox.world.lock:
            if sandbox.world.installations.get(workspace_id) is installation:
                del sandbox.world.installations[workspace_id]
            sandbox.manifests.pop(workspace_id, None)
    log.info("uninstalled Closeout from %s", workspace_id)


def _installed(sandbox: Sandbox, workspace_id: str) -> AddonInstallation:
    installation = sandbox.world.installations.get(workspace_id)
    if installation is None:
        raise PlatformError("Closeout is not installed on this workspace", 404)
    return installation


def _lifecycle_call(sandbox: Sandbox, installation: AddonInstallation, event: str, body: dict[str, Any]) -> None:
    manifest = sandbox.manifests.get(installation.workspace_id) or {}
    paths = {item.get("type"): item.get("path") for item in manifest.get("lifecycle") or []}
    path = paths.get(event)
    if not path:
        return  # only declared lifecycle events are sent (docs/clockify.md#lifecycle)
    url = installation.addon_url + path
    token = sandbox.signer.lifecycle_token(installation.workspace_id, installation.addon_id)
    started = time.monotonic()
    record: dict[str, Any] = {"event": event, "url": url, "time": now_iso(), "workspaceId": installation.workspace_id}
    try:
        response = requests.post(url, json=body, headers={"X-Addon-Lifecycle-Token": token}, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        record.update(status=None, error=type(exc).__name__, duration_ms=elapsed_ms(started))
        sandbox.lifecycle_log.append(record)
        raise PlatformError(f"{event} could not reach the add-on: {type(exc).__name__}", 502) from exc
    record.update(status=response.status_code, duration_ms=elapsed_ms(started))
    sandbox.lifecycle_log.append(record)
    if not response.ok:
        raise PlatformError(f"the add-on answered {event} with {response.status_code}: {response.text[:300]}", 502)
