"""Installations: the lifecycle of Closeout on a workspace and the tokens it holds."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import has_request_context

from ..clockify import DEFAULT_RATE, ClockifyClient, Limiter, limiter_for
from ..crypto import decrypt, encrypt
from ..extensions import db
from ..models import Installation, LifecycleEvent, WebhookSubscription, workspace_tables

if TYPE_CHECKING:
    from ..security import TokenContext

log = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A lifecycle body that is missing what the event needs."""


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
    """Validate an INSTALLED body (platform.md §2, corrected sample); unknown fields are ignored."""
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
    (platform.md §2 field notes), so match on the URL's path either way; an explicit event field,
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


def installation_token(installation: Installation) -> str:
    """The decrypted installation token, for the Clockify client only."""
    return decrypt(installation.token_ciphertext)


def client_for(installation: Installation, config: Mapping[str, Any]) -> ClockifyClient:
    """A Clockify client acting as the add-on (installation token), paced on the workspace's shared bucket."""
    return ClockifyClient(
        installation.api_url,
        installation.reports_url,
        installation_token(installation),
        installation.workspace_id,
        limiter=_limiter(config),
        **_retry_policy(),
    )


def user_client(ctx: TokenContext, installation: Installation, config: Mapping[str, Any]) -> ClockifyClient:
    """A Clockify client acting as the viewing user (their token, their permissions), hosts from the claims."""
    if not ctx.token or ctx.workspace_id != installation.workspace_id:
        raise ValueError("the user token does not belong to this installation")
    return ClockifyClient(
        (ctx.backend_url or installation.api_url).rstrip("/"),
        (ctx.reports_url or installation.reports_url or "").rstrip("/") or None,
        ctx.token,
        installation.workspace_id,
        limiter=_limiter(config),
        **_retry_policy(),
    )


# A person is waiting for the page: retry once, briefly, then let the page say Clockify is unavailable
# (the patient defaults kept a page loading for 12 s against an unreachable Clockify). Background work,
# served by no request, keeps the client's defaults.
INTERACTIVE_RETRIES: dict[str, Any] = {"max_retries": 1, "backoff_cap": 1.0, "max_retry_after": 5.0}


def _retry_policy() -> dict[str, Any]:
    return INTERACTIVE_RETRIES if has_request_context() else {}


def _limiter(config: Mapping[str, Any]) -> Limiter:
    # One limiter per process (and one Redis bucket per workspace across processes when REDIS_URL is set).
    return limiter_for(float(config.get("CLOCKIFY_RATE_LIMIT") or DEFAULT_RATE), config.get("REDIS_URL") or None)


def active_installations() -> list[Installation]:
    return list(db.session.scalars(db.select(Installation).filter_by(is_active=True)))
