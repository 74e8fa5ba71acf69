"""Webhook intake: a verified delivery stored in the inbox under a dedupe key, in one shared autocommitted write."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..config import INTAKE_BIND
from ..extensions import UTCDateTime, db, once_per_app, utcnow
from .models import InboxEvent, Installation, WebhookSubscription


def canonical_json(body: dict[str, Any]) -> str:
    """The body as stored and hashed: keys sorted, no spaces, so a redelivery reads byte for byte the same."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dedupe_key(workspace_id: str, event_type: str, canonical_body: str) -> str:
    """Hash of workspace, event type and the canonical body.

    Clockify sends no event id, and an entity id alone would swallow later updates of the same
    entity; the whole canonical body tells a redelivery from a new event.
    """
    return hashlib.sha256(f"{workspace_id}\n{event_type}\n{canonical_body}".encode()).hexdigest()


def entity_id_of(body: dict[str, Any]) -> str | None:
    for key in ("id", "assignmentId", "userId"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:64]
    return None


def accept_delivery(
    writer: GroupWriter,
    workspace_id: str,
    event_type: str,
    body: dict[str, Any],
    *,
    token_digest: str,
    addon_id: str | None,
) -> int | None:
    """Store a webhook delivery if its token is the stored one for an active installation.

    INSERT … SELECT from the subscription joined to its installation: the check and the write are one
    autocommitted statement, shared by the deliveries a process receives at the same moment (see
    GroupWriter). Returns the inbox id, or None when nothing was stored (no matching subscription, a
    paused installation, or a duplicate); the caller tells those apart off the hot path.
    """
    canonical = canonical_json(body)
    delivery = _Delivery(
        {
            "workspace_id": workspace_id,
            "event_type": event_type,
            "dedupe_key": dedupe_key(workspace_id, event_type, canonical),
            "entity_id": entity_id_of(body),
            "payload": canonical,
            "received_at": utcnow(),
            "token_digest": token_digest,
            "addon_id": addon_id,
        }
    )
    return writer.store(delivery)


class _Delivery:
    """One delivery waiting to be written, and what became of it."""

    __slots__ = ("_signal", "error", "finished", "leads", "stored_id", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.stored_id: int | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.leads = False  # handed the writing over by the previous writer
        self._signal = threading.Lock()
        self._signal.acquire()

    def wait(self) -> None:
        self._signal.acquire()

    def wake(self) -> None:
        self._signal.release()

    def outcome(self) -> int | None:
        if self.error is not None:
            raise self.error
        if not self.finished:
            raise RuntimeError("the request writing this delivery stopped before it was written")
        return self.stored_id


class GroupWriter:
    """Lets the deliveries a process receives at the same moment share one INSERT and one commit.

    A request that finds no write in flight writes its delivery at once, with no hand-off. Requests
    arriving meanwhile queue up; when the write returns, the first of them writes all of them in one
    statement. Under light load nothing waits; under load a round trip and a commit serve a batch.
    """

    MAX_ROWS = 16

    def __init__(self, engine: sa.Engine) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Delivery] = []
        self._writing = False
        self.connection = _IntakeConnection(engine)

    def store(self, delivery: _Delivery) -> int | None:
        with self._lock:
            self._queue.append(delivery)
            leads = not self._writing
            self._writing = True
        if not leads:
            delivery.wait()
            if not delivery.leads:
                return delivery.outcome()
        try:
            while not delivery.finished:
                with self._lock:
                    batch = self._queue[: self.MAX_ROWS]
                    del self._queue[: self.MAX_ROWS]
                try:
                    _write(batch, self.connection)
                finally:
                    for other in batch:
                        if other is not delivery:
                            other.wake()  # unfinished only if this thread is being torn down: outcome() says so
        finally:
            # Hand the writing to the first request still waiting, whatever happened to this one.
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._writing = successor is not None
            if successor is not None:
                successor.leads = True
                successor.wake()
        return delivery.outcome()


def writer_for(app: Flask) -> GroupWriter:
    def build(app: Flask) -> GroupWriter:
        with app.app_context():
            return GroupWriter(db.engines[INTAKE_BIND])

    return once_per_app(app, "closeout_intake_writer", build)


