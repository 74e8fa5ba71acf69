"""ASSIGNMENT_* webhooks Closeout registers through the Webhooks API (manifest schema 1.4 cannot declare them)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..clockify.errors import ClockifyError, NotFoundError
from ..extensions import db
from ..manifest import API_WEBHOOK_EVENTS, api_webhook_path
from .models import Installation, WebhookSubscription

log = logging.getLogger(__name__)

SOURCE = "api"


def webhook_url(base_url: str, event_type: str) -> str:
    """Where Clockify must deliver an event Closeout registered itself."""
    return base_url.rstrip("/") + api_webhook_path(event_type)


def webhook_name(event_type: str) -> str:
    # The API takes names of 2 to 30 characters (clockify-api-v1.txt "Create webhooks").
    return ("Closeout " + event_type.replace("_", " ").title())[:30]


def stored(workspace_id: str) -> dict[str, WebhookSubscription]:
    """Event type → the API-registered subscription Closeout holds for the workspace."""
    rows = db.session.scalars(sa.select(WebhookSubscription).filter_by(workspace_id=workspace_id, source=SOURCE))
    return {row.event_type: row for row in rows}


@dataclass(frozen=True)
class Registration:
    event_type: str
    webhook_id: str
    token: str
    adopted: bool  # found already registered at Clockify (e.g. a lost answer) rather than created now


def ensure_registered(
    installation: Installation, client: Any, base_url: str, events: Iterable[str] = API_WEBHOOK_EVENTS
) -> list[Registration]:
    """Register every ASSIGNMENT_* webhook that Closeout lacks or Clockify no longer has; return what changed.

    Clockify calls first, database writes last (flushed, not committed): no write transaction is held
    across a call. A webhook already at Clockify for our URL and event, with its token, is adopted
    instead of creating a second one.
    """
    workspace_id = installation.workspace_id
    have = {event: (row.clockify_webhook_id, row.path) for event, row in stored(workspace_id).items()}
    remote = _remote_webhooks(installation, client, known_ids={wid for wid, _ in have.values() if wid})
    by_id = {hook.id: hook for hook in remote}

    changes: list[Registration] = []
    for event in events:
        url = webhook_url(base_url, event)
        webhook_id, path = have.get(event, (None, None))
        current = by_id.get(webhook_id or "")
        if current is not None and current.enabled and (current.url in (None, url)) and path == url:
            continue
        existing = next(
            (h for h in remote if h.event == event and h.url == url and h.enabled and h.auth_token),
            None,
        )
        if existing is not None:
            changes.append(Registration(event, existing.id, existing.auth_token or "", adopted=True))
            continue
        created = client.create_webhook(url=url, event=event, name=webhook_name(event))
        if not created.id or not created.auth_token:
            raise ClockifyError(f"Clockify registered {event} without an id or token", method="POST", path="/webhooks")
        changes.append(Registration(event, created.id, created.auth_token, adopted=False))
        log.info("registered %s webhook for workspace %s", event, workspace_id)

    if changes:
        _store(workspace_id, base_url, changes)
    return changes


def _remote_webhooks(installation: Installation, client: Any, known_ids: set[str]) -> list[Any]:
    hooks = list(client.list_addon_webhooks(installation.addon_id))
    # Webhooks created with the installation token may be listed with the workspace's rather than the
    # add-on's (the reference does not say which); look there before declaring one of ours missing.
    if known_ids - {h.id for h in hooks}:
        seen = {h.id for h in hooks}
        hooks += [h for h in client.list_webhooks() if h.id not in seen]
    return hooks


def _store(workspace_id: str, base_url: str, changes: list[Registration]) -> None:
    rows = stored(workspace_id)
    for change in changes:
        row = rows.get(change.event_type)
        if row is None:
            row = WebhookSubscription(workspace_id=workspace_id, event_type=change.event_type, source=SOURCE)
            db.session.add(row)
        row.path = webhook_url(base_url, change.event_type)
        row.clockify_webhook_id = change.webhook_id
        row.set_token(change.token)
    db.session.flush()


def registered_ids(workspace_id: str) -> list[str]:
    """Clockify ids of the webhooks Closeout registered for the workspace (read before DELETED forgets them)."""
    return [row.clockify_webhook_id for row in stored(workspace_id).values() if row.clockify_webhook_id]


def remove(client: Any, webhook_ids: Iterable[str]) -> int:
    """Delete the webhooks at Clockify, best effort: return how many went; failures are logged, never raised.

    DELETED invalidates the installation's tokens (docs/clockify.md#lifecycle), so this runs before the
    uninstall is acknowledged and gives up quietly once Clockify refuses.
    """
    removed = 0
    for webhook_id in webhook_ids:
        try:
            client.delete_webhook(webhook_id)
            removed += 1
        except NotFoundError:
            removed += 1
        except ClockifyError as exc:
            log.info("could not remove webhook %s at uninstall: %s", webhook_id, type(exc).__name__)
            if getattr(exc, "status", None) in (401, 403):
                break  # the token is no longer accepted: the rest will fail the same way
    return removed
