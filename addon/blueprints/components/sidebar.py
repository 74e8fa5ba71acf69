"""The `sidebar` component: the period-close dashboard."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ...htmx import render
from ...manifest import component_paths
from ...security import requires_user

bp = Blueprint("sidebar", __name__)


@bp.get(component_paths()["sidebar"])
@requires_user()
def page() -> Response:
    """The period-close dashboard."""
    return render("components/placeholder.html", auth=g.auth, title="Closeout", surface="sidebar")
