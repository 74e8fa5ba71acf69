"""Clockify's REST API (backendUrl): /api/v1/… and /api/addon/…, as clockify-api-v1.txt describes it.

One module per domain, each with its own blueprint nested in `bp`: the gate (check_request) and the error
handlers below apply to all of them, and every endpoint is named `api.<domain>.<view>`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from ..gate import check_request, error
from ..state import WorldError
from . import addon_settings, approvals, invoices, scheduling, time_entries, time_off, users, webhooks, workspace

bp = Blueprint("api", __name__)
bp.before_request(check_request)
for domain in (users, workspace, approvals, time_entries, invoices, scheduling, time_off, webhooks, addon_settings):
    bp.register_blueprint(domain.bp)


@bp.errorhandler(WorldError)
def world_error(exc: WorldError) -> Response:
    return error(exc.status, exc.message, exc.code)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return error(exc.code or 500, exc.description or exc.name)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def unrouted(exc: HTTPException) -> Response | HTTPException:
    """Unknown API paths and methods answer JSON like the rest of the API (e.g. /time-entries/invoiced/bulk)."""
    if request.path.startswith(("/api/", "/reports/")):
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else None
        return error(exc.code or 404, "No such endpoint" if exc.code == 404 else "Method not allowed", headers=headers)
    return exc
