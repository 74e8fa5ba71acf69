"""Manifest, health, readiness and metrics: the surface for Clockify, load balancers and Prometheus."""

from __future__ import annotations

import redis
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from ... import metrics
from ...crypto import same_secret
from ...extensions import db, once_per_app
from ...manifest import manifest_for
from ...queue import queue_for
from .. import inbox
from ..models import Installation

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


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database, the queue and Redis (where configured) all answer; 503 names what does not."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = {"database": _check_database(), "queue": _check_queue(app)}
    if app.config.get("REDIS_URL"):
        checks["redis"] = _check_redis(app)
    failing = sorted(name for name, state in checks.items() if state != "ok")
    body = {"status": "ready" if not failing else "unavailable", "checks": checks, "failing": failing}
    return jsonify(body), 503 if failing else 200


def _check_database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return "unreachable"


def _check_queue(app: Flask) -> str:
    try:
        queue_for(app).huey.storage.queue_size()
        return "ok"
    except Exception:  # any storage error: Redis refused, SQLite file unreadable
        return "unreachable"


def _check_redis(app: Flask) -> str:
    def build(app: Flask) -> redis.Redis:
        return redis.Redis.from_url(
            str(app.config["REDIS_URL"]), socket_timeout=1, socket_connect_timeout=1, retry_on_timeout=False
        )

    try:
        once_per_app(app, "closeout_redis_probe", build).ping()
        return "ok"
    except redis.RedisError:
        return "unreachable"


@bp.get("/metrics")
def metrics_view() -> Response:
    """Prometheus metrics for a bearer of METRICS_TOKEN; 404 for anyone else, or when none is configured."""
    expected = current_app.config.get("METRICS_TOKEN")
    presented = request.headers.get("Authorization", "")
    if not expected or not same_secret(presented, f"Bearer {expected}"):
        return Response("Not found\n", status=404, mimetype="text/plain")
    body, content_type = metrics.exposition(metrics.ScrapeCollector(_scraped_gauges))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _scraped_gauges() -> list[tuple[str, str, list[str], list[tuple[list[str], float]]]]:
    """Read at scrape time: the inbox by status, the backlog and dead letters, installations by state."""
    try:
        totals = inbox.totals()
        active = db.session.scalar(sa.select(sa.func.count()).where(Installation.is_active.is_(True))) or 0
        paused = db.session.scalar(sa.select(sa.func.count()).where(Installation.is_active.is_(False))) or 0
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return [("closeout_database_up", "1 when the scrape could read the database.", [], [([], 0.0)])]
    backlog = sum(totals[s] for s in (inbox.PENDING, inbox.PROCESSING, inbox.FAILED))
    return [
        ("closeout_database_up", "1 when the scrape could read the database.", [], [([], 1.0)]),
        (
            "closeout_inbox_events",
            "Webhook events in the inbox by status.",
            ["status"],
            [([k], v) for k, v in totals.items()],
        ),
        (
            "closeout_inbox_backlog",
            "Events not yet processed (pending, processing, waiting to retry).",
            [],
            [([], backlog)],
        ),
        (
            "closeout_inbox_dead_letters",
            "Events that stopped retrying and wait for an admin.",
            [],
            [([], totals[inbox.DEAD])],
        ),
        ("closeout_installations", "Installations by state.", ["state"], [(["active"], active), (["paused"], paused)]),
    ]
