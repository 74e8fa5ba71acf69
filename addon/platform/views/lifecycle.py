"""Lifecycle hooks Clockify POSTs: INSTALLED, STATUS_CHANGED, SETTINGS_UPDATED, DELETED."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ...clockify.errors import ClockifyError, UnauthorizedError
from ...exceptions import AuthError, DomainError, PayloadError
from ...extensions import db, forget_workspace
from ...hosts import UntrustedHostError
from ...manifest import lifecycle_paths, webhook_paths
from ...queue import RESUME_WORKSPACE, enqueue
from ...security import api_hosts, consume_lifecycle_token, verifier, verify_lifecycle
from ...settings.store import ensure_defaults
from ...tokens import WEBHOOK_CLAIMS, check_claim_types
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
    ctx, body, existing = verify_lifecycle(installing=True, consume=False)
    payload = installations.parse_installed(body, api_hosts())
    if ctx.addon_id and ctx.addon_id != payload.addon_id:
        raise AuthError("lifecycle token was issued for another installation")
    if installations.is_removed(payload.addon_id):
        raise AuthError("that installation was removed; its tokens are no longer accepted")
    token_claims = _installation_token_claims(payload, lifecycle_token=ctx.token)
    if existing is not None and installations.moves_installation(existing, payload):
        _confirm_move(existing, payload)
    consume_lifecycle_token(ctx)
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

    It names the owner it acts as (`user`) and no role or webhook (user and webhook tokens), is neither
    the lifecycle token nor one of the webhook tokens in the same body, and its API hosts are allow-listed:
    any of those would otherwise be stored as the installation token.
    """
    try:
        claims = verifier().verify(payload.auth_token)
        check_claim_types(claims)
    except AuthError as exc:
        raise PayloadError("authToken is not a valid installation token") from exc
    webhook_tokens = {hook.get("authToken") for hook in payload.webhooks}
    foreign = any(name in claims for name in ("workspaceRole", *WEBHOOK_CLAIMS)) or not claims.get("user")
    if foreign or payload.auth_token == lifecycle_token or payload.auth_token in webhook_tokens:
        raise PayloadError("authToken is not an installation token")
    if claims.get("workspaceId") != payload.workspace_id:
        raise PayloadError("authToken was issued for another workspace")
    if claims.get("addonId") not in (None, payload.addon_id):
        raise PayloadError("authToken was issued for another installation")
    try:
        installations.token_urls(claims, api_hosts())
    except UntrustedHostError as exc:
        raise PayloadError(exc.message) from exc
    return claims


def _confirm_move(existing: Installation, payload: installations.InstalledPayload) -> None:
    """A reinstall that moves the workspace to another addonId or API host needs Clockify to confirm it.

    Confirmed when Clockify no longer accepts the stored installation's token (it was removed without
    DELETED reaching Closeout) and accepts the new one on the new host. Anything else is refused: a
    signed token Closeout does not hold must not repoint an installation that is still live.
    """
    clients = clients_for(current_app._get_current_object())  # type: ignore[attr-defined]
    db.session.rollback()  # no transaction held across the Clockify calls
    old = clients.for_installation(existing, interactive=True)
    old.timeout, old.max_retries = (2.0, 3.0), 0
    try:
        old.get_workspace()
        old_gone = False
    except UnauthorizedError:
        old_gone = True
    except ClockifyError:
        old_gone = False
    finally:
        old.close()
    if not old_gone:
        log.warning("refused a reinstall moving workspace %s while its installation is live", existing.workspace_id)
        raise DomainError(
            "Closeout is already installed on this workspace; remove that installation before installing again.",
            409,
        )
    new = clients.probe(payload.workspace_id, payload.api_url, payload.auth_token)
    try:
        new.get_workspace()
    except ClockifyError as exc:
        raise DomainError("Clockify did not accept the new installation's token.", 409) from exc
    finally:
        new.close()


@bp.post(PATHS["STATUS_CHANGED"])
def status_changed() -> Response | tuple[Response, int]:
    """Pause or resume all work for the workspace."""
    _, body, installation = verify_lifecycle()
    if installation is None:
        return jsonify({"error": "Not found", "message": "workspace is not installed"}), 404
    installations.set_status(installation, body.get("status"))
    installations.record_lifecycle(installation.workspace_id, "STATUS_CHANGED", body)
    db.session.commit()
    log.info("workspace %s status %s", installation.workspace_id, body.get("status"))
    if installation.is_active:
        # The jobs the pause held go on, and what was not delivered meanwhile is read (in the worker).
        enqueue(current_app._get_current_object(), RESUME_WORKSPACE, installation.workspace_id)  # type: ignore[attr-defined]
    return _ok(active=installation.is_active)


@bp.post(PATHS["SETTINGS_UPDATED"])
def settings_updated() -> Response | tuple[Response, int]:
    """Accept Clockify's settings notice; Closeout's own settings live on its settings page."""
    _, body, installation = verify_lifecycle()
    if installation is None:
        return jsonify({"error": "Not found", "message": "workspace is not installed"}), 404
    installations.store_clockify_settings(installation, body.get("settings"))
    installations.record_lifecycle(installation.workspace_id, "SETTINGS_UPDATED", body)
    db.session.commit()
    return _ok()


@bp.post(PATHS["DELETED"])
def deleted() -> Response:
    """Forget the workspace: every row holding its data, in every table; its tokens are refused from now on."""
    ctx, body, installation = verify_lifecycle(deleting=True)
    workspace_id = body["workspaceId"]
    if installation is not None:
        _remove_registered_webhooks(installation)
    removed = installations.uninstall(workspace_id, installation.addon_id if installation else ctx.addon_id)
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
