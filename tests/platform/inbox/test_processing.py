"""Processing the inbox: one effect per distinct event, retries with backoff, dead letters, order tolerance."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from addon.clockify.errors import RateLimitedError, ServerError, TransportError
from addon.extensions import db, utcnow
from addon.jobs import jobs_for
from addon.platform import inbox
from addon.platform.models import AuditEntry, EntityVersion, InboxEvent, Installation
from tests.conftest import WORKSPACE_ID
from tests.platform.inbox.support import (
    apply_latest_approval_state,
    approval_body,
    count_effect,
    deliver,
    effects,
    inbox_rows,
    registered,
)

NEW = "NEW_APPROVAL_REQUEST"
UPDATED = "APPROVAL_REQUEST_STATUS_UPDATED"


@pytest.fixture
def app(app):
    # Small numbers so a test can walk an event through every attempt.
    app.config.update(INBOX_MAX_ATTEMPTS=3, INBOX_RETRY_BASE_SECONDS=10, INBOX_LEASE_SECONDS=60)
    return app


def process(app, inbox_id: int) -> str:
    """Run the processing task's body here, as the worker would (no queue involved)."""
    return jobs_for(app).process_inbox_event.call_local(inbox_id)


def row(app, inbox_id: int) -> InboxEvent:
    with app.app_context():
        event = db.session.get(InboxEvent, inbox_id)
        db.session.expunge_all()
        return event


def test_processed_event_runs_its_handlers_once_and_is_done(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)

    with registered(count_effect, NEW):
        outcome = process(app, stored.id)

    assert outcome == "done"
    done = row(app, stored.id)
    assert (done.status, done.attempts, done.last_error) == ("done", 1, None)
    assert done.processed_at is not None
    assert [e.subject_id for e in effects(app)] == [str(stored.id)]


def test_duplicate_delivery_has_one_effect(app, client, webhook_tokens):
    for _ in range(3):
        deliver(client, webhook_tokens[NEW], NEW, approval_body())

    with registered(count_effect, NEW):
        for stored in inbox_rows(app):
            process(app, stored.id)

    assert len(effects(app)) == 1


def test_event_enqueued_twice_is_processed_once(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)

    with registered(count_effect, NEW):
        outcomes = [process(app, stored.id), process(app, stored.id)]

    assert outcomes == ["done", "not claimed"]
    assert len(effects(app)) == 1


def test_status_update_arriving_before_the_creation_is_not_regressed(app, client, webhook_tokens):
    approved = approval_body(state="APPROVED", at="2026-11-02T12:00:00Z")
    created = approval_body(state="PENDING", at="2026-11-02T10:00:00Z")
    deliver(client, webhook_tokens[UPDATED], UPDATED, approved)
    deliver(client, webhook_tokens[NEW], NEW, created)

    with registered(apply_latest_approval_state, NEW, UPDATED):
        for stored in inbox_rows(app):
            assert process(app, stored.id) == "done"

    with app.app_context():
        version = db.session.scalar(sa.select(EntityVersion).filter_by(entity_id="req-1"))
        applied = db.session.scalars(sa.select(AuditEntry.detail).filter_by(action="test-applied")).all()
    assert version.state == "APPROVED"
    assert applied == [{"state": "APPROVED"}]


