"""The worker: named huey tasks for inbox processing, reconciliation, decisions and refreshes, and the sweep.

Tasks are registered by name on the app's queue (`queue.py`), which is all the web process sees. Every task
body runs in an app context and commits; work a handler or sweeper asks for (`FollowUp`) is queued only after
that commit, so a follow-up never runs against data that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import click
from flask import Flask
from huey import Huey
from huey.api import TaskWrapper
from huey.consumer import Consumer

from . import handlers, logs
from .approvals import mirror
from .approvals.decisions import DECISION_TASK, run_decision_job
from .approvals.handlers import SYNC_TASK as REQUEST_SYNC_TASK
from .approvals.handlers import sync_request
from .approvals.models import DecisionJob
from .billing.handlers import (
    OVERDUE_TASK,
    RECURRING_TASK,
    mark_overdue_invoices,
    run_recurring_invoices,
    workspace_today,
)
from .billing.invoicing import INVOICE_TASK, RetryLater, run_invoice_job
from .billing.models import InvoiceJob
from .dashboard.handlers import REFRESH_TASK, refresh_dashboard
from .extensions import db, once_per_app
from .metrics import observe_tasks
from .platform import audit, inbox, reconcile, webhook_registration
from .platform.clients import clients_for
from .platform.events import FollowUp
from .platform.installations import GO, JobStopped, StepGuard, active_installations, prune_used_tokens
from .platform.models import Installation
from .queue import PROCESS_INBOX_EVENTS, RESUME_WORKSPACE, TASK_REGISTRAR, queue_for
from .scheduling.models import ScheduleJob
from .scheduling.publish import JOB_TASK as SCHEDULE_TASK
from .scheduling.publish import run_schedule_job
from .tokens import verifier_for
from .workspace import preferences

T = TypeVar("T")
log = logging.getLogger(__name__)

SWEEP_EVERY_MINUTES = 1
# The daily overdue run, in UTC (huey checks periodic tasks once a minute).
OVERDUE_AT = (6, 0)
# The daily recurring-invoice run, in UTC, after the overdue run: each workspace bills on its own calendar.
RECURRING_AT = (6, 5)

# Messages queued before tasks had names carried a Python path for the generic `call` task. Each still
# runs once, as the named task it became; anything else under `call` is logged and dropped.
LEGACY_TARGETS = {
    "addon.services.approvals:run_decision_job": DECISION_TASK,
    "addon.services.dashboard:refresh_job": REFRESH_TASK,
}


@dataclass
class Jobs:
    """One app's queue and the tasks registered on it (the web process enqueues, the worker runs them)."""

    app: Flask
    huey: Huey
    process_inbox_event: TaskWrapper
    process_inbox_events: TaskWrapper
    reconcile_installation: TaskWrapper
    register_webhooks: TaskWrapper
    sync_approval_period: TaskWrapper
    run_decision_job: TaskWrapper
    sync_approval_request: TaskWrapper
    refresh_dashboard: TaskWrapper
    run_invoice_job: TaskWrapper
    mark_overdue_invoices: TaskWrapper
    run_schedule_job: TaskWrapper
    run_recurring_invoices: TaskWrapper
    resume_workspace: TaskWrapper
    call: TaskWrapper
    reconcile_all: TaskWrapper
    sweep: TaskWrapper

    def enqueue(self, follow_ups: Iterable[FollowUp]) -> None:
        """Queue follow-ups by task name (after the commit that made them); a queue outage is logged, and
        the sweep or reconciliation catches up."""
        queue = queue_for(self.app)
        for follow_up in follow_ups:
            queue.enqueue(follow_up.task, *follow_up.args, delay=follow_up.delay)


def jobs_for(app: Flask) -> Jobs:
    """The app's Jobs, registered on its queue on first use (never at import)."""
    return once_per_app(app, "closeout_jobs", _build)


