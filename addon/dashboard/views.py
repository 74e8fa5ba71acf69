"""The `sidebar` component: the period-close dashboard (admins: every figure; others: their own hours)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g

from ..clockify import ClockifyError
from ..extensions import BoundedCache, db, once_per_app, utcnow
from ..htmx import host_base, render, toast
from ..manifest import component_paths
from ..platform.clients import clients_for
from ..platform.models import Installation
from ..security import requires_user
from ..settings.store import get_settings
from ..tokens import TokenContext
from ..workspace import preferences
from . import figures as dashboard

log = logging.getLogger(__name__)

bp = Blueprint("sidebar", __name__)
PATH = component_paths()["sidebar"]
BILLING_TAB = "/invoices?action=invoices.action"


def _clients() -> Any:
    return clients_for(current_app._get_current_object())  # type: ignore[attr-defined]


# A stale board polls the page every few seconds; while Clockify fails, retrying on each poll would only
# add load. After a failed refresh, page loads of this process wait a minute before trying again.
_RETRY_AFTER_FAILURE_SECONDS = 60.0


def _failures() -> BoundedCache[str, bool]:
    """Workspaces whose last refresh failed within the minute (bounded; dropped at DELETED)."""
    return once_per_app(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        "closeout_dashboard_failures",
        lambda _app: BoundedCache(10_000, _RETRY_AFTER_FAILURE_SECONDS, workspace_of=lambda key, _value: key),
    )


def _may_attempt(workspace_id: str) -> bool:
    return _failures().get(workspace_id) is None


def _note_outcome(workspace_id: str, problem: str | None) -> None:
    if problem:
        _failures().put(workspace_id, True)
    else:
        _failures().pop(workspace_id)


def _refresh(installation: Installation, info: preferences.WorkspaceInfo) -> str | None:
    """Recompute the figures now (about ten Clockify calls); the message to show when Clockify fails."""
    settings = get_settings(installation.workspace_id)
    client = _clients().for_installation(installation, interactive=True)
    try:
        dashboard.refresh(installation, client, info, settings)
    except ClockifyError as exc:
        db.session.rollback()
        log.warning("workspace %s: dashboard refresh failed: %s", installation.workspace_id, type(exc).__name__)
        return "Clockify did not answer, so the figures could not be refreshed. Try again in a minute."
    finally:
        client.close()
    db.session.commit()
    return None


def _context(auth: TokenContext, installation: Installation, board: dashboard.Dashboard, **extra: Any) -> dict:
    return {
        "auth": auth,
        "board": board,
        "host": host_base(auth),
        # Unbilled and overdue are billing's figures: they open billing's tab (the Invoices page action).
        "billing_url": host_base(auth) + BILLING_TAB,
        "is_admin": auth.is_admin,
        "me": auth.user_id,
        **extra,
    }


def _workspace_facts(installation: Installation) -> preferences.WorkspaceInfo:
    """The viewer's formats (for the filters) and the workspace's currency, period and zone, both cached."""
    clients = _clients()
    g.preferences = preferences.for_request(g.auth, installation, clients)
    return preferences.workspace_info(
        installation.workspace_id, lambda: clients.for_installation(installation, interactive=True)
    )


@bp.get(PATH)
@requires_user()
def page() -> Response:
    """The period-close dashboard, from stored snapshots (computed once here if none exists yet)."""
    installation: Installation = g.installation
    info = _workspace_facts(installation)
    board = dashboard.load(installation.workspace_id, info)
    problem = None
    # Normally webhooks and the reconciler keep snapshots fresh; this covers a first open, a new period, and
    # a workspace whose worker is down, at most once per DASHBOARD_MAX_AGE_MINUTES.
    max_age = timedelta(minutes=float(current_app.config.get("DASHBOARD_MAX_AGE_MINUTES", 60)))
    stale = not board.is_complete or (board.refreshed_at is not None and utcnow() - board.refreshed_at > max_age)
    if stale and _may_attempt(installation.workspace_id):
        problem = _refresh(installation, info)
        _note_outcome(installation.workspace_id, problem)
        board = dashboard.load(installation.workspace_id, info)
    return render(
        "dashboard/page.html", "dashboard/_board.html", **_context(g.auth, installation, board, problem=problem)
    )


@bp.post(PATH + "/refresh")
@requires_user(admin=True)
def refresh() -> Response:
    """Recompute now and re-render the figures."""
    installation: Installation = g.installation
    info = _workspace_facts(installation)
    problem = _refresh(installation, info)
    board = dashboard.load(installation.workspace_id, info)
    response = render("dashboard/_board.html", **_context(g.auth, installation, board, problem=problem))
    return toast(response, problem or "Figures refreshed.", "error" if problem else "success")
