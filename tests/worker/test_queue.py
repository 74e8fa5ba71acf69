"""The queue with a real consumer: on SQLite and on Redis, every event processed, and processed once."""

from __future__ import annotations

import sqlalchemy as sa

from addon.clockify.errors import TransportError
from addon.extensions import db
from addon.jobs import jobs_for, sweep_inbox
from addon.platform.models import InboxEvent
from addon.queue import inbox_relay
from tests.platform.inbox.support import (
    approval_body,
    count_effect,
    deliver,
    effects,
    forget_queue,
    inbox_rows,
    registered,
    wait_until,
)

NEW = "NEW_APPROVAL_REQUEST"


def statuses(app) -> list[str]:
    return [r.status for r in inbox_rows(app)]


def test_delivered_event_is_processed_by_the_worker(app, client, webhook_tokens, consumer):
    with registered(count_effect, NEW):
        response = deliver(client, webhook_tokens[NEW], NEW, approval_body())
        assert response.status_code == 202
        wait_until(lambda: statuses(app) == ["done"])

    assert len(effects(app)) == 1


def test_many_distinct_events_and_their_duplicates_are_each_processed_once(app, client, webhook_tokens, consumer):
    bodies = [approval_body(request_id=f"req-{n}") for n in range(20)]
    with registered(count_effect, NEW):
        for body in bodies + bodies[:5]:
            deliver(client, webhook_tokens[NEW], NEW, body)
        wait_until(lambda: statuses(app) == ["done"] * 20)

    assert sorted(e.detail["payload_id"] for e in effects(app)) == sorted(b["id"] for b in bodies)


def test_event_enqueued_many_times_is_processed_once(app, client, webhook_tokens, consumer):
    with registered(count_effect, NEW):
        deliver(client, webhook_tokens[NEW], NEW, approval_body())
        [stored] = inbox_rows(app)
        for _ in range(5):
            jobs_for(app).process_inbox_event(stored.id)
        wait_until(lambda: statuses(app) == ["done"])
        # Give the duplicate messages time to be consumed, then count.
        wait_until(lambda: len(jobs_for(app).huey) == 0)

    assert len(effects(app)) == 1


def test_transient_failure_is_retried_by_the_worker_after_its_backoff(app, client, webhook_tokens, consumer):
    calls = []

    def flaky(ctx):
        calls.append(ctx.inbox_id)
        if len(calls) == 1:
            raise TransportError("connect failed", method="GET", path="/v1/x", maybe_applied=False, timeout=False)
        count_effect(ctx)

    with registered(flaky, NEW):
        deliver(client, webhook_tokens[NEW], NEW, approval_body())
        wait_until(lambda: statuses(app) == ["done"], timeout=30)

    [done] = inbox_rows(app)
    assert done.attempts == 2
    assert len(calls) == 2
    assert len(effects(app)) == 1


def test_events_stored_while_the_queue_was_down_are_processed_after_the_sweep(
    app, client, webhook_tokens, consumer, queue_backend
):
    working = jobs_for(app)
    working_queue = app.extensions["closeout_queue"]
    real_url = app.config["QUEUE_URL"]
    # Nothing listens on port 1: the intake below cannot enqueue.
    app.config["QUEUE_URL"] = "redis://127.0.0.1:1/0"
    forget_queue(app)
    with registered(count_effect, NEW):
        for n in range(3):
            assert deliver(client, webhook_tokens[NEW], NEW, approval_body(request_id=f"r{n}")).status_code == 202
        assert inbox_relay(app).flush()  # the hand-over to the unreachable queue was tried, and failed
        assert statuses(app) == ["pending"] * 3

        app.config["QUEUE_URL"] = real_url
        app.extensions["closeout_jobs"] = working
        app.extensions["closeout_queue"] = working_queue
        assert len(sweep_inbox(working)) == 3
        wait_until(lambda: statuses(app) == ["done"] * 3)

    assert len(effects(app)) == 3


def test_sweep_leaves_events_the_worker_is_about_to_process(app, client, webhook_tokens, queue_backend):
    # No consumer: the message waits in the queue, and a fresh pending row is not "stale" yet.
    app.config["INBOX_STALE_SECONDS"] = 60
    jobs_for(app).huey.flush()  # the webhook registration INSTALLED queued
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    assert inbox_relay(app).flush()

    assert sweep_inbox(jobs_for(app)) == []
    assert len(jobs_for(app).huey) == 1
    jobs_for(app).huey.flush()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InboxEvent)) == 1


def test_worker_command_is_available(runner):
    result = runner.invoke(args=["worker", "--help"])

    assert result.exit_code == 0
    assert "inbox processing" in result.output
