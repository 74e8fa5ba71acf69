"""The iframe components Clockify embeds: sidebar, approvals tab, schedule tab, invoices action."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..htmx import render
from ..manifest import component_paths
from ..security import requires_user

bp = Blueprint("components", __name__)
PATHS = component_paths()


@bp.get(PATHS["sidebar"])
@requires_user()
def sidebar() -> Response:
    """The period-close dashboard."""
    return render("components/placeholder.html", auth=g.auth, title="Closeout", surface="sidebar")


@bp.get(PATHS["approvals.tab"])
@requires_user()
def approvals() -> Response:
    """The approval queue for a period."""
    return render("components/placeholder.html", auth=g.auth, title="Approvals", surface="approvals")


@bp.get(PATHS["schedule.tab"])
@requires_user()
def schedule() -> Response:
    """Planned against tracked hours."""
    return render("components/placeholder.html", auth=g.auth, title="Plan vs actual", surface="schedule")


@bp.get(PATHS["invoices.action"])
@requires_user(admin=True)
def invoices() -> Response:
    """Bill approved time."""
    return render("components/placeholder.html", auth=g.auth, title="Bill approved time", surface="invoices")