def _build(app: Flask) -> Jobs:
    queue = queue_for(app)
    huey = queue.huey
    observe_tasks(huey)  # jobs by name and outcome (/metrics), one log line per run
    reconcile_minutes = max(1, int(app.config["RECONCILE_MINUTES"]))

    def every(minutes: int) -> Callable[[datetime], bool]:
        # huey checks periodic tasks once a minute; any interval in minutes, not only divisors of 60.
        return lambda dt: (dt.hour * 60 + dt.minute) % minutes == 0

    @huey.task(name="process_inbox_event")
    def process_inbox_event(inbox_id: int) -> str:
        return _process_inbox_event(jobs, inbox_id)

    @huey.task(name=PROCESS_INBOX_EVENTS)
    def process_inbox_events(inbox_ids: list[int]) -> list[str]:
        return [_process_inbox_event(jobs, inbox_id) for inbox_id in inbox_ids]

    @huey.task(name="reconcile_installation")
    def reconcile_installation(workspace_id: str) -> dict[str, str]:
        return _reconcile_installation(app, workspace_id)

    @huey.task(name="register_webhooks", retries=3, retry_delay=60)
    def register_webhooks(workspace_id: str) -> int:
        return _register_webhooks(app, workspace_id)

    @huey.task(name=mirror.PERIOD_SYNC_TASK, retries=1, retry_delay=30)
    def sync_approval_period(workspace_id: str, period_start: str) -> int:
        return _sync_approval_period(app, workspace_id, period_start)

    @huey.task(name=DECISION_TASK, retries=3, retry_delay=30)
    def decision_job(job_id: int) -> None:
        pace = float(app.config.get("APPROVAL_JOB_PACE_SECONDS", 0) or 0)
        _in_transaction(
            app,
            lambda: run_decision_job(job_id, clients_for(app), verifier_for(app), pace=pace),
            gone=lambda: db.session.get(DecisionJob, job_id) is None,
        )

    @huey.task(name=REQUEST_SYNC_TASK, retries=3, retry_delay=30)
    def approval_sync(workspace_id: str, request_id: str, period_start: str, event_type: str) -> None:
        clients = clients_for(app)
        _in_transaction(
            app,
            lambda: sync_request(workspace_id, request_id, period_start, event_type, clients.for_job),
            workspace_id=workspace_id,
        )

    @huey.task(name=REFRESH_TASK, retries=3, retry_delay=30)
    def dashboard_refresh(workspace_id: str) -> None:
        clients = clients_for(app)
        _in_transaction(app, lambda: refresh_dashboard(workspace_id, clients.for_job), workspace_id=workspace_id)

    # A Clockify failure worth retrying is retried here; the minute sweep re-queues a job these exhaust.
    @huey.task(name=INVOICE_TASK, retries=5, retry_delay=float(app.config.get("INVOICE_RETRY_SECONDS", 20)))
    def invoice_job(job_id: int) -> str:
        return _run_invoice_job(app, job_id)

    def daily(name: str, at: tuple[int, int], body: Callable[[str], int]) -> TaskWrapper:
        """A per-workspace task, and a periodic one queueing it for every active workspace at `at` (UTC)."""
        task = huey.task(name=name, retries=2, retry_delay=300)(body)

        @huey.periodic_task(lambda dt: (dt.hour, dt.minute) == at, name=f"{name}_all")
        def every_workspace() -> None:
            for workspace_id in _active_workspace_ids(app):
                task(workspace_id)

        return task

    overdue_invoices = daily(OVERDUE_TASK, OVERDUE_AT, lambda workspace_id: _mark_overdue(app, workspace_id))
    recurring_invoices = daily(RECURRING_TASK, RECURRING_AT, lambda workspace_id: _run_recurring(app, workspace_id))

    @huey.task(name=SCHEDULE_TASK, retries=3, retry_delay=30)
    def schedule_job(job_id: int) -> None:
        pace = float(app.config.get("SCHEDULE_JOB_PACE_SECONDS", 0) or 0)
        _in_transaction(
            app,
            lambda: run_schedule_job(job_id, clients_for(app), verifier_for(app), pace=pace),
            gone=lambda: db.session.get(ScheduleJob, job_id) is None,
        )

    @huey.task(name=RESUME_WORKSPACE)
    def resume_workspace(workspace_id: str) -> int:
        return _resume_workspace(jobs, workspace_id)

    @huey.task(name="call")
    def call(target: str, *args: Any) -> None:
        name = LEGACY_TARGETS.get(target)
        if name is None:
            log.warning("dropped a queued call to %s: no task has that name", target)
            return
        queue.task(name)(*args)

    @huey.periodic_task(every(reconcile_minutes), name="reconcile_all")
    def reconcile_all() -> None:
        _reconcile_all(jobs)

    @huey.periodic_task(every(SWEEP_EVERY_MINUTES), name="sweep")
    def sweep() -> None:
        sweep_inbox(jobs)
        run_sweepers(jobs)
        prune_kept_rows(jobs)

    jobs = Jobs(
        app=app,
        huey=huey,
        process_inbox_event=process_inbox_event,
        process_inbox_events=process_inbox_events,
        reconcile_installation=reconcile_installation,
        register_webhooks=register_webhooks,
        sync_approval_period=sync_approval_period,
        run_decision_job=decision_job,
        sync_approval_request=approval_sync,
        refresh_dashboard=dashboard_refresh,
        run_invoice_job=invoice_job,
        mark_overdue_invoices=overdue_invoices,
        run_schedule_job=schedule_job,
        run_recurring_invoices=recurring_invoices,
        resume_workspace=resume_workspace,
        call=call,
        reconcile_all=reconcile_all,
        sweep=sweep,
    )
    queue.tasks.update(
        {
            "process_inbox_event": process_inbox_event,
            PROCESS_INBOX_EVENTS: process_inbox_events,
            "reconcile_installation": reconcile_installation,
            "register_webhooks": register_webhooks,
            mirror.PERIOD_SYNC_TASK: sync_approval_period,
            DECISION_TASK: decision_job,
            REQUEST_SYNC_TASK: approval_sync,
            REFRESH_TASK: dashboard_refresh,
            INVOICE_TASK: invoice_job,
            OVERDUE_TASK: overdue_invoices,
            SCHEDULE_TASK: schedule_job,
            RECURRING_TASK: recurring_invoices,
            RESUME_WORKSPACE: resume_workspace,
        }
    )
    return jobs


