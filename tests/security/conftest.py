"""Fixtures for the security tests: Closeout installed on the sandbox, callers of every role, a forger."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from addon.extensions import db
from addon.jobs import jobs_for
from addon.manifest import component_paths, webhook_paths
from addon.platform.models import InboxEvent
from tests.approvals.test_tab_http import held, poll, worker

__all__ = ["held", "poll", "worker"]

TAB = component_paths()["approvals.tab"]


@pytest.fixture
def as_user(client: Any, user_token: Callable[..., str], installed: Any) -> Callable[..., Any]:
    """as_user(role, **token_options)(method, path, **kw): an htmx call to the approvals tab with that token."""

    def role(name: str = "OWNER", **options: Any) -> Any:
        token = user_token(name, **options)

        def call(method: str, path: str, **kwargs: Any) -> Any:
            headers = {"HX-Request": "true", "X-Addon-Token": token, **kwargs.pop("headers", {})}
            return client.open(TAB + path, method=method, headers=headers, **kwargs)

        call.token = token  # type: ignore[attr-defined]
        return call

    return role


def stored_webhook_token(sandbox: Any, workspace_id: str, event: str) -> str:
    """A webhook's token as any user of the installation can list it through the sandbox's API."""
    with sandbox.world.lock:
        hooks = sandbox.world.installations[workspace_id].webhooks
        return str(next(h["token"] for h in hooks if h["event"] == event))


@pytest.fixture
def forge(client: Any, sandbox: Any, installed: Any) -> Callable[..., Any]:
    """forge(event, payload): a delivery signed with the webhook's genuine token but a body of our choosing."""

    def send(event: str, payload: dict[str, Any]) -> Any:
        token = stored_webhook_token(sandbox, installed.workspace_id, event)
        headers = {"Clockify-Signature": token, "Clockify-Webhook-Event-Type": event}
        return client.post(webhook_paths()[event], json=payload, headers=headers)

    return send


def settled(app: Any, sandbox: Any, timeout: float = 20.0) -> None:
    """Wait until the sandbox has delivered, the inbox is processed and the worker's queue is empty."""
    sandbox.drain()

    def idle() -> bool:
        with app.app_context():
            busy = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.status.in_(("pending", "processing")))
            )
            db.session.remove()
        return not busy and len(jobs_for(app).huey) == 0

    poll(idle, timeout)
    time.sleep(0.5)  # a task taken off the queue may still be running