def test_older_update_after_a_newer_one_is_ignored(app, client, webhook_tokens):
    bodies = [
        approval_body(state="PENDING", at="2026-11-02T10:00:00Z"),
        approval_body(state="REJECTED", at="2026-11-02T12:00:00Z"),
        approval_body(state="APPROVED", at="2026-11-02T11:00:00Z"),  # late
    ]
    for body in bodies:
        deliver(client, webhook_tokens[UPDATED], UPDATED, body)

    with registered(apply_latest_approval_state, UPDATED):
        for stored in inbox_rows(app):
            process(app, stored.id)

    with app.app_context():
        version = db.session.scalar(sa.select(EntityVersion).filter_by(entity_id="req-1"))
        applied = db.session.scalars(
            sa.select(AuditEntry.detail).filter_by(action="test-applied").order_by(AuditEntry.id)
        ).all()
    assert version.state == "REJECTED"
    assert applied == [{"state": "PENDING"}, {"state": "REJECTED"}]


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connect failed", method="GET", path="/v1/x", maybe_applied=False, timeout=False),
        ServerError("bad gateway", method="GET", path="/v1/x", status=502),
        RateLimitedError("slow down", method="GET", path="/v1/x", status=429),
    ],
    ids=["transport", "server", "rate-limited"],
)
def test_transient_clockify_error_is_retried_with_growing_backoff_then_dead_lettered(
    app, client, webhook_tokens, error
):
    def failing(ctx):
        count_effect(ctx)  # written, then rolled back with the failed attempt
        raise error

    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)

    delays = []
    with registered(failing, NEW):
        for expected_attempt in (1, 2):
            assert process(app, stored.id) == "failed"
            failed = row(app, stored.id)
            assert (failed.status, failed.attempts) == ("failed", expected_attempt)
            assert type(error).__name__ in failed.last_error
            delays.append((failed.next_attempt_at - utcnow()).total_seconds())
            # Not due yet: a duplicate enqueue must not jump the backoff.
            assert process(app, stored.id) == "not claimed"
            with app.app_context():
                db.session.execute(sa.update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
                db.session.commit()
        assert process(app, stored.id) == "dead"

    dead = row(app, stored.id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert 8 < delays[0] <= 10 and 18 < delays[1] <= 20
    assert effects(app) == []


def test_rate_limited_retry_waits_at_least_retry_after(app, client, webhook_tokens):
    def limited(ctx):
        raise RateLimitedError("slow down", retry_after=120, method="GET", path="/v1/x", status=429)

    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    with registered(limited, NEW):
        process(app, stored.id)

    wait = (row(app, stored.id).next_attempt_at - utcnow()).total_seconds()
    assert 110 < wait <= 120


def test_error_that_retrying_cannot_fix_is_dead_lettered_at_once(app, client, webhook_tokens):
    def broken(ctx):
        raise KeyError("dateRange")

    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    with registered(broken, NEW):
        assert process(app, stored.id) == "dead"

    dead = row(app, stored.id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert dead.last_error.startswith("KeyError")


def test_dead_letter_retried_by_an_admin_is_processed_again(app, client, webhook_tokens):
    def broken(ctx):
        raise ValueError("bug")

    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    with registered(broken, NEW):
        process(app, stored.id)

    with app.app_context():
        assert inbox.retry_dead("another-workspace", stored.id) is False
        assert inbox.retry_dead(WORKSPACE_ID, stored.id) is True
        db.session.commit()
    with registered(count_effect, NEW):
        assert process(app, stored.id) == "done"

    assert row(app, stored.id).status == "done"
    assert len(effects(app)) == 1


def test_event_of_a_paused_installation_is_skipped_without_running_handlers(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    with app.app_context():
        db.session.execute(sa.update(Installation).values(is_active=False))
        db.session.commit()

    with registered(count_effect, NEW):
        assert process(app, stored.id) == "skipped"

    assert row(app, stored.id).status == "skipped"
    assert effects(app) == []


def test_claim_abandoned_by_a_dead_worker_is_recovered_and_its_late_outcome_discarded(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    policy = inbox.RetryPolicy.from_config(app.config)
    with app.app_context():
        claimed = inbox.claim(stored.id, now=utcnow() - timedelta(seconds=120))
        first_attempt = claimed.attempts
        db.session.commit()
        assert inbox.recover(policy) == [stored.id]
        db.session.commit()

    with registered(count_effect, NEW):
        assert process(app, stored.id) == "done"
    with app.app_context():
        # The dead worker's outcome, had it woken up, no longer matches the claim.
        assert inbox.complete(stored.id, first_attempt) is False

    assert (row(app, stored.id).status, row(app, stored.id).attempts) == ("done", 2)
    assert len(effects(app)) == 1


def test_recovery_finds_stale_pending_events_but_not_fresh_ones(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body(id="old"))
    deliver(client, webhook_tokens[NEW], NEW, approval_body(id="new"))
    old, _fresh = inbox_rows(app)
    policy = inbox.RetryPolicy.from_config(app.config)
    with app.app_context():
        db.session.execute(
            sa.update(InboxEvent).where(InboxEvent.id == old.id).values(received_at=utcnow() - timedelta(minutes=5))
        )
        db.session.commit()
        assert inbox.recover(policy) == [old.id]


def test_abandoned_claim_on_its_last_attempt_is_dead_lettered(app, client, webhook_tokens):
    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    policy = inbox.RetryPolicy.from_config(app.config)
    with app.app_context():
        db.session.execute(
            sa.update(InboxEvent).values(status="processing", attempts=3, claimed_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
        assert inbox.recover(policy) == []
        db.session.commit()

    dead = row(app, stored.id)
    assert (dead.status, dead.last_error) == ("dead", "worker stopped while processing")


def test_a_concurrent_writer_winning_a_unique_key_is_retried_not_dead_lettered(app, client, webhook_tokens):
    def raced(ctx):
        raise sa.exc.IntegrityError("INSERT …", {}, Exception("duplicate key value violates unique constraint"))

    deliver(client, webhook_tokens[NEW], NEW, approval_body())
    [stored] = inbox_rows(app)
    with registered(raced, NEW):
        assert process(app, stored.id) == "failed"

    assert row(app, stored.id).status == "failed"
