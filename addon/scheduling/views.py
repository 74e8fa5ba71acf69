"""The `schedule.tab` component: planned against tracked hours."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..htmx import render
from ..manifest import component_paths
from ..security import requires_user

bp = Blueprint("schedule", __name__)


@bp.get(component_paths()["schedule.tab"])
@requires_user()
def page() -> Response:
    """Planned against tracked hours."""
    return render("components/placeholder.html", auth=g.auth, title="Plan vs actual", surface="schedule")
