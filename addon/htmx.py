"""Rendering for htmx: a full page on a direct load, a fragment on an htmx call, and HX-* headers."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render(page: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render `fragment` for htmx calls (when given) and `page` otherwise."""
    template = fragment if fragment and is_htmx() else page
    return make_response(render_template(template, **context), status)


def trigger(response: Response, events: dict[str, Any] | str) -> Response:
    """Ask the page to fire client events after the swap (HX-Trigger)."""
    value = events if isinstance(events, str) else json.dumps(events)
    response.headers["HX-Trigger"] = value
    return response


def toast(response: Response, message: str, kind: str = "success") -> Response:
    """Show a Clockify toast (toastrPop) through the glue script."""
    return trigger(response, {"closeout:toast": {"type": kind, "message": message}})
