"""Periodic work: reconciliation fans out one task per active installation; the schedules fire when due."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from addon.extensions import db
from addon.jobs import jobs_for
from addon.platform.models import Installation
from tests.conftest import OTHER_WORKSPACE_ID, WORKSPACE_ID
from tests.platform.inbox.support import forget_queue


def queued_names(app) -> list[str]:
    huey = jobs_for(app).huey
    return sorted(task.name for task in huey.pending())


def queued_args(app) -> list[tuple]:
    return sorted(task.args for task in jobs_for(app).huey.pending())


def test_reconciliation_queues_one_task_per_active_installation(app, install):
    install(WORKSPACE_ID)
    install(OTHER_WORKSPACE_ID, "addon-inst-0002")
    install("ws-paused-0003", "addon-inst-0003")
    with app.app_context():
        db.session.execute(
            sa.update(Installation).where(Installation.workspace_id == "ws-paused-0003").values(is_active=False)
        )
        db.session.commit()
    jobs_for(app).huey.flush()  # INSTALLED queued webhook registrations

    jobs_for(app).reconcile_all.call_local()

    assert queued_names(app) == ["reconcile_installation", "reconcile_installation"]
    assert queued_args(app) == sorted([(WORKSPACE_ID,), (OTHER_WORKSPACE_ID,)])
    jobs_for(app).huey.flush()


def test_installed_queues_the_assignment_webhook_registration(app, install):
    jobs_for(app).huey.flush()

    install(WORKSPACE_ID)

    assert [(t.name, t.args) for t in jobs_for(app).huey.pending()] == [("register_webhooks", (WORKSPACE_ID,))]
    jobs_for(app).huey.flush()


def test_reconciliation_is_due_every_configured_number_of_minutes(app):
    app.config["RECONCILE_MINUTES"] = 15
    forget_queue(app)
    reconcile = jobs_for(app).reconcile_all.task_class()
    sweep = jobs_for(app).sweep.task_class()

    due = [m for m in range(60) if reconcile.validate_datetime(datetime(2026, 11, 29, 10, m))]

    assert due == [0, 15, 30, 45]
    assert all(sweep.validate_datetime(datetime(2026, 11, 29, 10, m)) for m in range(60))
