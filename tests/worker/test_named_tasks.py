"""Tasks are queued by name; messages queued under the old `call("module:function")` form still run once."""

from __future__ import annotations

import logging

import pytest

from addon.jobs import LEGACY_TARGETS, jobs_for
from addon.queue import queue_for


def pending(app) -> list[tuple[str, tuple]]:
    return [(task.name, task.args) for task in jobs_for(app).huey.pending()]


def test_every_task_a_view_or_handler_names_is_registered(app):
    names = queue_for(app).names()
    assert {"process_inbox_events", "register_webhooks", "run_decision_job", "refresh_dashboard"} <= names
    with pytest.raises(LookupError):
        queue_for(app).task("no_such_task")


def test_enqueue_by_name_queues_that_task_with_its_arguments(app):
    jobs_for(app).huey.flush()
    assert queue_for(app).enqueue("refresh_dashboard", "ws-1", delay=0)
    assert queue_for(app).enqueue("run_decision_job", 7, delay=30)
    queued = {task.name: task for task in jobs_for(app).huey.pending()}
    assert sorted(queued) == ["refresh_dashboard", "run_decision_job"]
    assert queued["refresh_dashboard"].args == ("ws-1",) and queued["refresh_dashboard"].eta is None
    assert queued["run_decision_job"].args == (7,) and queued["run_decision_job"].eta is not None
    jobs_for(app).huey.flush()


@pytest.mark.parametrize("target", sorted(LEGACY_TARGETS))
def test_a_message_queued_under_an_old_target_runs_as_the_task_it_became(app, target):
    jobs_for(app).huey.flush()
    jobs_for(app).call.call_local(target, "ws-or-job-1")
    assert pending(app) == [(LEGACY_TARGETS[target], ("ws-or-job-1",))]
    jobs_for(app).huey.flush()


def test_a_message_under_an_unknown_target_is_dropped_and_logged(app, caplog):
    jobs_for(app).huey.flush()
    with caplog.at_level(logging.WARNING, logger="addon.jobs"):
        jobs_for(app).call.call_local("addon.gone:function", 1)
    assert pending(app) == []
    assert "addon.gone:function" in caplog.text
