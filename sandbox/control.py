"""The control API tests use to shape the sandbox: faults, request log, reset, installs, tokens, webhooks."""

from __future__ import annotations

import contextlib
import fnmatch
import inspect
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import jwt
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import delivery
from .delivery import PlatformError, now_iso
from .tokens import ROLE_CLAIMS

if TYPE_CHECKING:
    from .app import Sandbox

bp = Blueprint("control", __name__)

# Faults and the request log apply to what Closeout calls: the API and the reports API.
OBSERVED_PREFIXES = ("/api/", "/reports/")
BODY_LOG_LIMIT = 20_000
MAX_LOGGED_REQUESTS = 20_000


# ---------------------------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One rule: requests whose path matches `pattern` (glob) and method get latency, errors, 429s or drops."""

    id: int
    pattern: str
    methods: set[str]
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_burst: int = 0  # the next N matching requests answer 429
    retry_after: int = 1
    drop_rate: float = 0.0
    times: int | None = None  # apply to at most this many matching requests
    seed: int = 0
    hits: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return fnmatch.fnmatchcase(path, self.pattern) or (
            "*" not in self.pattern and "?" not in self.pattern and path.startswith(self.pattern)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern": self.pattern,
            "methods": sorted(self.methods),
            "latencyMs": self.latency_ms,
            "errorRate": self.error_rate,
            "errorStatus": self.error_status,
            "rateLimitBurst": self.rate_limit_burst,
            "retryAfter": self.retry_after,
            "dropRate": self.drop_rate,
            "times": self.times,
            "seed": self.seed,
            "hits": self.hits,
        }


class FaultPlan:
    """The active fault rules; deterministic: each rule draws from its own seeded generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        pattern = spec.get("pattern")
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise ValueError("pattern must be a path glob starting with /, e.g. /api/v1/workspaces/*/approval-requests")
        methods = spec.get("methods") or ([spec["method"]] if spec.get("method") else [])
        fault = Fault(
            id=0,
            pattern=pattern,
            methods={str(m).upper() for m in methods},
            latency_ms=_number(spec, "latencyMs", int, 0, 0, 60_000),
            error_rate=_number(spec, "errorRate", float, 0.0, 0.0, 1.0),
            error_status=_number(spec, "errorStatus", int, 503, 400, 599),
            rate_limit_burst=_number(spec, "rateLimitBurst", int, 0, 0, 1_000_000),
            retry_after=_number(spec, "retryAfter", int, 1, 0, 3600),
            drop_rate=_number(spec, "dropRate", float, 0.0, 0.0, 1.0),
            times=_number(spec, "times", int, None, 0, 1_000_000),
            seed=_number(spec, "seed", int, 0, -(2**63), 2**63),
        )
        fault.rng = random.Random(fault.seed)
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._rules.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [f for f in self._rules if f.id != fault_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def decide(self, method: str, path: str) -> tuple[int, str | None, Fault | None]:
        """(latency in ms, action, rule): action is None, "drop", "429" or "error"."""
        latency = 0
        with self._lock:
            for fault in self._rules:
                if not fault.matches(method, path):
                    continue
                fault.hits += 1
                latency += fault.latency_ms
                if fault.drop_rate and fault.rng.random() < fault.drop_rate:
                    return latency, "drop", fault
                if fault.rate_limit_burst > 0:
                    fault.rate_limit_burst -= 1
                    return latency, "429", fault
                if fault.error_rate and fault.rng.random() < fault.error_rate:
                    return latency, "error", fault
        return latency, None, None


def _number(spec: dict[str, Any], key: str, kind: type, default: Any, low: float, high: float) -> Any:
    value = spec.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    value = kind(value)
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low} and {high}")
    return value


# ---------------------------------------------------------------------------------------------- request log


class RequestLog:
    """Every API and reports request: method, path, query, body, status, time, duration."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._next_id = 1

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["id"] = self._next_id
            self._next_id += 1
            self._entries.append(entry)
            if len(self._entries) > MAX_LOGGED_REQUESTS:
                del self._entries[: len(self._entries) - MAX_LOGGED_REQUESTS]

    def clear(self) -> None:
        with self._lock:
            self._entries = []

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


