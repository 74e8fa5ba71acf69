"""Rendering for views: a full page on a direct load, a fragment on an htmx call, HX-* headers, format filters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_app_context, make_response, render_template, request

from .formatting import (
    DEFAULT_PREFERENCES,
    Preferences,
    format_date,
    format_datetime,
    format_hours,
    format_money,
    format_number,
    format_percent,
    format_time,
)
from .tokens import TokenContext


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


def current_preferences() -> Preferences:
    """The preferences a view put on `g.preferences`, else defaults (so a filter never fails)."""
    if has_app_context():
        prefs = g.get("preferences")
        if isinstance(prefs, Preferences):
            return prefs
    return DEFAULT_PREFERENCES


def register(app: Flask) -> None:
    """Install the filters: `fmt_date fmt_time fmt_datetime fmt_hours fmt_number fmt_money fmt_percent`."""
    env = app.jinja_env
    env.filters["fmt_date"] = lambda v: format_date(v, current_preferences())
    env.filters["fmt_time"] = lambda v: format_time(v, current_preferences())
    env.filters["fmt_datetime"] = lambda v: format_datetime(v, current_preferences())
    env.filters["fmt_hours"] = lambda v, signed=False: format_hours(v, current_preferences(), signed=signed)
    env.filters["fmt_number"] = lambda v, digits=2: format_number(v, current_preferences(), digits)
    env.filters["fmt_money"] = lambda v, currency=None: format_money(v, currency, current_preferences())
    env.filters["fmt_percent"] = lambda v, digits=0: format_percent(v, current_preferences(), digits)


def host_base(auth: TokenContext) -> str:
    """Where Clockify's own pages live, for links that leave the iframe (target=_top).

    CLOCKIFY_APP_URL wins; otherwise it follows the token's API host: https://api.clockify.me/api gives
    https://app.clockify.me, and the sandbox's http://host:port/api gives http://host:port.
    """
    configured = current_app.config.get("CLOCKIFY_APP_URL")
    if configured:
        return str(configured).rstrip("/")
    backend = urlsplit(auth.backend_url or g.installation.api_url or "")
    host = backend.netloc
    if host.startswith("api."):
        host = "app." + host[len("api.") :]
    if not backend.scheme or not host:
        return "https://app.clockify.me"
    return f"{backend.scheme}://{host}"
