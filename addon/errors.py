"""Error answers: JSON on lifecycle and webhook routes, a page or fragment on UI routes; never a trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from .clockify.errors import BudgetExceededError, ClockifyError
from .exceptions import AuthError, BadRequestError, DomainError, PayloadError
from .extensions import db
from .htmx import is_htmx

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/lifecycle/", "/webhooks/", "/healthz", "/manifest")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str, title: str | None = None) -> Response:
    if wants_json():
        return make_response(jsonify({"error": title or _title(status), "message": message}), status)
    template = "errors/_error.html" if is_htmx() else "errors/page.html"
    html = render_template(template, status=status, title=title or _title(status), message=message)
    response = make_response(html, status)
    if is_htmx():
        # htmx ignores non-2xx bodies unless told where to put them: show errors in the page's error slot.
        response.headers["HX-Retarget"] = "#closeout-error"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def paused_response() -> Response:
    """What a component shows while the workspace has Closeout paused (STATUS_CHANGED INACTIVE)."""
    message = "Closeout is paused on this workspace. An admin can resume it in Workspace settings → Add-ons."
    if request.method != "GET" or is_htmx():
        return error_response(409, message, title="Paused")
    return make_response(render_template("errors/paused.html", message=message), 200)


def _title(status: int) -> str:
    return {
        400: "Bad request",
        401: "Not signed in",
        403: "Not allowed",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        422: "Check the form",
        429: "Too many requests",
    }.get(status, "Something went wrong")


def register(app: Flask) -> None:
    @app.errorhandler(AuthError)
    def auth_error(exc: AuthError) -> Response:
        log.info("refused %s %s: %s", request.method, request.path, exc.message)
        return error_response(exc.status, exc.message)

    @app.errorhandler(BadRequestError)
    @app.errorhandler(PayloadError)
    def bad_request(exc: Exception) -> Response:
        return error_response(400, str(exc))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        db.session.rollback()
        return error_response(exc.status, exc.message)

    @app.errorhandler(ClockifyError)
    def clockify_error(exc: ClockifyError) -> Response:
        # A capability that did not handle Clockify's failure itself: a clear 502 (or 403), never a 500.
        db.session.rollback()
        log.info("Clockify failed on %s %s (%s)", request.method, request.path, type(exc).__name__)
        if isinstance(exc, BudgetExceededError):
            return error_response(503, "Clockify is slow to answer; try again in a moment.")
        return error_response(403 if exc.status == 403 else 502, "Clockify could not complete this request.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error_response(exc.code or 500, exc.description or _title(exc.code or 500))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Closeout hit an unexpected error. Nothing was changed; please try again.")
