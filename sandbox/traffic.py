"""What the sandbox does to the API traffic and keeps of it: fault rules and the request log."""

from __future__ import annotations

import contextlib
import fnmatch
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

from .wire import now_iso

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
            latency_ms=read_number(spec, "latencyMs", int, 0, 0, 60_000),
            error_rate=read_number(spec, "errorRate", float, 0.0, 0.0, 1.0),
            error_status=read_number(spec, "errorStatus", int, 503, 400, 599),
            rate_limit_burst=read_number(spec, "rateLimitBurst", int, 0, 0, 1_000_000),
            retry_after=read_number(spec, "retryAfter", int, 1, 0, 3600),
            drop_rate=read_number(spec, "dropRate", float, 0.0, 0.0, 1.0),
            times=read_number(spec, "times", int, None, 0, 1_000_000),
            seed=read_number(spec, "seed", int, 0, -(2**63), 2**63),
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


def read_number(spec: dict[str, Any], key: str, kind: type, default: Any, low: float, high: float) -> Any:
    """`spec[key]` as a `kind` between `low` and `high`, `default` when absent; ValueError (answered 400) otherwise."""
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


def observe(app: Flask, faults: FaultPlan, log: RequestLog) -> None:
    """Put `faults` in front of /api and /reports, and record every call there in `log`."""

    @app.before_request
    def apply_faults() -> Response | None:
        if not request.path.startswith(OBSERVED_PREFIXES):
            return None
        g.sandbox_started = time.monotonic()
        g.sandbox_time = now_iso()
        latency, action, fault = faults.decide(request.method, request.path)
        if latency:
            time.sleep(latency / 1000)
        g.sandbox_fault = fault
        if action == "drop":
            log.add(_log_entry(None, fault) | {"dropped": True})
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
            log.add(_log_entry(response.status_code, g.get("sandbox_fault")))
        return response


def _drop_connection() -> None:
    """Close the client's socket without an answer, as a dropped connection looks to Closeout."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
