"""Prometheus metrics: requests, webhook intake, jobs, Clockify calls and rate-limiter waits.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it; the consumers of one machine share it),
every process writes its samples there and /metrics adds them up: one scrape sees all gunicorn workers
and every consumer. Without it (`make run`, tests) the samples live in the process. The inbox backlog and
dead letters are read from the database at scrape time, so they are true whichever process answers.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from huey import Huey
from huey import signals as huey_signals
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from . import logs

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):  # each process's sample files are created below, at import
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "closeout_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "closeout_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOKS = Counter(
    "closeout_webhook_deliveries_total",
    "Webhook deliveries by event and intake outcome (accepted, duplicate, dropped, refused, limited, invalid, failed).",
    ["event", "outcome"],
)
JOBS = Counter("closeout_jobs_total", "Background tasks run, by task name and outcome.", ["task", "outcome"])
JOB_LATENCY = Histogram(
    "closeout_job_duration_seconds", "Time a background task ran, by task name.", ["task"], buckets=LATENCY_BUCKETS
)
CLOCKIFY_CALLS = Counter(
    "closeout_clockify_requests_total",
    "Calls to Clockify by endpoint template and status (429 included; 'error' when no answer came).",
    ["method", "endpoint", "status"],
)
CLOCKIFY_LATENCY = Histogram(
    "closeout_clockify_request_duration_seconds",
    "Time Clockify took to answer, by endpoint template.",
    ["method", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
LIMITER_WAIT = Histogram(
    "closeout_clockify_rate_limit_wait_seconds",
    "Time a Clockify call waited for the workspace's rate limiter before it was sent.",
    buckets=WAIT_BUCKETS,
)

# A path segment that is an id (Clockify's are 24 hex digits; anything long with a digit counts).
_ID_SEGMENT = re.compile(r"^(?=[^/]*\d)[A-Za-z0-9_.:-]{8,}$")


def endpoint_template(path: str) -> str:
    """A Clockify path with ids replaced, so the metric has one series per endpoint, not per object."""
    parts = path.split("?", 1)[0].split("/")
    return "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in parts)


def observe_clockify_call(method: str, path: str, status: int | None, seconds: float, waited: float) -> None:
    """The Clockify client's observer (passed in by platform/clients.py): one sample per exchange."""
    endpoint = endpoint_template(path)
    CLOCKIFY_CALLS.labels(method, endpoint, str(status) if status is not None else "error").inc()
    CLOCKIFY_LATENCY.labels(method, endpoint).observe(seconds)
    LIMITER_WAIT.observe(max(0.0, waited))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_webhook(event: str, outcome: str) -> None:
    WEBHOOKS.labels(event, outcome).inc()


_OUTCOMES = {
    huey_signals.SIGNAL_COMPLETE: "complete",
    huey_signals.SIGNAL_ERROR: "error",
    huey_signals.SIGNAL_RETRYING: "retrying",
    huey_signals.SIGNAL_CANCELED: "canceled",
    huey_signals.SIGNAL_EXPIRED: "expired",
    huey_signals.SIGNAL_REVOKED: "revoked",
    huey_signals.SIGNAL_LOCKED: "locked",
    huey_signals.SIGNAL_TIMEOUT: "timeout",
    huey_signals.SIGNAL_INTERRUPTED: "interrupted",
}
# A failed run that will run again emits ERROR then RETRYING: the run's outcome is the first one.
_FINAL = {huey_signals.SIGNAL_COMPLETE, huey_signals.SIGNAL_ERROR, huey_signals.SIGNAL_INTERRUPTED}


def observe_tasks(huey: Huey) -> None:
    """Count and time every task the consumer runs, and log one line per run with its name and outcome."""
    running: dict[str, tuple[float, Any]] = {}
    lock = threading.Lock()

    @huey.signal()
    def on_signal(signal: str, task: Any, *args: Any, **kwargs: Any) -> None:
        name = str(getattr(task, "name", "unknown"))
        if signal == huey_signals.SIGNAL_EXECUTING:
            with lock:
                running[task.id] = (time.perf_counter(), logs.bind(job=name, task_id=str(task.id)))
            return
        outcome = _OUTCOMES.get(signal)
        if outcome is None:
            return
        JOBS.labels(name, outcome).inc()
        if signal not in _FINAL:
            return
        with lock:
            started, token = running.pop(task.id, (None, None))
        if started is None or token is None:
            return
        seconds = time.perf_counter() - started
        JOB_LATENCY.labels(name).observe(seconds)
        level = logging.INFO if outcome == "complete" else logging.WARNING
        log.log(level, "task %s %s", name, outcome, extra={"outcome": outcome, "duration_ms": round(seconds * 1000, 1)})
        try:
            logs.unbind(token)
        except ValueError:  # bound in another thread or context: nothing of ours to undo here
            logs.clear()


class ScrapeCollector(Collector):
    """Gauges computed when /metrics is scraped, from a callable returning (name, help, labels, samples)."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, list[str], list[tuple[list[str], float]]]]]):
        self._read = read

    def collect(self) -> Iterable[Metric]:
        for name, documentation, labels, samples in self._read():
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for values, value in samples:
                family.add_metric(values, value)
            yield family


def exposition(extra: Collector | None = None) -> tuple[bytes, str]:
    """The text a scrape gets: every process's samples (multi-process mode) or this one's, and `extra`."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra is not None:
        scraped = CollectorRegistry()
        scraped.register(extra)
        body += generate_latest(scraped)
    return body, CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """gunicorn's child_exit hook: the dead worker's live-gauge files go (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.mark_process_dead(pid)
