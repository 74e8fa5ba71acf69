"""Flask extensions, created unbound and attached in create_app(); the model base and its column types."""

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# A naming convention so Alembic batch mode on SQLite can name and drop constraints.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


T = TypeVar("T")
_build_lock = threading.RLock()  # re-entrant: one built value may need another (jobs need the queue)


def once_per_app(app: Flask, key: str, build: Callable[[Flask], T]) -> T:
    """app.extensions[key], built on first use; threaded servers may take their first webhooks at once."""
    value = app.extensions.get(key)
    if value is None:
        with _build_lock:
            value = app.extensions.get(key)
            if value is None:
                value = app.extensions[key] = build(app)
    return cast(T, value)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Every per-process cache, so that DELETED can drop a workspace's entries from all of them at once.
_caches: "weakref.WeakSet[BoundedCache[Any, Any]]" = weakref.WeakSet()


class BoundedCache(Generic[K, V]):
    """A per-process cache that cannot grow without end: at most `max_entries` (least recently used go
    first), each kept for `ttl` seconds when given; thread-safe.

    `workspace_of(key, value)` names the workspace an entry belongs to, so `forget_workspace` can drop
    a removed workspace's entries from every cache.
    """

    def __init__(
        self,
        max_entries: int,
        ttl: float | None = None,
        workspace_of: Callable[[K, V], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max(1, int(max_entries))
        self.ttl = ttl
        self._workspace_of = workspace_of
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.ttl is not None and self._clock() - entry[0] >= self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop(self, predicate: Callable[[K, V], bool]) -> int:
        """Remove every entry for which predicate(key, value) holds; return how many went."""
        with self._lock:
            gone = [key for key, (_, value) in self._entries.items() if predicate(key, value)]
            for key in gone:
                del self._entries[key]
        return len(gone)

    def forget_workspace(self, workspace_id: str) -> int:
        if self._workspace_of is None:
            return 0
        workspace_of = self._workspace_of
        return self.drop(lambda key, value: workspace_of(key, value) == workspace_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def forget_workspace(workspace_id: str) -> int:
    """Drop a workspace's entries from every per-process cache (DELETED, a reinstall)."""
    return sum(cache.forget_workspace(workspace_id) for cache in list(_caches))
