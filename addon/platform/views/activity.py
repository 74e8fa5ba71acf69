"""The Activity section of the settings page: recent webhook events and dead letters, with Retry (admins only)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g

from ...extensions import db
from ...htmx import render, toast
from ...manifest import settings_path
from ...queue import relay_inbox_event
from ...security import requires_user
from .. import inbox

log = logging.getLogger(__name__)

bp = Blueprint("activity", __name__)
PATH = settings_path() + "/activity"


def _section(status: int = 200) -> Response:
    workspace_id = g.auth.workspace_id
    return render(
        "platform/page.html",
        "platform/_section.html",
        status=status,
        auth=g.auth,
        counts=inbox.counts(workspace_id),
        dead=inbox.dead_letters(workspace_id),
        recent=inbox.recent(workspace_id),
    )


@bp.get(PATH)
@requires_user(admin=True)
def section() -> Response:
    """The section as the settings page loads it (a fragment to htmx, a page to a direct load)."""
    return _section()


@bp.post(PATH + "/<int:inbox_id>/retry")
@requires_user(admin=True)
def retry(inbox_id: int) -> Response:
    """Send one dead-lettered event back to the worker, then re-render the section."""
    queued = inbox.retry_dead(g.auth.workspace_id, inbox_id)
    db.session.commit()
    if not queued:
        return toast(_section(), "That event is no longer in the dead letters.", kind="info")
    log.info("dead letter %s of workspace %s retried by an admin", inbox_id, g.auth.workspace_id)
    relay_inbox_event(current_app._get_current_object(), inbox_id)  # type: ignore[attr-defined]
    return toast(_section(), "Event queued again.")
