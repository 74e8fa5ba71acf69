"""Lifecycle hooks Clockify POSTs: INSTALLED, STATUS_CHANGED, SETTINGS_UPDATED, DELETED."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ...exceptions import AuthError, PayloadError
from ...extensions import db, forget_workspace
from ...manifest import lifecycle_paths, webhook_paths
from ...queue import enqueue
from ...security import verifier, verify_lifecycle
from ...settings.store import ensure_defaults
from .. import installations, webhook_registration
from ..clients import clients_for
from ..models import Installation

log = logging.getLogger(__name__)

bp = Blueprint("lifecycle", __name__)
PATHS = lifecycle_paths()


def _ok(**extra: object) -> Response:
    return jsonify({"status": "ok", **extra})


@bp.post(PATHS["INSTALLED"])
def installed() -> Response:
    """Store the installation (tokens encrypted), replacing an earlier one of the same workspace."""
    ctx, body, _ = verify_lifecycle(installing=True)
    payload = installations.parse_installed(body)
    if ctx.addon_id and ctx.addon_id != payload.addon_id:
        raise AuthError("lifecycle token was issued for another installation")
    token_claims = _installation_token_claims(payload, lifecycle_token=ctx.token)
    installations.record_lifecycle(payload.workspace_id, "INSTALLED", body)
    installation = installations.install(payload, token_claims=token_claims, manifest_webhooks=webhook_paths())
    # Defaults for keys the workspace lacks; a reinstall keeps the values it already has.
    ensure_defaults(installation.workspace_id)
    db.session.commit()
    log.info("installed on workspace %s", installation.workspace_id)
    _forget_cached(installation.workspace_id)  # a reinstall reads Clockify afresh
    # Schema 1.4 cannot declare ASSIGNMENT_* webhooks: register them in the worker, never in this request
    # (reconciliation is the backstop when the queue is down).
    enqueue(current_app._get_current_object(), "register_webhooks", installation.workspace_id)  # type: ignore[attr-defined]
    return _ok(workspaceId=installation.workspace_id)


def _installation_token_claims(payload: installations.InstalledPayload, lifecycle_token: str) -> dict[str, Any]:
    """Verify INSTALLED's authToken is a genuine installation token of this workspace and installation.

    It must not be a user token (those carry workspaceRole), nor the lifecycle token or one of the
    webhook tokens in the same body: any of those would otherwise be stored as the installation token.
    """
    try:
        claims = verifier().verify(payload.auth_token)
    except AuthError as exc:
        raise PayloadError("authToken is not a valid installation token") from exc
    webhook_tokens = {hook.get("authToken") for hook in payload.webhooks}
    if "workspaceRole" in claims or payload.auth_token == lifecycle_token or payload.auth_token in webhook_tokens:
        raise PayloadError("authToken is not an installation token")
    if claims.get("workspaceId") != payload.workspace_id:
        raise PayloadError("authToken was issued for another workspace")
    if claims.get("addonId") not in (None, payload.addon_id):
        raise PayloadError("authToken was issued for another installation")
    return claims


@bp.post(PATHS["STATUS_CHANGED"])
def status_changed() -> Response | tuple[Response, int]:
    """Pause or resume all work for the workspace."""
    _, body, installation = verify_lifecycle()
    if installation is None:
        return jsonify({"error": "Not found", "message": "workspace is not installed"}), 404
    installations.record_lifecycle(installation.workspace_id, "STATUS_CHANGED", body)
    installations.set_status(installation, str(body.get("status", "")))
    db.session.commit()
    log.info("workspace %s status %s", installation.workspace_id, body.get("status"))
    return _ok(active=installation.is_active)


@bp.post(PATHS["SETTINGS_UPDATED"])
def settings_updated() -> Response | tuple[Response, int]:
    """Accept Clockify's settings notice; Closeout's own settings live on its settings page."""
    _, body, installation = verify_lifecycle()
    if installation is None:
        return jsonify({"error": "Not found", "message": "workspace is not installed"}), 404
    installations.record_lifecycle(installation.workspace_id, "SETTINGS_UPDATED", body)
    installations.store_clockify_settings(installation, body.get("settings"))
    db.session.commit()
    return _ok()


@bp.post(PATHS["DELETED"])
def deleted() -> Response:
    """Forget the workspace: every row holding its data, in every table."""
    _, body, installation = verify_lifecycle()
    workspace_id = body["workspaceId"]
    if installation is not None:
        _remove_registered_webhooks(installation)
    removed = installations.uninstall(workspace_id)
    db.session.commit()
    _forget_cached(workspace_id)
    log.info("uninstalled from workspace %s (%d rows removed)", workspace_id, removed)
    return _ok(removed=removed)


def _forget_cached(workspace_id: str) -> None:
    """Drop what this process keeps of the workspace: Clockify sessions and every per-process cache
    (users and groups, scheduled totals, verified webhook and installation tokens, dashboard retries)."""
    clients_for(current_app._get_current_object()).forget(workspace_id)  # type: ignore[attr-defined]
    forget_workspace(workspace_id)


def _remove_registered_webhooks(installation: Installation) -> None:
    """Drop the webhooks Closeout registered through the API while Clockify may still accept the token.

    Best effort with short timeouts: the uninstall is acknowledged whatever Clockify answers.
    """
    try:
        webhook_ids = webhook_registration.registered_ids(installation.workspace_id)
        if not webhook_ids:
            return
        client = clients_for(current_app._get_current_object()).for_installation(installation)  # type: ignore[attr-defined]
        client.timeout = (2.0, 3.0)
        client.max_retries = 0
        try:
            removed = webhook_registration.remove(client, webhook_ids)
        finally:
            client.close()
        log.info("removed %d of %d registered webhooks of %s", removed, len(webhook_ids), installation.workspace_id)
    except Exception as exc:
        log.warning("could not remove registered webhooks of %s: %s", installation.workspace_id, type(exc).__name__)
