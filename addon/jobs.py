"""Background work: the huey queue from QUEUE_URL, inbox processing, reconciliation and the recovery sweep."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer

from .extensions import db, once_per_app

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NAME = "closeout"
SWEEP_EVERY_MINUTES = 1


class QueueConfigError(RuntimeError):
    """QUEUE_URL names a queue Closeout cannot use."""


def make_huey(queue_url: str, name: str = DEFAULT_QUEUE_NAME) -> Huey:
    """A huey on SQLite (`sqlite:///path`, the embedded default) or Redis (`redis://…`, for several processes)."""
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        from redis import ConnectionPool

        # Short connect timeout: webhook intake must answer even when Redis is down (the sweep catches up).
        pool = ConnectionPool.from_url(queue_url, socket_connect_timeout=2, socket_timeout=10)
        return RedisHuey(name, connection_pool=pool, results=False)
    if queue_url.startswith("sqlite:///"):
        filename = queue_url[len("sqlite:///") :]
        if not filename:
            raise QueueConfigError("QUEUE_URL sqlite:/// needs a file path")
        return SqliteHuey(name, filename=filename, results=False)
    raise QueueConfigError("QUEUE_URL must be sqlite:///<file> or redis://<host>[:port][/db]")


@dataclass
class Jobs:
    """One app's queue and the tasks registered on it (the web process enqueues, the worker runs them)."""

    app: Flask
    huey: Huey
    process_inbox_event: TaskWrapper
    process_inbox_events: TaskWrapper
    reconcile_installation: TaskWrapper
    register_webhooks: TaskWrapper
    call: TaskWrapper
    reconcile_all: TaskWrapper
    sweep: TaskWrapper


def jobs_for(app: Flask) -> Jobs:
    """The app's Jobs, built from its config on first use (never at import)."""
    return once_per_app(app, "closeout_jobs", _build)


def _build(app: Flask) -> Jobs:
    huey = make_huey(str(app.config["QUEUE_URL"]), str(app.config.get("QUEUE_NAME") or DEFAULT_QUEUE_NAME))
    reconcile_minutes = max(1, int(app.config["RECONCILE_MINUTES"]))

    def every(minutes: int) -> Callable[[datetime], bool]:
        # huey checks periodic tasks once a minute; any interval in minutes, not only divisors of 60.
        return lambda dt: (dt.hour * 60 + dt.minute) % minutes == 0

    @huey.task(name="process_inbox_event")
    def process_inbox_event(inbox_id: int) -> str:
        return _process_inbox_event(jobs, inbox_id)

    @huey.task(name="process_inbox_events")
    def process_inbox_events(inbox_ids: list[int]) -> list[str]:
        return [_process_inbox_event(jobs, inbox_id) for inbox_id in inbox_ids]

    @huey.task(name="reconcile_installation")
    def reconcile_installation(workspace_id: str) -> dict[str, str]:
        return _reconcile_installation(app, workspace_id)

    @huey.task(name="register_webhooks", retries=3, retry_delay=60)
    def register_webhooks(workspace_id: str) -> int:
        return _register_webhooks(app, workspace_id)

    @huey.task(name="call", retries=3, retry_delay=30)
    def call(target: str, *args: Any) -> None:
        _call(app, target, args)

    @huey.periodic_task(every(reconcile_minutes), name="reconcile_all")
    def reconcile_all() -> None:
        _reconcile_all(jobs)

    @huey.periodic_task(every(SWEEP_EVERY_MINUTES), name="sweep")
    def sweep() -> None:
        sweep_inbox(jobs)
        run_sweepers(app)

    jobs = Jobs(
        app=app,
        huey=huey,
        process_inbox_event=process_inbox_event,
        process_inbox_events=process_inbox_events,
        reconcile_installation=reconcile_installation,
        register_webhooks=register_webhooks,
        call=call,
        reconcile_all=reconcile_all,
        sweep=sweep,
    )
    return jobs


# --- What the web process calls (after its commit) ---


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


