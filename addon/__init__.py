"""Closeout: the Clockify add-on that closes each period. create_app() assembles it."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request
from flask.sessions import NullSession, SessionInterface
from werkzeug.routing import IntegerConverter

from . import (
    commands,
    errors,
    htmx,
    jobs,
    logs,
    models,  # noqa: F401  (imports every package's tables onto db.metadata)
    observability,
    views,
)
from .config import build_config
from .extensions import db, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, the environment and `overrides` (same keys as the environment)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
    )
    app.config.from_mapping(build_config(app.instance_path, overrides))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)

    # Ids in URLs become database integers: anything past 64 bits is a 404, not an overflow.
    app.url_map.converters["int"] = BoundedIntConverter

    for blueprint in views.BLUEPRINTS:
        app.register_blueprint(blueprint)
    errors.register(app)
    observability.register(app)
    jobs.init_app(app)
    commands.register(app)
    htmx.register(app)
    app.session_interface = _NoCookieSessions()
    app.after_request(_security_headers)
    app.jinja_env.globals["addon_key"] = app.config["ADDON_KEY"]
    return app


class BoundedIntConverter(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


class _NoSession(NullSession):
    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Closeout keeps no cookie session: every request carries its Clockify user token.")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class _NoCookieSessions(SessionInterface):
    """No cookie sessions: Clockify embeds Closeout in iframes, where third-party cookies are unreliable,
    and each request carries its own token. Opening a signed cookie on every webhook delivery cost time too."""

    null_session_class = _NoSession

    def open_session(self, app: Flask, request: Any) -> _NoSession:
        return _NoSession()

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def _security_headers(response: Response) -> Response:
    # Tokens travel in iframe URLs: never leak them through Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        ancestors = current_app.config["FRAME_ANCESTORS"]
        response.headers["Content-Security-Policy"] = (
            f"frame-ancestors {ancestors}; default-src 'self'; script-src 'self'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; object-src 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _configure_logging(app: Flask) -> None:
    if app.config["LOG_FORMAT"] == "json":
        logs.configure_json(app.config)  # production: redacted JSON lines, werkzeug's and gunicorn's too
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Werkzeug's access log prints full URLs, and the first iframe load carries auth_token in its query.
    logging.getLogger("werkzeug").addFilter(_RedactQueryTokens())


class _RedactQueryTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                re.sub(r"(auth_token=)[^&\s\"]+", r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        return True