def _logged_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    parsed = request.get_json(silent=True, cache=True)
    if parsed is not None:
        return parsed
    return raw[:BODY_LOG_LIMIT].decode("utf-8", "replace")


def _log_entry(status: int | None, fault: Fault | None = None) -> dict[str, Any]:
    started = g.get("sandbox_started", time.monotonic())
    return {
        "method": request.method,
        "path": request.path,
        "query": {k: v if len(v) > 1 else v[0] for k, v in request.args.lists()},
        "body": _logged_body(),
        "status": status,
        "time": g.get("sandbox_time", now_iso()),
        "durationMs": round((time.monotonic() - started) * 1000, 1),
        # Whether a token was sent, never the token itself.
        "addonToken": bool(request.headers.get("X-Addon-Token")),
        "fault": fault.id if fault else None,
    }


def attach(app: Flask, sandbox: Sandbox) -> None:
    """Install the fault injector and request logger in front of /api and /reports."""
    sandbox.extras["faults"] = FaultPlan()
    sandbox.extras["requests"] = RequestLog()

    @app.before_request
    def apply_faults() -> Response | None:
        if not request.path.startswith(OBSERVED_PREFIXES):
            return None
        g.sandbox_started = time.monotonic()
        g.sandbox_time = now_iso()
        latency, action, fault = sandbox.extras["faults"].decide(request.method, request.path)
        if latency:
            time.sleep(latency / 1000)
        g.sandbox_fault = fault
        if action == "drop":
            sandbox.extras["requests"].add(_log_entry(None, fault) | {"dropped": True})
            g.sandbox_logged = True
            _drop_connection()
            return Response(status=500)
        if action == "429":
            response = jsonify({"message": "Too many requests", "code": 429})
            response.status_code = 429
            response.headers["Retry-After"] = str(fault.retry_after if fault else 1)
            return response
        if action == "error" and fault is not None:
            response = jsonify({"message": "Injected server error", "code": fault.error_status})
            response.status_code = fault.error_status
            return response
        return None

    @app.after_request
    def log_request(response: Response) -> Response:
        if request.path.startswith(OBSERVED_PREFIXES) and not g.get("sandbox_logged"):
            sandbox.extras["requests"].add(_log_entry(response.status_code, g.get("sandbox_fault")))
        return response