class InboxRelay:
    """Hands stored webhook deliveries to the queue from a thread of its own, many to a queue message.

    Intake answers Clockify as soon as the row is stored; the push to the queue happens beside the
    request, so a slow or unreachable queue never slows intake, and under load one message carries a
    batch of events instead of one each. The inbox row stays the source of truth: ids still in memory
    when the process stops belong to pending rows, which the sweep enqueues again.
    """

    BATCH = 20  # events per queue message: small enough that several worker threads share a burst
    # After the first id arrives, wait this long for more: under load one push then carries a batch
    # (a push costs as much CPU as the rest of intake), and a lone event starts a few ms later.
    LINGER_SECONDS = 0.02
    IDLE_SECONDS = 30.0  # an idle relay thread ends; the next delivery starts another

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._ids: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._handed_over = threading.Condition(self._lock)
        self._submitted = 0
        self._done = 0  # pushed, or given up on because the queue was unreachable
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, inbox_id: int) -> None:
        self._ids.put(inbox_id)
        with self._lock:
            self._submitted += 1
            # A forked process inherits the object but not its thread.
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="closeout-inbox-relay", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been handed to the queue; False on timeout."""
        with self._lock:
            target = self._submitted
            return self._handed_over.wait_for(lambda: self._done >= target, timeout)

    def _run(self) -> None:
        while True:
            try:
                ids = [self._ids.get(timeout=self.IDLE_SECONDS)]
            except queue.Empty:
                with self._lock:
                    if self._ids.empty():  # a submit after this sees no thread and starts one
                        self._thread = None
                        return
                continue
            time.sleep(self.LINGER_SECONDS)
            while len(ids) < 50 * self.BATCH:
                try:
                    ids.append(self._ids.get_nowait())
                except queue.Empty:
                    break
            for start in range(0, len(ids), self.BATCH):
                self._push(ids[start : start + self.BATCH])
            with self._lock:
                self._done += len(ids)
                self._handed_over.notify_all()

    def _push(self, ids: list[int]) -> None:
        try:
            jobs_for(self._app).process_inbox_events(ids)
        except Exception as exc:
            log.warning(
                "queue unavailable; %d inbox events stay pending for the sweep (%s)", len(ids), type(exc).__name__
            )


_relays: weakref.WeakSet[InboxRelay] = weakref.WeakSet()


def inbox_relay(app: Flask) -> InboxRelay:
    def build(app: Flask) -> InboxRelay:
        relay = InboxRelay(app)
        _relays.add(relay)
        return relay

    return once_per_app(app, "closeout_inbox_relay", build)


@atexit.register
def _flush_relays() -> None:
    # A clean stop hands over what is in memory; after a crash the sweep does.
    for relay in _relays:
        relay.flush(timeout=2.0)


def relay_inbox_event(inbox_id: int) -> None:
    """Queue processing of a stored inbox event (a delivery just taken in, a dead letter an admin retries),
    without waiting for the queue."""
    inbox_relay(_app()).submit(inbox_id)


def enqueue_webhook_registration(workspace_id: str) -> bool:
    """Queue registration of the ASSIGNMENT_* webhooks (after INSTALLED commits); reconciliation is the backstop."""
    try:
        jobs_for(_app()).register_webhooks(workspace_id)
    except Exception as exc:
        log.warning("queue unavailable; webhooks of %s wait for reconciliation (%s)", workspace_id, type(exc).__name__)
        return False
    return True


def run_in_background(target: str, *args: Any) -> None:
    """Queue `module:function(*args)` to run in the worker inside an app context, committed when it returns.

    For capabilities with work too slow for a request (bulk decisions …): the function is a service
    that takes plain, serialisable arguments and must be safe to run again (huey retries it).
    """
    _resolve(target)  # fail now, in the caller, on a typo
    jobs_for(_app()).call(target, *args)


# --- Task bodies (run in the worker) ---


def _process_inbox_event(jobs: Jobs, inbox_id: int) -> str:
    from .models import Installation
    from .services import inbox

    app = jobs.app
    with app.app_context():
        try:
            policy = inbox.RetryPolicy.from_config(app.config)
            event = inbox.claim(inbox_id)
            db.session.commit()
            if event is None:
                return "not claimed"
            attempts, workspace_id, event_type = event.attempts, event.workspace_id, event.event_type
            installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
            if installation is None or not installation.is_active:
                inbox.skip(inbox_id, attempts, "Closeout is paused or removed on this workspace")
                db.session.commit()
                return "skipped"
            client = _LazyClient(app, installation)
            try:
                inbox.dispatch(event, installation, client)
                if not inbox.complete(inbox_id, attempts):
                    db.session.rollback()
                    log.warning("inbox event %s was re-claimed after its lease; this run's writes are undone", inbox_id)
                    return "claim lost"
                db.session.commit()
                return "done"
            except Exception as exc:
                db.session.rollback()
                delay = inbox.fail(inbox_id, attempts, exc, policy)
                db.session.commit()
                log.warning(
                    "%s for workspace %s failed (attempt %d): %s; %s",
                    event_type,
                    workspace_id,
                    attempts,
                    # The class only: a handler's message can echo parts of the webhook body.
                    type(exc).__name__,
                    f"retry in {delay:.0f}s" if delay is not None else "dead-lettered",
                )
                if delay is None:
                    return "dead"
                try:
                    jobs.process_inbox_event.schedule(args=(inbox_id,), delay=delay)
                except Exception as queue_exc:
                    log.warning(
                        "could not schedule retry of %s (%s); the sweep will", inbox_id, type(queue_exc).__name__
                    )
                return "failed"
            finally:
                client.close()
        finally:
            db.session.remove()


class _LazyClient:
    """The installation's Clockify client, built on a handler's first call (most need none) and closed after."""

    def __init__(self, app: Flask, installation: Any) -> None:
        self._app = app
        self._installation = installation
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            from .services.installations import client_for

            self._client = client_for(self._installation, self._app.config)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def sweep_inbox(jobs: Jobs) -> list[int]:
    """Re-enqueue events whose queue message was lost (queue down at intake, dead worker, lost retry)."""
    from .services import inbox

    with jobs.app.app_context():
        try:
            ids = inbox.recover(inbox.RetryPolicy.from_config(jobs.app.config))
            db.session.commit()
        finally:
            db.session.remove()
    for inbox_id in ids:
        jobs.process_inbox_event(inbox_id)
    if ids:
        log.info("sweep re-enqueued %d inbox events", len(ids))
    return ids


def run_sweepers(app: Flask) -> None:
    """The capabilities' own catch-up checks (events.sweeper); one failing never stops the others."""
    from .services import events

    for fn in events.sweepers():
        with app.app_context():
            try:
                fn()
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                log.warning("sweeper %s failed (%s)", getattr(fn, "__name__", fn), type(exc).__name__)
            finally:
                db.session.remove()


