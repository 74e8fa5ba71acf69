"""Finding M-6: a webhook token cannot fill the database: a size cap, a per-webhook rate, pruned inbox rows."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from addon.extensions import db, utcnow
from addon.jobs import jobs_for
from addon.platform.models import InboxEvent
from tests.platform.inbox.support import approval_body, deliver

NEW = "NEW_APPROVAL_REQUEST"


def _count(app) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(InboxEvent)) or 0)


def test_m6_a_delivery_larger_than_any_event_is_refused_and_not_stored(app, client, install):
    tokens = install()["webhook_tokens"]
    response = deliver(client, tokens[NEW], NEW, approval_body(padding="x" * 1_000_000))
    assert response.status_code == 413
    assert _count(app) == 0
    assert deliver(client, tokens[NEW], NEW, approval_body()).status_code == 202


def test_m6_one_webhook_token_is_rate_limited_and_others_are_not(app, client, install):
    app.config["WEBHOOK_RATE_PER_SECOND"] = 2.0  # a burst of 10
    app.extensions.pop("closeout_intake_limiter", None)
    tokens = install()["webhook_tokens"]
    answers = [deliver(client, tokens[NEW], NEW, approval_body(f"req-{n}")).status_code for n in range(20)]
    assert answers.count(202) <= 11 and answers[-1] == 429
    assert _count(app) == answers.count(202)
    other = "APPROVAL_REQUEST_STATUS_UPDATED"
    assert deliver(client, tokens[other], other, approval_body("req-x")).status_code == 202


def test_m6_processed_inbox_rows_are_pruned_by_the_sweep_after_the_retention(app, client, install):
    tokens = install()["webhook_tokens"]
    for n in range(3):
        deliver(client, tokens[NEW], NEW, approval_body(f"req-{n}"))
    with app.app_context():
        rows = db.session.scalars(sa.select(InboxEvent).order_by(InboxEvent.id)).all()
        old = utcnow() - timedelta(days=app.config["INBOX_RETENTION_DAYS"] + 1)
        rows[0].status, rows[0].processed_at = "done", old
        rows[1].status, rows[1].processed_at = "dead", old  # dead letters stay for an admin to retry
        db.session.commit()
    jobs_for(app).sweep.call_local()
    with app.app_context():
        left = {r.status for r in db.session.scalars(sa.select(InboxEvent))}
    assert _count(app) == 2 and "done" not in left
