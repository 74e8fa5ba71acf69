"""Closeout as `make prod` runs it: gunicorn (2 workers) and two consumers on PostgreSQL and Redis, the sandbox
as Clockify. These tests need the local PostgreSQL and Redis and fail, never skip, when they are missing.
"""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from huey import RedisHuey

from sandbox.prod import Stack
from tests.conftest import PG_ADMIN_URL
from tests.sandbox_fixtures import SandboxHandle

REDIS_URL = os.environ.get("CLOSEOUT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_services() -> None:
    """PostgreSQL and Redis must answer: production is tested on them or the run fails."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except sa.exc.SQLAlchemyError as exc:
        pytest.fail(f"tests/production need PostgreSQL at {PG_ADMIN_URL}: {type(exc).__name__}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"tests/production need Redis at {REDIS_URL}: {type(exc).__name__}")


class Database:
    """A fresh PostgreSQL database, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"closeout_prod_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.engine = sa.create_engine(self.url)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class ProdHandle:
    def __init__(self, stack: Stack, database: Database, log_dir: Path, settings: dict[str, str]) -> None:
        self.stack = stack
        self.database = database
        self.log_dir = log_dir
        self.settings = settings

    @property
    def url(self) -> str:
        return self.stack.url

    def logs(self) -> dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))}


@pytest.fixture(scope="module")
def prod(sandbox_server: SandboxHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdHandle]:
    """The production processes on a fresh database and a queue of their own, trusting the sandbox's key."""
    require_services()
    tmp = tmp_path_factory.mktemp("prod")
    public_key = tmp / "sandbox-public.pem"
    public_key.write_text(sandbox_server.signer.public_pem)
    database = Database()
    queue_name = f"closeout-test-{uuid.uuid4().hex[:10]}"
    settings = {
        "DATABASE_URL": database.url,
        "QUEUE_URL": REDIS_URL,
        "QUEUE_NAME": queue_name,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "prod-test-" + secrets.token_urlsafe(32),
        "METRICS_TOKEN": "metrics-" + secrets.token_urlsafe(24),
        "CLOCKIFY_PUBLIC_KEY": str(public_key),
        # The sandbox's origin under both names its tokens may use.
        "CLOCKIFY_API_HOSTS": ",".join(
            {
                sandbox_server.url,
                sandbox_server.url.replace("127.0.0.1", "localhost"),
                sandbox_server.url.replace("localhost", "127.0.0.1"),
            }
        ),
        "FRAME_ANCESTORS": sandbox_server.url,
        # Room for the 429s the run injects on a loaded machine; the page budget has tests of its own.
        "CLOCKIFY_PAGE_BUDGET_SECONDS": "30",
        # Everything that is logged at all, so the redaction test reads the most there is.
        "LOG_LEVEL": "DEBUG",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    }
    stack = Stack.build(free_port(), settings, log_dir=tmp / "logs")
    try:
        stack.start()
        yield ProdHandle(stack, database, tmp / "logs", settings)
    finally:
        stack.stop()
        sandbox_server.state.deliverer.drain(5)
        RedisHuey(queue_name, url=REDIS_URL).flush()
        database.drop()
