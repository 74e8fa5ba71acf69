"""The `invoices.action` component: bill approved time."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..htmx import render
from ..manifest import component_paths
from ..security import requires_user

bp = Blueprint("invoices", __name__)


@bp.get(component_paths()["invoices.action"])
@requires_user(admin=True)
def page() -> Response:
    """Bill approved time."""
    return render("components/placeholder.html", auth=g.auth, title="Bill approved time", surface="invoices")
