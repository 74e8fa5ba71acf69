"""Manifest, health and the add-on icon: the public, unauthenticated surface."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from ...extensions import db
from ...manifest import manifest_for

bp = Blueprint("meta", __name__)


@bp.get("/manifest")
@bp.get("/manifest.json")
def manifest() -> Response:
    """The manifest Clockify reads, with baseUrl and key from configuration."""
    config = current_app.config
    return jsonify(manifest_for(config["ADDON_BASE_URL"], config["ADDON_KEY"]))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Liveness and database reachability, for load balancers and `make run`."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = "unreachable"
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status
