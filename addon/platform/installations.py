"""Installations: the lifecycle of Closeout on a workspace and the tokens it holds."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from ..crypto import DecryptionError, decrypt, digest, encrypt, same_secret
from ..exceptions import AuthError, PayloadError
from ..extensions import db
from ..tokens import TokenContext
from .models import Installation, LifecycleEvent, WebhookSubscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstalledPayload:
    workspace_id: str
    addon_id: str
    auth_token: str
    api_url: str
    as_user: str | None
    addon_user_id: str | None
    webhooks: list[dict[str, Any]]


def record_lifecycle(workspace_id: str, event_type: str, body: dict[str, Any]) -> None:
    """Keep the raw lifecycle body (encrypted: INSTALLED carries tokens) before acting on it."""
    db.session.add(
        LifecycleEvent(
            workspace_id=workspace_id,
            event_type=event_type,
            payload_ciphertext=encrypt(json.dumps(body, sort_keys=True)),
        )
    )


def parse_installed(body: dict[str, Any]) -> InstalledPayload:
    """Validate an INSTALLED body (docs/clockify.md#lifecycle); unknown fields are ignored."""
    missing = [k for k in ("workspaceId", "addonId", "authToken", "apiUrl") if not _nonempty_str(body.get(k))]
    if missing:
        raise PayloadError("missing or empty: " + ", ".join(missing))
    api_url = body["apiUrl"].rstrip("/")
    if urlsplit(api_url).scheme not in ("http", "https"):
        raise PayloadError("apiUrl must be an http(s) URL")
    webhooks = body.get("webhooks") or []
    if not isinstance(webhooks, list) or not all(isinstance(w, dict) for w in webhooks):
        raise PayloadError("webhooks must be a list of objects")
    # A reinstall replaces the stored webhook tokens: refuse the whole body rather than keep a partial set.
    for hook in webhooks:
        if not _nonempty_str(hook.get("authToken")) or not _nonempty_str(hook.get("path") or hook.get("url")):
            raise PayloadError("every webhooks entry needs a path and an authToken")
    return InstalledPayload(
        workspace_id=body["workspaceId"],
        addon_id=body["addonId"],
        auth_token=body["authToken"],
        api_url=api_url,
        as_user=body.get("asUser") if _nonempty_str(body.get("asUser")) else None,
        addon_user_id=body.get("addonUserId") if _nonempty_str(body.get("addonUserId")) else None,
        webhooks=webhooks,
    )


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def install(
    payload: InstalledPayload,
    *,
    token_claims: dict[str, Any],
    manifest_webhooks: dict[str, str],
) -> Installation:
    """Create or refresh the workspace's installation; a reinstall replaces tokens and keeps settings."""
    installation = db.session.scalar(
        db.select(Installation).filter_by(workspace_id=payload.workspace_id).with_for_update()
    )
    if installation is None:
        installation = Installation(workspace_id=payload.workspace_id)
        db.session.add(installation)
    installation.addon_id = payload.addon_id
    installation.api_url = payload.api_url
    installation.reports_url = _claim_url(token_claims, "reportsUrl")
    installation.token_ciphertext = encrypt(payload.auth_token)
    installation.as_user = payload.as_user
    installation.addon_user_id = payload.addon_user_id
    installation.is_active = True
    installation.installed_at = datetime.now(UTC)

    db.session.execute(
        sa.delete(WebhookSubscription).where(
            WebhookSubscription.workspace_id == payload.workspace_id,
            WebhookSubscription.source == "manifest",
        )
    )
    for event_type, path, token in _match_webhooks(payload.webhooks, manifest_webhooks):
        subscription = WebhookSubscription(
            workspace_id=payload.workspace_id, event_type=event_type, source="manifest", path=path
        )
        subscription.set_token(token)
        db.session.add(subscription)
    db.session.flush()
    return installation


def _claim_url(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value.rstrip("/") if isinstance(value, str) and value else None


def _match_webhooks(webhooks: list[dict[str, Any]], manifest_webhooks: dict[str, str]) -> list[tuple[str, str, str]]:
    """Pair each INSTALLED webhook with its manifest event.

    The INSTALLED sample gives `path` as a full URL, the webhooks page as the manifest path
    (docs/clockify.md#lifecycle), so match on the URL's path either way; an explicit event field,
    when Clockify sends one, wins.
    """
    by_path = {path: event for event, path in manifest_webhooks.items()}
    matched: dict[str, tuple[str, str, str]] = {}
    for hook in webhooks:
        token = hook.get("authToken")
        if not isinstance(token, str) or not token.strip():
            continue
        event = hook.get("webhookEvent") or hook.get("event")
        path = urlsplit(str(hook.get("path") or hook.get("url") or "")).path.rstrip("/")
        if not (isinstance(event, str) and event in manifest_webhooks):
            event = by_path.get(path) or next((ev for p, ev in by_path.items() if path.endswith(p)), None)
        if event:
            matched[event] = (event, manifest_webhooks[event], token)
    return list(matched.values())


def set_status(installation: Installation, status: str) -> None:
    """STATUS_CHANGED: ACTIVE resumes, INACTIVE pauses every component, webhook and job."""
    if status not in ("ACTIVE", "INACTIVE"):
        raise PayloadError("status must be ACTIVE or INACTIVE")
    installation.is_active = status == "ACTIVE"
    installation.status_changed_at = datetime.now(UTC)


def store_clockify_settings(installation: Installation, settings: Any) -> None:
    """SETTINGS_UPDATED: Closeout's settings are self-hosted, but keep what Clockify sends."""
    if settings is not None and not isinstance(settings, list | dict):
        raise PayloadError("settings must be a list or an object")
    installation.clockify_settings = settings
    installation.settings_updated_at = datetime.now(UTC)


def uninstall(workspace_id: str) -> int:
    """DELETED: remove every row of every table that holds this workspace's data."""
    removed = 0
    for table in reversed(workspace_tables()):
        result = db.session.execute(sa.delete(table).where(table.c.workspace_id == workspace_id))
        removed += getattr(result, "rowcount", 0) or 0
    return removed


def active_installations() -> list[Installation]:
    return list(db.session.scalars(db.select(Installation).filter_by(is_active=True)))


def find(workspace_id: str | None) -> Installation | None:
    """The stored installation of a workspace, if any."""
    if not workspace_id:
        return None
    return db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))