# --- Task bodies (run in the worker) ---


def _in_transaction(
    app: Flask, body: Callable[[], Any], *, workspace_id: str | None = None, gone: Callable[[], bool] | None = None
) -> Any:
    """Run a task body and commit; a body that found Closeout paused or removed (JobStopped), or that failed
    because DELETED took its rows (`gone()`), ends quietly: no exception, so huey does not retry it.

    With `workspace_id`, the commit is made only while the workspace is still installed (StepGuard).
    """
    with app.app_context():
        try:
            result = body()
            if workspace_id is not None:
                StepGuard(workspace_id).commit()
            else:
                db.session.commit()
            return result
        except JobStopped as stop:
            db.session.rollback()
            log.info("task for workspace %s stopped: Closeout is %s there", stop.workspace_id, stop.state)
            return None
        except Exception as exc:
            db.session.rollback()
            if gone is not None and _quietly(gone):
                log.info("a task's rows were removed with their workspace while it ran; it ends here")
                return None
            if workspace_id is not None:
                try:
                    # Clockify refuses a paused add-on or a removed one's token a little before its
                    # STATUS_CHANGED or DELETED arrives: a 401/403 waits briefly for it (ACTIVE reconciles).
                    StepGuard(workspace_id).stopped_by(exc)
                except JobStopped:
                    log.info("a task for workspace %s ends: Closeout was paused or removed while it ran", workspace_id)
                    return None
            raise  # huey retries the task
        finally:
            db.session.remove()


def _quietly(gone: Callable[[], bool]) -> bool:
    try:
        return gone()
    except Exception:
        db.session.rollback()
        return False


def _run_invoice_job(app: Flask, job_id: int) -> str:
    with app.app_context():
        try:
            return run_invoice_job(job_id, clients_for(app), verifier_for(app))
        except RetryLater:
            raise  # recorded on the job already; huey retries the task
        except JobStopped:
            db.session.rollback()
            return "stopped"
        except Exception:
            db.session.rollback()
            if _quietly(lambda: db.session.get(InvoiceJob, job_id) is None):
                return "removed"
            raise
        finally:
            db.session.remove()


