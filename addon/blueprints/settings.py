"""The self-hosted settings page (Workspace settings → Add-ons → Closeout), admins only."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..htmx import render
from ..manifest import settings_path
from ..security import requires_user

bp = Blueprint("settings", __name__)


@bp.get(settings_path())
@requires_user(admin=True)
def page() -> Response:
    """Every per-workspace setting of Closeout."""
    return render("components/placeholder.html", auth=g.auth, title="Closeout settings", surface="settings")
