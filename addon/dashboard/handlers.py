"""What the dashboard does on webhooks and at reconciliation: mark its snapshots stale, refresh them."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..platform.events import EventContext
from ..platform.models import Installation
from ..settings.store import get_settings
from ..workspace import preferences
from .figures import DEBOUNCE_SECONDS, mark_stale, refresh

log = logging.getLogger(__name__)

REFRESH_TASK = "refresh_dashboard"


def on_relevant_event(ctx: EventContext) -> None:
    """A figure may have moved: flag the snapshots and, for the first event of a burst, queue one refresh."""
    if mark_stale(ctx.workspace_id):
        delay = float(ctx.config.get("DASHBOARD_DEBOUNCE_SECONDS", DEBOUNCE_SECONDS))
        ctx.defer(REFRESH_TASK, ctx.workspace_id, delay=delay)


def reconcile_dashboard(installation: Installation, client: Any) -> None:
    """Periodic backstop: recompute both periods for every active workspace."""
    info = preferences.workspace_info(installation.workspace_id, preferences.shared(client))
    refresh(installation, client, info, get_settings(installation.workspace_id))


def refresh_dashboard(workspace_id: str, client_for: Any) -> None:
    """The debounced refresh a webhook queued (in the worker, inside an app context, committed after).

    `client_for(installation)` builds the installation's Clockify client.
    """
    installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=workspace_id))
    if installation is None or not installation.is_active:
        return
    client = client_for(installation)
    info = preferences.workspace_info(workspace_id, preferences.shared(client))
    settings = get_settings(workspace_id)
    db.session.rollback()  # no read transaction held open across the Clockify calls
    refresh(installation, client, info, settings)