def _resume_workspace(jobs: Jobs, workspace_id: str) -> int:
    """STATUS_CHANGED ACTIVE: queue the jobs every capability's pause held (handlers.RESUMERS), then a
    reconciliation for what was not delivered while paused."""
    follow_ups: list[FollowUp] = []
    with jobs.app.app_context():
        try:
            if _active_installation(workspace_id) is None:
                return 0
            for name, resumer in handlers.RESUMERS:
                try:
                    follow_ups.extend(resumer(workspace_id))
                    db.session.commit()
                except Exception as exc:
                    db.session.rollback()
                    log.warning("resuming %s for %s failed (%s)", name, workspace_id, type(exc).__name__)
        finally:
            db.session.remove()
    jobs.enqueue(follow_ups)
    delay = float(jobs.app.config.get("RESUME_RECONCILE_DELAY_SECONDS", 0) or 0)
    jobs.enqueue([FollowUp("reconcile_installation", (workspace_id,), delay=delay)])
    if follow_ups:
        log.info("workspace %s is active again: %d paused jobs queued", workspace_id, len(follow_ups))
    return len(follow_ups)


def _mark_overdue(app: Flask, workspace_id: str, *, force: bool = False) -> int:
    """One workspace's overdue run with the installation's token (automation, not a person's action)."""

    def body(installation: Installation, client: Any, guard: StepGuard) -> int:
        changed = mark_overdue_invoices(installation, client, force=force)
        guard.commit()
        return changed

    return _with_installation(app, workspace_id, body, 0)


def _run_recurring(app: Flask, workspace_id: str, today: date | None = None) -> int:
    """One workspace's recurring run on its own calendar; its steps commit as they go, so a failure here is
    resumed by the task's retry or the next daily run."""

    def body(installation: Installation, client: Any, guard: StepGuard) -> int:
        made = run_recurring_invoices(installation, client, today or workspace_today(workspace_id, client))
        guard.commit()
        return made

    return _with_installation(app, workspace_id, body, 0)


def _active_workspace_ids(app: Flask) -> list[str]:
    with app.app_context():
        try:
            return [i.workspace_id for i in active_installations()]
        finally:
            db.session.remove()


def _process_inbox_event(jobs: Jobs, inbox_id: int) -> str:
    app = jobs.app
    bound = None
    with app.app_context():
        try:
            policy = inbox.RetryPolicy.from_config(app.config)
            event = inbox.claim(inbox_id)
            db.session.commit()
            if event is None:
                return "not claimed"
            attempts, workspace_id, event_type = event.attempts, event.workspace_id, event.event_type
            bound = logs.bind(workspace_id=workspace_id, event_type=event_type)  # on every line this event logs
            installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
            if installation is None or not installation.is_active:
                inbox.skip(inbox_id, attempts, "Closeout is paused or removed on this workspace")
                db.session.commit()
                return "skipped"
            client = _LazyClient(app, installation)
            try:
                ctx = inbox.dispatch(event, installation, client, handlers.handlers_for(event_type), app.config)
                if not inbox.complete(inbox_id, attempts):
                    db.session.rollback()
                    log.warning("inbox event %s was re-claimed after its lease; this run's writes are undone", inbox_id)
                    return "claim lost"
                db.session.commit()
                jobs.enqueue(ctx.follow_ups)
                return "done"
            except Exception as exc:
                db.session.rollback()
                delay = inbox.fail(inbox_id, attempts, exc, policy)
                db.session.commit()
                log.warning(
                    "%s for workspace %s failed (attempt %d): %s; %s",
                    event_type,
                    workspace_id,
                    attempts,
                    # The class only: a handler's message can echo parts of the webhook body.
                    type(exc).__name__,
                    f"retry in {delay:.0f}s" if delay is not None else "dead-lettered",
                )
                if delay is None:
                    return "dead"
                try:
                    jobs.process_inbox_event.schedule(args=(inbox_id,), delay=delay)
                except Exception as queue_exc:
                    log.warning(
                        "could not schedule retry of %s (%s); the sweep will", inbox_id, type(queue_exc).__name__
                    )
                return "failed"
            finally:
                client.close()
        finally:
            db.session.remove()
            if bound is not None:
                logs.unbind(bound)


