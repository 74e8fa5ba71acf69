"""The control API tests use to shape the sandbox: faults, request log, reset, installs, tokens, webhooks."""

from __future__ import annotations

import fnmatch
import inspect
from datetime import UTC, date, datetime
from typing import Any

import jwt
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from . import lifecycle
from .lifecycle import PlatformError
from .sandbox import current_sandbox
from .tokens import ROLE_CLAIMS
from .traffic import read_number

bp = Blueprint("control", __name__)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"message": message, "code": status}), status


@bp.errorhandler(ValueError)
def bad_value(exc: ValueError) -> tuple[Response, int]:
    return _error(str(exc), 400)


@bp.errorhandler(PlatformError)
def platform_error(exc: PlatformError) -> tuple[Response, int]:
    return _error(exc.message, exc.status)


@bp.errorhandler(Exception)
def world_error(exc: Exception) -> tuple[Response, int]:
    """The world's refusals carry a status and message (unknown ids, bad transitions); answer them as JSON."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and 400 <= status < 600:
        return _error(str(getattr(exc, "message", exc)), status)
    if isinstance(exc, HTTPException):
        return _error(exc.description or exc.name, exc.code or 500)
    current_app.logger.exception("control call failed")
    return _error(f"{type(exc).__name__} in the sandbox", 500)


def _workspace(body: dict[str, Any]) -> str:
    value = body.get("workspaceId") or request.args.get("workspaceId") or current_sandbox().demo_workspace_id
    return str(value)


@bp.get("/state")
def state() -> Response:
    """What the sandbox looks like now: URLs, seed, installations."""
    sandbox = current_sandbox()
    return jsonify(
        {
            "baseUrl": sandbox.base_url,
            "backendUrl": sandbox.backend_url,
            "reportsUrl": sandbox.reports_url,
            "addonUrl": sandbox.addon_url,
            "seed": sandbox.config["SANDBOX_SEED"],
            "size": sandbox.config["SANDBOX_SIZE"],
            "demoWorkspaceId": sandbox.demo_workspace_id,
            "workspaces": sorted(sandbox.world.workspaces),
            "installations": [_installation_json(i) for i in sandbox.world.installations.values()],
        }
    )


@bp.post("/reset")
def reset() -> Response:
    """Reseed the world and forget installations, faults, logs and deliveries."""
    body = _body()
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    size = body.get("size")
    if size is not None and not isinstance(size, str):
        raise ValueError("size must be a string such as demo or large")
    if "addonUrl" in body:
        current_sandbox().config["ADDON_URL"] = str(body["addonUrl"])
    current_sandbox().reset(seed, size)
    return state()


# Faults ---------------------------------------------------------------------------------------------


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    """Add a fault rule: {pattern, methods?, latencyMs?, errorRate?, errorStatus?, rateLimitBurst?, dropRate?, …}."""
    fault = current_sandbox().faults.add(_body())
    return jsonify(fault.as_json()), 201


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify([f.as_json() for f in current_sandbox().faults.list()])


@bp.delete("/faults")
def clear_faults() -> tuple[str, int]:
    current_sandbox().faults.clear()
    return "", 204


@bp.delete("/faults/<int:fault_id>")
def remove_fault(fault_id: int) -> tuple[str, int] | tuple[Response, int]:
    if not current_sandbox().faults.remove(fault_id):
        return _error("no such fault", 404)
    return "", 204


# Request log ----------------------------------------------------------------------------------------


@bp.get("/requests")
def list_requests() -> Response:
    """The request log, oldest first; filter with method, path (glob or prefix), status, since (id)."""
    entries = current_sandbox().request_log.list()
    method = request.args.get("method", "").upper()
    path = request.args.get("path")
    status = request.args.get("status", type=int)
    since = request.args.get("since", type=int)
    if method:
        entries = [e for e in entries if e["method"] == method]
    if path:
        entries = [e for e in entries if fnmatch.fnmatchcase(e["path"], path) or e["path"].startswith(path)]
    if status is not None:
        entries = [e for e in entries if e["status"] == status]
    if since is not None:
        entries = [e for e in entries if e["id"] > since]
    return jsonify(entries)


@bp.delete("/requests")
def clear_requests() -> tuple[str, int]:
    current_sandbox().request_log.clear()
    return "", 204


# Installation ---------------------------------------------------------------------------------------


def _installation_json(installation: Any) -> dict[str, Any]:
    return {
        "workspaceId": installation.workspace_id,
        "addonId": installation.addon_id,
        "addonUrl": installation.addon_url,
        "isActive": installation.is_active,
        "scopes": sorted(installation.scopes),
        "webhooks": [
            {"id": h.get("id"), "event": h.get("event"), "url": h.get("url"), "source": h.get("source")}
            for h in installation.webhooks
        ],
    }


@bp.get("/installation")
def get_installation() -> Response | tuple[Response, int]:
    installation = current_sandbox().world.installations.get(_workspace({}))
    if installation is None:
        return _error("Closeout is not installed on this workspace", 404)
    return jsonify(_installation_json(installation))


@bp.post("/install")
def install() -> tuple[Response, int]:
    """Install Closeout ({workspaceId?, addonUrl?}): reads its manifest and sends INSTALLED."""
    body = _body()
    if body.get("addonUrl"):
        current_sandbox().config["ADDON_URL"] = str(body["addonUrl"])
    installation = lifecycle.install(current_sandbox(), _workspace(body))
    return jsonify(_installation_json(installation)), 201


@bp.post("/uninstall")
def uninstall() -> tuple[str, int]:
    lifecycle.uninstall(current_sandbox(), _workspace(_body()))
    return "", 204


@bp.post("/pause")
def pause() -> Response:
    return jsonify(_installation_json(lifecycle.set_active(current_sandbox(), _workspace(_body()), False)))


@bp.post("/resume")
def resume() -> Response:
    return jsonify(_installation_json(lifecycle.set_active(current_sandbox(), _workspace(_body()), True)))


@bp.post("/settings")
def settings() -> Response:
    """Send SETTINGS_UPDATED with {settings: [{id, name, value}]}."""
    body = _body()
    settings = body.get("settings", [])
    if not isinstance(settings, list):
        raise ValueError("settings must be a list of {id, name, value}")
    return jsonify(_installation_json(lifecycle.update_settings(current_sandbox(), _workspace(body), settings)))


@bp.get("/lifecycle")
def lifecycle_log() -> Response:
    return jsonify(current_sandbox().lifecycle_log)


# Tokens ---------------------------------------------------------------------------------------------


@bp.post("/tokens/user")
def mint_user_token() -> tuple[Response, int]:
    """A user token as the host would put in an iframe URL: {role, userId?, ttl?, theme?, workspaceId?}."""
    body = _body()
    role = str(body.get("role") or "OWNER").upper()
    if role not in ROLE_CLAIMS:
        raise ValueError("role must be one of " + ", ".join(ROLE_CLAIMS))
    ttl = body.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise ValueError("ttl must be a number of seconds")
    theme = str(body.get("theme") or "DEFAULT").upper()
    if theme not in ("DEFAULT", "DARK"):
        raise ValueError("theme must be DEFAULT or DARK")
    sandbox = current_sandbox()
    token = sandbox.user_token(_workspace(body), role, user_id=body.get("userId") or None, theme=theme, ttl_seconds=ttl)
    # Claims read back unverified: a token minted already expired (negative ttl) is what the caller asked for.
    claims = jwt.decode(token, options={"verify_signature": False})
    return jsonify({"token": token, "claims": claims}), 201


# World changes --------------------------------------------------------------------------------------


@bp.post("/emit")
def emit() -> tuple[Response, int]:
    """Announce a change as if the world made it: {workspaceId?, event, payload} → webhooks."""
    body = _body()
    event, payload = body.get("event"), body.get("payload")
    if not isinstance(event, str) or not event:
        raise ValueError("event is required")
    if not isinstance(payload, dict):
        raise ValueError("payload must be an object")
    world = current_sandbox().world
    with world.lock:
        world.emit(_workspace(body), event, payload)
    return jsonify({"event": event}), 202


@bp.post("/world/<name>")
def call_world(name: str) -> tuple[Response, int]:
    """Make a change through the world's own method (e.g. submit or decide an approval as a user would)."""
    world = current_sandbox().world
    method = getattr(world, name, None)
    if name.startswith("_") or name in {"emit", "subscribe"} or not callable(method):
        return _error(f"the world has no action {name}", 404)
    try:
        kwargs = _coerce_instants(method, _body())
        with world.lock:
            result = method(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    return jsonify({"result": _jsonable(result)}), 200


def _coerce_instants(method: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """JSON has no datetimes: parse ISO strings for the parameters the world types as datetime or date."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return kwargs
    coerced = dict(kwargs)
    for name, value in kwargs.items():
        annotation = str(parameters[name].annotation) if name in parameters else ""
        if not isinstance(value, str):
            continue
        if "datetime" in annotation:
            text = value[:-1] + "+00:00" if value.endswith("Z") else value
            parsed = datetime.fromisoformat(text)
            coerced[name] = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        elif "date" in annotation:
            coerced[name] = date.fromisoformat(value[:10])
    return coerced


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


# Webhook deliveries ---------------------------------------------------------------------------------


@bp.get("/deliveries")
def list_deliveries() -> Response:
    """Every webhook delivery: event, url, outcome, status, time; filter with event and outcome."""
    records = current_sandbox().deliverer.list()
    event = request.args.get("event")
    outcome = request.args.get("outcome")
    if event:
        records = [d for d in records if d.event == event]
    if outcome:
        records = [d for d in records if d.outcome == outcome]
    return jsonify([d.as_json() for d in records])


@bp.delete("/deliveries")
def clear_deliveries() -> tuple[str, int]:
    current_sandbox().deliverer.reset()
    return "", 204


@bp.post("/deliveries/mode")
def delivery_mode() -> Response:
    """Faults for the next deliveries: {duplicate: N, drop: N, reorder: N} (reorder holds N, sends them reversed)."""
    body = _body()
    deliverer = current_sandbox().deliverer
    for key in ("duplicate", "drop", "reorder"):
        if key in body:
            setattr(deliverer, key, read_number(body, key, int, 0, 0, 10_000))
    return jsonify({"duplicate": deliverer.duplicate, "drop": deliverer.drop, "reorder": deliverer.reorder})


@bp.post("/deliveries/release")
def release_deliveries() -> Response:
    """Send the held deliveries now, newest first."""
    return jsonify({"released": current_sandbox().deliverer.release()})


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> tuple[Response, int]:
    """Send a recorded delivery again ({copies?: N}) with the same payload and signature."""
    copies = read_number(_body(), "copies", int, 1, 1, 100)
    try:
        replays = current_sandbox().deliverer.replay(delivery_id, copies)
    except KeyError:
        return _error("no such delivery", 404)
    return jsonify([d.as_json() for d in replays]), 202


@bp.post("/deliveries/<int:delivery_id>/duplicate")
def duplicate_delivery(delivery_id: int) -> tuple[Response, int]:
    """Send a recorded delivery twice more, as an at-least-once platform may."""
    try:
        replays = current_sandbox().deliverer.replay(delivery_id, 2)
    except KeyError:
        return _error("no such delivery", 404)
    return jsonify([d.as_json() for d in replays]), 202


@bp.post("/deliveries/drain")
def drain_deliveries() -> tuple[Response, int]:
    """Wait until every queued delivery has been sent ({timeout?: seconds}); 504 if it did not."""
    timeout = read_number(_body(), "timeout", float, 10.0, 0.0, 120.0)
    deliverer = current_sandbox().deliverer
    if not deliverer.drain(timeout):
        return _error("deliveries still queued", 504)
    return jsonify({"drained": True, "count": len(deliverer.list())}), 200