def token_digest(token: str) -> str:
    """The keyed digest a stored webhook token is looked up by."""
    return digest(token)


def refuse_stored_tokens(token: str, workspace_id: str, installation: Installation | None) -> None:
    """A lifecycle token is never one Closeout already holds for another purpose.

    Every Clockify token shares iss/sub/type, and webhook tokens (which never expire) can be read by the
    workspace's admins through the Webhooks API: without this, one would pass as a lifecycle token.
    """
    reused = db.session.scalar(
        sa.select(WebhookSubscription.id)
        .where(WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.token_digest == digest(token))
        .limit(1)
    )
    if reused is not None:
        raise AuthError("a webhook token is not accepted as a lifecycle token")
    if installation is not None:
        try:
            if same_secret(decrypt(installation.token_ciphertext), token):
                raise AuthError("the installation token is not accepted as a lifecycle token")
        except DecryptionError:
            log.error("installation token for workspace %s cannot be decrypted", workspace_id)


@dataclass(frozen=True)
class WebhookTarget:
    """The installation a verified delivery belongs to, as much of it as intake needs."""

    workspace_id: str
    is_active: bool


def webhook_target(ctx: TokenContext, event_type: str, token_digest: str) -> WebhookTarget:
    """The installation whose stored subscription for `event_type` has this token, or a 401."""
    row = db.session.execute(
        sa.select(Installation.is_active, Installation.addon_id)
        .join(WebhookSubscription, WebhookSubscription.workspace_id == Installation.workspace_id)
        .where(
            Installation.workspace_id == ctx.workspace_id,
            WebhookSubscription.event_type == event_type,
            WebhookSubscription.token_digest == token_digest,
        )
        .limit(1)
    ).first()
    if row is None:
        raise AuthError("token does not match a stored webhook of an installed workspace")
    if ctx.addon_id and ctx.addon_id != row.addon_id:
        raise AuthError("token belongs to another installation")
    return WebhookTarget(workspace_id=str(ctx.workspace_id), is_active=bool(row.is_active))


def workspace_tables() -> list[sa.Table]:
    """Every table that holds workspace data (has a workspace_id column): what DELETED must empty."""
    return [t for t in db.metadata.sorted_tables if "workspace_id" in t.c]
