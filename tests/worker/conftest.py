"""A real huey consumer in background threads, on SQLite and on Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from addon.jobs import jobs_for, start_consumer
from tests.platform.inbox.support import unique_queue_name

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", "redis"])
def queue_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_config(app_config: dict[str, Any], queue_backend: str) -> dict[str, Any]:
    config = dict(
        app_config,
        QUEUE_NAME=unique_queue_name(),
        INBOX_RETRY_BASE_SECONDS=1,
        INBOX_MAX_ATTEMPTS=3,
        INBOX_STALE_SECONDS=0,
    )
    if queue_backend == "redis":
        config["QUEUE_URL"] = REDIS_URL
    return config


@pytest.fixture
def webhook_tokens(install: Any) -> dict[str, str]:
    return install()["webhook_tokens"]


@pytest.fixture
def consumer(app: Flask, webhook_tokens: dict[str, str]) -> Iterator[Any]:
    """Two worker threads consuming the app's queue; stopped, and the queue emptied, after the test."""
    # INSTALLED queued the ASSIGNMENT webhook registration against a Clockify that does not exist here.
    jobs_for(app).huey.flush()
    consumer = start_consumer(app, workers=2, max_delay=0.2)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()