def _drop_connection() -> None:
    """Close the client's socket without an answer, as a dropped connection looks to Closeout."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------- routes


def _sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


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
    value = body.get("workspaceId") or request.args.get("workspaceId") or _sandbox().demo_workspace_id
    return str(value)


@bp.get("/state")
def state() -> Response:
    """What the sandbox looks like now: URLs, seed, installations."""
    sandbox = _sandbox()
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
        _sandbox().config["ADDON_URL"] = str(body["addonUrl"])
    _sandbox().reset(seed, size)
    return state()


# Faults ---------------------------------------------------------------------------------------------


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    """Add a fault rule: {pattern, methods?, latencyMs?, errorRate?, errorStatus?, rateLimitBurst?, dropRate?, …}."""
    fault = _sandbox().extras["faults"].add(_body())
    return jsonify(fault.as_json()), 201


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify([f.as_json() for f in _sandbox().extras["faults"].list()])


@bp.delete("/faults")
def clear_faults() -> tuple[str, int]:
    _sandbox().extras["faults"].clear()
    return "", 204


@bp.delete("/faults/<int:fault_id>")
def remove_fault(fault_id: int) -> tuple[str, int] | tuple[Response, int]:
    if not _sandbox().extras["faults"].remove(fault_id):
        return _error("no such fault", 404)
    return "", 204


# Request log ----------------------------------------------------------------------------------------


@bp.get("/requests")
def list_requests() -> Response:
    """The request log, oldest first; filter with method, path (glob or prefix), status, since (id)."""
    entries = _sandbox().extras["requests"].list()
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
    _sandbox().extras["requests"].clear()
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
    installation = _sandbox().world.installations.get(_workspace({}))
    if installation is None:
        return _error("Closeout is not installed on this workspace", 404)
    return jsonify(_installation_json(installation))


@bp.post("/install")
def install() -> tuple[Response, int]:
    """Install Closeout ({workspaceId?, addonUrl?}): reads its manifest and sends INSTALLED."""
    body = _body()
    if body.get("addonUrl"):
        _sandbox().config["ADDON_URL"] = str(body["addonUrl"])
    installation = delivery.install(_sandbox(), _workspace(body))
    return jsonify(_installation_json(installation)), 201


@bp.post("/uninstall")
def uninstall() -> tuple[str, int]:
    delivery.uninstall(_sandbox(), _workspace(_body()))
    return "", 204


@bp.post("/pause")
def pause() -> Response:
    return jsonify(_installation_json(delivery.set_active(_sandbox(), _workspace(_body()), False)))


@bp.post("/resume")
def resume() -> Response:
    return jsonify(_installation_json(delivery.set_active(_sandbox(), _workspace(_body()), True)))


@bp.post("/settings")
def settings() -> Response:
    """Send SETTINGS_UPDATED with {settings: [{id, name, value}]}."""
    body = _body()
    settings = body.get("settings", [])
    if not isinstance(settings, list):
        raise ValueError("settings must be a list of {id, name, value}")
    return jsonify(_installation_json(delivery.update_settings(_sandbox(), _workspace(body), settings)))


@bp.get("/lifecycle")
def lifecycle_log() -> Response:
    return jsonify(_sandbox().lifecycle_log)


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
    sandbox = _sandbox()
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
    world = _sandbox().world
    with world.lock:
        world.emit(_workspace(body), event, payload)
    return jsonify({"event": event}), 202


@bp.post("/world/<name>")
def call_world(name: str) -> tuple[Response, int]:
    """Make a change through the world's own method (e.g. submit or decide an approval as a user would)."""
    world = _sandbox().world
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
    records = _sandbox().deliverer.list()
    event = request.args.get("event")
    outcome = request.args.get("outcome")
    if event:
        records = [d for d in records if d.event == event]
    if outcome:
        records = [d for d in records if d.outcome == outcome]
    return jsonify([d.as_json() for d in records])


@bp.delete("/deliveries")
def clear_deliveries() -> tuple[str, int]:
    _sandbox().deliverer.reset()
    return "", 204


@bp.post("/deliveries/mode")
def delivery_mode() -> Response:
    """Faults for the next deliveries: {duplicate: N, drop: N, reorder: N} (reorder holds N, sends them reversed)."""
    body = _body()
    deliverer = _sandbox().deliverer
    for key in ("duplicate", "drop", "reorder"):
        if key in body:
            setattr(deliverer, key, _number(body, key, int, 0, 0, 10_000))
    return jsonify({"duplicate": deliverer.duplicate, "drop": deliverer.drop, "reorder": deliverer.reorder})


@bp.post("/deliveries/release")
def release_deliveries() -> Response:
    """Send the held deliveries now, newest first."""
    return jsonify({"released": _sandbox().deliverer.release()})


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> tuple[Response, int]:
    """Send a recorded delivery again ({copies?: N}) with the same payload and signature."""
    copies = _number(_body(), "copies", int, 1, 1, 100)
    try:
        replays = _sandbox().deliverer.replay(delivery_id, copies)
    except KeyError:
        return _error("no such delivery", 404)
    return jsonify([d.as_json() for d in replays]), 202


@bp.post("/deliveries/<int:delivery_id>/duplicate")
def duplicate_delivery(delivery_id: int) -> tuple[Response, int]:
    """Send a recorded delivery twice more, as an at-least-once platform may."""
    try:
        replays = _sandbox().deliverer.replay(delivery_id, 2)
    except KeyError:
        return _error("no such delivery", 404)
    return jsonify([d.as_json() for d in replays]), 202


@bp.post("/deliveries/drain")
def drain_deliveries() -> tuple[Response, int]:
    """Wait until every queued delivery has been sent ({timeout?: seconds}); 504 if it did not."""
    timeout = _number(_body(), "timeout", float, 10.0, 0.0, 120.0)
    deliverer = _sandbox().deliverer
    if not deliverer.drain(timeout):
        return _error("deliveries still queued", 504)
    return jsonify({"drained": True, "count": len(deliverer.list())}), 200