class _LazyClient:
    """The installation's Clockify client, built on a handler's first call (most need none)."""

    def __init__(self, app: Flask, installation: Installation) -> None:
        self._app = app
        self._installation = installation
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            self._client = clients_for(self._app).for_installation(self._installation)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def sweep_inbox(jobs: Jobs) -> list[int]:
    """Re-enqueue events whose queue message was lost (queue down at intake, dead worker, lost retry)."""
    with jobs.app.app_context():
        try:
            ids = inbox.recover(inbox.RetryPolicy.from_config(jobs.app.config))
            db.session.commit()
        finally:
            db.session.remove()
    for inbox_id in ids:
        jobs.process_inbox_event(inbox_id)
    if ids:
        log.info("sweep re-enqueued %d inbox events", len(ids))
    return ids


def prune_kept_rows(jobs: Jobs) -> None:
    """Processed inbox rows past INBOX_RETENTION_DAYS, audit entries past AUDIT_RETENTION_DAYS (a bounded
    batch of each per sweep), and used lifecycle tokens that have expired."""
    with jobs.app.app_context():
        try:
            pruned = inbox.prune(float(jobs.app.config.get("INBOX_RETENTION_DAYS", 14)))
            pruned += audit.prune(float(jobs.app.config.get("AUDIT_RETENTION_DAYS", 0) or 0))
            pruned += prune_used_tokens()
            db.session.commit()
            if pruned:
                log.info("sweep pruned %d inbox rows, audit entries and expired lifecycle tokens", pruned)
        except Exception as exc:
            db.session.rollback()
            log.warning("pruning failed (%s)", type(exc).__name__)
        finally:
            db.session.remove()


def run_sweepers(jobs: Jobs) -> None:
    """The capabilities' own catch-up checks (handlers.SWEEPERS); one failing never stops the others."""
    for name, fn in handlers.SWEEPERS:
        follow_ups: list[FollowUp] = []
        with jobs.app.app_context():
            try:
                follow_ups = list(fn() or ())
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                log.warning("sweeper %s failed (%s)", name, type(exc).__name__)
            finally:
                db.session.remove()
        jobs.enqueue(follow_ups)


def _reconcile_all(jobs: Jobs) -> None:
    with jobs.app.app_context():
        try:
            workspace_ids = [i.workspace_id for i in active_installations()]
        finally:
            db.session.remove()
    # One task per installation: a slow or failing workspace never holds up the others.
    for workspace_id in workspace_ids:
        jobs.reconcile_installation(workspace_id)


def _reconcile_installation(app: Flask, workspace_id: str) -> dict[str, str]:
    with app.app_context():
        try:
            installation = _active_installation(workspace_id)
            if installation is None:
                return {}
            guard = StepGuard.of(installation)
            client = clients_for(app).for_job(installation, guard)

            def checkpoint(ok: bool) -> None:
                if ok:
                    guard.commit()  # nothing written for a workspace removed meanwhile
                else:
                    db.session.rollback()

            try:
                return reconcile.run(
                    installation,
                    client,
                    app.config["ADDON_BASE_URL"],
                    checkpoint,
                    handlers.RECONCILERS,
                    stopped=lambda: guard.state() != GO,
                )
            finally:
                client.close()
        finally:
            db.session.remove()


def _register_webhooks(app: Flask, workspace_id: str) -> int:
    def register(installation: Installation, client: Any, guard: StepGuard) -> int:
        changes = webhook_registration.ensure_registered(installation, client, app.config["ADDON_BASE_URL"])
        guard.commit()
        return len(changes)

    # On failure huey retries the task; reconciliation is the backstop after that.
    return _with_installation(app, workspace_id, register, 0)


def _sync_approval_period(app: Flask, workspace_id: str, period_start: str) -> int:
    """A repeat open of the approvals tab was served from the mirror: read the period again behind it."""
    start = date.fromisoformat(period_start)

    def sync(_installation: Installation, client: Any, guard: StepGuard) -> int:
        stored = mirror.sync_period(workspace_id, client, start)
        guard.commit()
        preferences.note_read(workspace_id, mirror.read_scope(start))
        return stored

    return _with_installation(app, workspace_id, sync, 0)