def _reconcile_all(jobs: Jobs) -> None:
    from .services.installations import active_installations

    with jobs.app.app_context():
        try:
            workspace_ids = [i.workspace_id for i in active_installations()]
        finally:
            db.session.remove()
    # One task per installation: a slow or failing workspace never holds up the others.
    for workspace_id in workspace_ids:
        jobs.reconcile_installation(workspace_id)


def _reconcile_installation(app: Flask, workspace_id: str) -> dict[str, str]:
    from .services import reconcile

    with app.app_context():
        try:
            installation = _active_installation(workspace_id)
            if installation is None:
                return {}
            client = _LazyClient(app, installation)()
            try:
                return reconcile.run(installation, client, app.config["ADDON_BASE_URL"], _checkpoint)
            finally:
                client.close()
        finally:
            db.session.remove()


def _register_webhooks(app: Flask, workspace_id: str) -> int:
    from .services import webhook_registration

    with app.app_context():
        try:
            installation = _active_installation(workspace_id)
            if installation is None:
                return 0
            client = _LazyClient(app, installation)()
            try:
                changes = webhook_registration.ensure_registered(installation, client, app.config["ADDON_BASE_URL"])
                db.session.commit()
                return len(changes)
            except Exception:
                db.session.rollback()
                raise  # huey retries the task; reconciliation is the backstop after that
            finally:
                client.close()
        finally:
            db.session.remove()


def _active_installation(workspace_id: str) -> Any:
    from .models import Installation

    installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
    return installation if installation is not None and installation.is_active else None


def _checkpoint(ok: bool) -> None:
    if ok:
        db.session.commit()
    else:
        db.session.rollback()


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError("target must be 'module:function'")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise ValueError(f"{target} is not callable")
    return fn


def _call(app: Flask, target: str, args: tuple[Any, ...]) -> None:
    fn = _resolve(target)
    with app.app_context():
        try:
            fn(*args)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


# --- Running the consumer ---


class EmbeddedConsumer(Consumer):
    """A huey consumer whose threads run inside another process (tests, `make run`): no signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass


def start_consumer(app: Flask, workers: int = 1, periodic: bool = False, max_delay: float = 1.0) -> Consumer:
    """Start a consumer for the app's queue in background threads; stop it with `.stop(graceful=True)`.

    `max_delay` caps how long an idle worker waits between polls of a SQLite queue (Redis blocks instead).
    """
    consumer = EmbeddedConsumer(
        jobs_for(app).huey,
        workers=workers,
        worker_type="thread",
        periodic=periodic,
        check_worker_health=False,
        max_delay=max_delay,
    )
    consumer.start()
    return consumer


def init_app(app: Flask) -> None:
    """Register `flask --app addon worker`."""

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Worker threads.")
    @click.option("--periodic/--no-periodic", default=True, show_default=True, help="Run reconciliation and sweeps.")
    def worker(workers: int, periodic: bool) -> None:
        """Run the background worker: inbox processing, reconciliation and the recovery sweep."""
        jobs = jobs_for(app)
        # Catch up at once on what a previous worker left behind, rather than at the next minute.
        sweep_inbox(jobs)
        consumer = jobs.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=periodic, check_worker_health=True
        )
        consumer.run()
