"""The queue the web process hands work to: huey from QUEUE_URL, tasks by name, and the inbox relay.

Views enqueue here, after their commit; the worker (`jobs.py`) registers the named tasks on the same huey
and runs them. Task names are the contract between the two: a queued message names its task, never a
Python path, so moving code never strands messages already queued.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from redis import ConnectionPool

from .extensions import once_per_app

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NAME = "closeout"
# app.extensions key of the callable that registers the worker's tasks (set by the factory, see jobs.init_app).
TASK_REGISTRAR = "closeout_task_registrar"


class QueueConfigError(RuntimeError):
    """QUEUE_URL names a queue Closeout cannot use."""


def make_huey(queue_url: str, name: str = DEFAULT_QUEUE_NAME) -> Huey:
    """A huey on SQLite (`sqlite:///path`, the embedded default) or Redis (`redis://…`, for several processes)."""
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
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
class Queue:
    """One app's huey and its tasks by name (registered by the worker module when the app is built)."""

    huey: Huey
    tasks: dict[str, TaskWrapper] = field(default_factory=dict)
    # Registers the worker's tasks on this queue; set by the factory, called on the first lookup.
    register: Callable[[], Any] | None = None

    def names(self) -> set[str]:
        self._registered()
        return set(self.tasks)

    def task(self, name: str) -> TaskWrapper:
        if name not in self.tasks:
            self._registered()
        try:
            return self.tasks[name]
        except KeyError:
            raise LookupError(f"no task named {name!r} is registered") from None

    def _registered(self) -> None:
        if self.register is not None:
            register, self.register = self.register, None
            register()

    def enqueue(self, name: str, *args: Any, delay: float = 0.0) -> bool:
        """Queue task `name(*args)`; False (logged) when the queue is unreachable: the sweep or reconciliation
        is every caller's backstop, so a queue outage never fails the request that asked."""
        task = self.task(name)  # an unknown name is a bug: raise in the caller
        try:
            if delay > 0:
                task.schedule(args=args, delay=delay)
            else:
                task(*args)
        except Exception as exc:
            log.warning("queue unavailable; %s not queued (%s)", name, type(exc).__name__)
            return False
        return True


def queue_for(app: Flask) -> Queue:
    """The app's Queue, built from its config on first use (never at import)."""

    def build(app: Flask) -> Queue:
        huey = make_huey(str(app.config["QUEUE_URL"]), str(app.config.get("QUEUE_NAME") or DEFAULT_QUEUE_NAME))
        return Queue(huey, register=app.extensions.get(TASK_REGISTRAR))

    return once_per_app(app, "closeout_queue", build)


def enqueue(app: Flask, name: str, *args: Any, delay: float = 0.0) -> bool:
    return queue_for(app).enqueue(name, *args, delay=delay)


PROCESS_INBOX_EVENTS = "process_inbox_events"
# Queued by STATUS_CHANGED ACTIVE: the jobs a pause held go on, and reconciliation catches up.
RESUME_WORKSPACE = "resume_workspace"


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
            queue_for(self._app).task(PROCESS_INBOX_EVENTS)(ids)
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


def relay_inbox_event(app: Flask, inbox_id: int) -> None:
    """Queue processing of a stored inbox event (a delivery just taken in, a dead letter an admin retries),
    without waiting for the queue."""
    inbox_relay(app).submit(inbox_id)