def _with_installation(
    app: Flask, workspace_id: str, body: Callable[[Installation, Any, StepGuard], T], default: T
) -> T:
    """Run `body(installation, client, guard)` for an active installation (else `default`), its client checking
    the installation before every call; a pause or removal meanwhile ends it quietly with `default`. The body
    commits through `guard.commit()`, which writes nothing for a workspace removed meanwhile."""
    with app.app_context():
        try:
            installation = _active_installation(workspace_id)
            if installation is None:
                return default
            guard = StepGuard.of(installation)
            client = clients_for(app).for_job(installation, guard)
            try:
                return body(installation, client, guard)
            except JobStopped as stop:
                # Paused: ACTIVE resumes or reconciles; removed: nothing is left to do, with no call made.
                db.session.rollback()
                log.info("a task for %s stopped: Closeout is %s there", workspace_id, stop.state)
                return default
            except Exception as exc:
                db.session.rollback()
                try:
                    # A 401/403 may come a moment before the STATUS_CHANGED or DELETED that explains it.
                    guard.stopped_by(exc)
                except JobStopped:
                    log.info("a task for %s ends: Closeout was paused or removed there meanwhile", workspace_id)
                    return default
                raise  # huey retries the task; reconciliation is the backstop after that
            finally:
                client.close()
        finally:
            db.session.remove()


def _active_installation(workspace_id: str) -> Installation | None:
    installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
    return installation if installation is not None and installation.is_active else None


# --- Running the consumer ---


class EmbeddedConsumer(Consumer):
    """A huey consumer whose threads run inside another process (tests, `make run`): no signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass


def start_consumer(app: Flask, workers: int = 1, periodic: bool = False, max_delay: float = 1.0) -> Consumer:
    """Start a consumer for the app's queue in background threads; stop it with `.stop(graceful=True)`.

    `max_delay` caps how long an idle worker waits between polls of a SQLite queue (Redis blocks instead).
    """
    consumer = EmbeddedConsumer(
        jobs_for(app).huey,
        workers=workers,
        worker_type="thread",
        periodic=periodic,
        check_worker_health=False,
        max_delay=max_delay,
    )
    consumer.start()
    return consumer


def init_app(app: Flask) -> None:
    """Make the named tasks known to the app's queue, and register `flask --app addon worker`."""
    app.extensions[TASK_REGISTRAR] = lambda: jobs_for(app)

    @app.cli.group("billing")
    def billing() -> None:
        """Billing: invoices of approved time, receivables, overdue automation, recurring invoices."""

    @billing.command("overdue")
    @click.option("--workspace", "workspace_ids", multiple=True, help="Only this workspace (repeatable).")
    def overdue_command(workspace_ids: tuple[str, ...]) -> None:
        """Mark sent and partly paid invoices past their due date OVERDUE now (every active workspace)."""
        for workspace_id in workspace_ids or tuple(_active_workspace_ids(app)):
            changed = _mark_overdue(app, workspace_id, force=bool(workspace_ids))
            click.echo(f"{workspace_id}: {changed} invoice(s) marked overdue")

    @billing.command("recurring")
    @click.option("--workspace", "workspace_ids", multiple=True, help="Only this workspace (repeatable).")
    @click.option("--date", "on", default=None, help="Run as if today were this day (YYYY-MM-DD).")
    def recurring_command(workspace_ids: tuple[str, ...], on: str | None) -> None:
        """Make this month's due recurring invoices now, and finish unfinished ones (every active workspace)."""
        try:
            today = date.fromisoformat(on) if on else None
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from None
        for workspace_id in workspace_ids or tuple(_active_workspace_ids(app)):
            made = _run_recurring(app, workspace_id, today)
            click.echo(f"{workspace_id}: {made} recurring invoice(s) made")

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Worker threads.")
    @click.option("--periodic/--no-periodic", default=True, show_default=True, help="Run reconciliation and sweeps.")
    def worker(workers: int, periodic: bool) -> None:
        """Run the background worker: inbox processing, reconciliation and the recovery sweep."""
        jobs = jobs_for(app)
        # Catch up at once on what a previous worker left behind, rather than at the next minute.
        sweep_inbox(jobs)
        consumer = jobs.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=periodic, check_worker_health=True
        )
        consumer.run()