class _IntakeConnection:
    """The group writer's connection to intake's bind, kept from one write to the next.

    Only the leading request writes (see GroupWriter), so one connection serves a process. Checking a
    connection out of the pool and opening a cursor for every write cost as much CPU as the write.
    A connection the server has closed is dropped and the write tried once more on a new one; so is
    the connection when the engine is disposed (tests, a forked process), so none outlives its pool.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._lock = threading.Lock()  # the writing thread, or whoever disposes the engine
        self._connection: Any = None  # a pool connection, checked out while held
        self._cursor: Any = None
        self._pid = os.getpid()
        self._listening = False

    def fetch(self, sql: str, parameters: Any) -> list[Any]:
        """Run one autocommitted statement (see INTAKE_BIND in config) and return its rows."""
        with self._lock:
            if self._pid != os.getpid():
                # Inherited through a fork: the socket is the parent's, neither to use nor to close here.
                self._connection = self._cursor = None
                self._pid = os.getpid()
            for attempt in (1, 2):
                if self._cursor is None:
                    self._open()
                try:
                    self._cursor.execute(sql, parameters)
                    return list(self._cursor.fetchall())
                except self.dialect.loaded_dbapi.Error as exc:
                    # Should the first attempt have been stored after all, the retry meets it as a
                    # duplicate and the sweep enqueues the event.
                    gone = self.dialect.is_disconnect(exc, self._connection.dbapi_connection, self._cursor)
                    if gone:
                        self._close(exc)
                    if attempt == 2 or not gone:
                        raise
            raise AssertionError("unreachable")

    def _open(self) -> None:
        if not self._listening:
            sa.event.listen(self.engine, "engine_disposed", self._on_dispose)
            self._listening = True
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
        except BaseException:
            connection.close()
            raise
        self._connection, self._cursor = connection, cursor

    def _on_dispose(self, engine: sa.Engine) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._close(None)  # returned to the old pool, it would stay open until collected

    def _close(self, error: BaseException | None) -> None:
        connection, self._connection, self._cursor = self._connection, None, None
        if connection is not None:
            connection.invalidate(error)  # closes it and frees its place in the pool


def _write(batch: list[_Delivery], connection: _IntakeConnection) -> None:
    """Write a batch in one statement; if it fails, each delivery alone, so a bad one fails by itself."""
    try:
        statement = _IntakeStatement.for_rows(connection.dialect, len(batch))
        stored = statement.run(connection, [d.values for d in batch])
    except Exception as exc:
        if len(batch) == 1:
            batch[0].error = exc
            batch[0].finished = True
            return
        for delivery in batch:
            _write([delivery], connection)
        return
    for delivery in batch:
        # Two deliveries of one event in one batch: the first is stored, the second is its duplicate.
        delivery.stored_id = stored.pop(delivery.values["dedupe_key"], None)
        delivery.finished = True


@dataclass(frozen=True)
class _IntakeStatement:
    """The intake INSERT … SELECT for a batch of deliveries, compiled once and run on the driver's cursor.

    It runs for every delivery, and SQLAlchemy's per-execution machinery cost as much CPU as the rest
    of intake together. The SQL is still built by SQLAlchemy (see _delivery_insert), with its constants
    and bind processors; the payload goes in as the canonical JSON text intake has already made.
    """

    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark drivers (sqlite3); None: named (psycopg)
    constants: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]

    @staticmethod
    def for_rows(dialect: sa.Dialect, rows: int) -> _IntakeStatement:
        key = (dialect.name, dialect.driver, rows)
        statement = _intake_statements.get(key)
        if statement is None:
            statement = _intake_statements[key] = _IntakeStatement.compile(dialect, rows)
        return statement

    @staticmethod
    def compile(dialect: sa.Dialect, rows: int) -> _IntakeStatement:
        compiled = _delivery_insert(dialect.name, rows).compile(dialect=dialect)
        processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if not name.startswith("payload_") and (processor := bind.type.bind_processor(dialect)) is not None
        }
        positional = tuple(compiled.positiontup) if compiled.positiontup else None
        return _IntakeStatement(compiled.string, positional, dict(compiled.params), processors)

    def parameters(self, rows: list[dict[str, Any]]) -> dict[str, Any] | list[Any]:
        merged = dict(self.constants)
        for n, values in enumerate(rows):
            merged.update({f"{name}_{n}": value for name, value in values.items()})
        for name, processor in self.processors.items():
            merged[name] = processor(merged[name])
        return merged if self.positional is None else [merged[name] for name in self.positional]

    def run(self, connection: _IntakeConnection, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert the rows; return dedupe key → id of those stored."""
        return {str(key): int(inbox_id) for inbox_id, key in connection.fetch(self.sql, self.parameters(rows))}


_intake_statements: dict[tuple[str, str, int], _IntakeStatement] = {}


def _delivery_insert(dialect: str, rows: int) -> Any:
    """The intake statement for `rows` deliveries: one SELECT per delivery, joined by UNION ALL."""
    sub, inst = WebhookSubscription, Installation

    def source(n: int) -> sa.Select[Any]:
        def param(name: str, type_: Any = sa.String) -> sa.BindParameter[Any]:
            return sa.bindparam(f"{name}_{n}", type_=type_)

        addon_id = param("addon_id")
        return (
            sa.select(
                param("workspace_id"),
                param("event_type"),
                param("dedupe_key"),
                param("entity_id"),
                param("payload", sa.JSON),
                sa.literal("pending", sa.String),
                sa.literal(0, sa.Integer),
                param("received_at", UTCDateTime),
            )
            .select_from(sub)
            .join(inst, inst.workspace_id == sub.workspace_id)
            .where(
                sub.workspace_id == param("workspace_id"),
                sub.event_type == param("event_type"),
                sub.token_digest == param("token_digest"),
                inst.is_active == sa.true(),
                sa.or_(addon_id.is_(None), inst.addon_id == addon_id),
            )
        )

    selects = [source(n) for n in range(rows)]
    columns = ["workspace_id", "event_type", "dedupe_key", "entity_id", "payload", "status", "attempts", "received_at"]
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(InboxEvent)
        .from_select(columns, selects[0] if rows == 1 else sa.union_all(*selects))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(InboxEvent.id, InboxEvent.dedupe_key)
    )


class IntakeLimiter:
    """Deliveries per second one webhook token may make, as a token bucket per token digest (in-process).

    A burst of five seconds' worth passes (a bulk approval sends one delivery per request); beyond that a
    flood from one token is answered 429 before anything is stored.
    """

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst_seconds: float = 5.0) -> None:
        self.rate = max(rate, 0.1)
        self.capacity = self.rate * burst_seconds
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(key, (self.capacity, now))
            level = min(self.capacity, level + (now - at) * self.rate)
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._buckets.clear()
            if level < 1:
                self._buckets[key] = (level, now)
                return False
            self._buckets[key] = (level - 1, now)
            return True


def limiter_for(app: Flask) -> IntakeLimiter:
    return once_per_app(
        app, "closeout_intake_limiter", lambda app: IntakeLimiter(app.config["WEBHOOK_RATE_PER_SECOND"])
    )
