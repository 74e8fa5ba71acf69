"""The web edge of observability: a request id, one structured log line and metrics for every request.

The line names the route template (never the URL: iframe URLs carry tokens in their query), the verified
workspace, status and duration; webhook deliveries also count by event and intake outcome.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from . import logs, metrics

log = logging.getLogger("addon.request")

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Probes and scrapes would drown the log; they are still counted.
QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}


def register(app: Flask) -> None:
    json_logs = app.config.get("LOG_FORMAT") == "json"

    @app.before_request
    def start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        g.log_token = logs.bind(request_id=g.request_id, method=request.method, route=_route())

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
        route = _route()
        metrics.observe_request(request.method, route, response.status_code, seconds)
        event = _webhook_event()
        if event is not None:
            metrics.observe_webhook(event, _intake_outcome(response))
        if json_logs and route not in QUIET_ROUTES:
            log.info(
                "%s %s %s",
                request.method,
                route,
                response.status_code,
                extra={
                    "workspace_id": g.get("log_workspace_id"),
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                    "event_type": event,
                },
            )
        return response

    @app.teardown_request
    def forget(exc: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            try:
                logs.unbind(token)
            except ValueError:
                logs.clear()


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "(unmatched)"


def _webhook_event() -> str | None:
    if request.blueprint != "webhooks" or request.endpoint is None:
        return None
    return request.endpoint.rsplit(".", 1)[-1].upper()


def _intake_outcome(response: Response) -> str:
    status = response.status_code
    if status in (200, 202):
        body = response.get_json(silent=True) or {}
        return str(body.get("status") or "accepted")
    if status in (401, 403):
        return "refused"
    if status == 429:
        return "limited"
    if 400 <= status < 500:
        return "invalid"
    return "failed"
