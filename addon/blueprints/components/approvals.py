"""The `approvals.tab` component: the approval queue for a period."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ...htmx import render
from ...manifest import component_paths
from ...security import requires_user

bp = Blueprint("approvals", __name__)


@bp.get(component_paths()["approvals.tab"])
@requires_user()
def page() -> Response:
    """The approval queue for a period."""
    return render("components/placeholder.html", auth=g.auth, title="Approvals", surface="approvals")
