"""Webhooks: every event the world emits, POSTed to each matching webhook of the installation, in order."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .state import AddonInstallation
from .wire import now_iso

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10
# A long `make run` keeps only the newest deliveries and requests (payloads included), not all of them.
MAX_RECORDS = 5_000


def elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


@dataclass
class Delivery:
    """One POST of one event to one webhook; kept for the control API (list, replay)."""

    id: int
    workspace_id: str
    event: str
    url: str
    webhook_id: str
    token: str
    payload: dict[str, Any]
    generation: int
    outcome: str = "queued"  # queued | held | delivered | failed | dropped
    status: int | None = None
    error: str | None = None
    time: str = field(default_factory=now_iso)
    duration_ms: float | None = None
    replay_of: int | None = None
    sequence: int | None = None  # order in which deliveries actually went out

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspaceId": self.workspace_id,
            "event": self.event,
            "url": self.url,
            "webhookId": self.webhook_id,
            "outcome": self.outcome,
            "status": self.status,
            "error": self.error,
            "time": self.time,
            "durationMs": self.duration_ms,
            "replayOf": self.replay_of,
            "sequence": self.sequence,
            "payload": self.payload,
        }


class Deliverer:
    """Subscribes to world.emit and POSTs each matching event from one background thread, in order.

    Faults for tests: `duplicate` sends each of the next N deliveries twice, `drop` records and skips the
    next N, `reorder` holds the next N and releases them newest first.
    """

    def __init__(self, installations: Callable[[], dict[str, AddonInstallation]]) -> None:
        self._installations = installations
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._pending = 0
        self._next_id = 1
        self._sent = 0
        self._generation = 0
        self.records: list[Delivery] = []
        self.duplicate = 0
        self.drop = 0
        self.reorder = 0
        self._held: list[Delivery] = []
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    # world.emit listener: called under the world lock, so it only enqueues.
    def on_event(self, workspace_id: str, event: str, payload: dict[str, Any]) -> None:
        installation = self._installations().get(workspace_id)
        if installation is None or not installation.is_active:
            return
        for hook in list(installation.webhooks):
            if hook.get("event") == event and hook.get("enabled", True):
                self._submit(workspace_id, event, hook, payload)

    def _submit(self, workspace_id: str, event: str, hook: dict[str, Any], payload: dict[str, Any]) -> None:
        with self._lock:
            delivery = self._new(workspace_id, event, hook["url"], hook.get("id", ""), hook["token"], payload)
            if self.drop > 0:
                self.drop -= 1
                delivery.outcome = "dropped"
                return
            copies = 1
            if self.duplicate > 0:
                self.duplicate -= 1
                copies = 2
            for n in range(copies):
                item = delivery if n == 0 else self._copy(delivery)
                if self.reorder > 0:
                    self.reorder -= 1
                    item.outcome = "held"
                    self._held.append(item)
                    if self.reorder == 0:
                        self._release_locked()
                else:
                    self._enqueue_locked(item)

    def _new(
        self, workspace_id: str, event: str, url: str, webhook_id: str, token: str, payload: dict[str, Any]
    ) -> Delivery:
        delivery = Delivery(self._next_id, workspace_id, event, url, webhook_id, token, payload, self._generation)
        self._next_id += 1
        self.records.append(delivery)
        if len(self.records) > MAX_RECORDS:
            del self.records[: len(self.records) - MAX_RECORDS]
        return delivery

    def _copy(self, original: Delivery) -> Delivery:
        copy = self._new(
            original.workspace_id, original.event, original.url, original.webhook_id, original.token, original.payload
        )
        copy.replay_of = original.id
        return copy

    def _enqueue_locked(self, delivery: Delivery) -> None:
        delivery.outcome = "queued"
        self._pending += 1
        self._queue.put(delivery)

    def _release_locked(self) -> int:
        held, self._held = self._held, []
        for delivery in reversed(held):
            self._enqueue_locked(delivery)
        return len(held)

    def release(self) -> int:
        """Send every held delivery now, newest first."""
        with self._lock:
            self.reorder = 0
            return self._release_locked()

    def replay(self, delivery_id: int, copies: int = 1) -> list[Delivery]:
        """Send a recorded delivery again (same payload and signature), whatever the installation's state."""
        with self._lock:
            original = next((d for d in self.records if d.id == delivery_id), None)
            if original is None:
                raise KeyError(delivery_id)
            replays = []
            for _ in range(copies):
                copy = self._copy(original)
                copy.generation = self._generation
                self._enqueue_locked(copy)
                replays.append(copy)
            return replays

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery has been sent; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def reset(self) -> None:
        """Forget every record and fault; deliveries still queued from before are skipped."""
        with self._lock:
            self._generation += 1
            self.records = []
            self._held = []
            self.duplicate = self.drop = self.reorder = 0

    def list(self) -> list[Delivery]:
        with self._lock:
            return list(self.records)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery.generation == self._generation:
                    self._send(delivery)
            except Exception:  # the worker must survive anything one delivery does
                log.exception("webhook delivery %s failed", delivery.id)
            finally:
                with self._idle:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()

    def _send(self, delivery: Delivery) -> None:
        self._sent += 1
        delivery.sequence = self._sent
        started = time.monotonic()
        headers = {"Clockify-Signature": delivery.token, "Clockify-Webhook-Event-Type": delivery.event}
        try:
            response = self._session.post(delivery.url, json=delivery.payload, headers=headers, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            delivery.outcome, delivery.error = "failed", type(exc).__name__
        else:
            delivery.status = response.status_code
            delivery.outcome = "delivered" if response.ok else "failed"
        delivery.duration_ms = elapsed_ms(started)
        delivery.time = now_iso()
