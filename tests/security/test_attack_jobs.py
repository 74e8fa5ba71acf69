"""Rule 6 (findings L-1, L-2): every job kind re-checks the installation before each step. DELETED during a
job ends it with no further Clockify call, no exception, no requeue and no row left; a pause holds it with no
further call, and STATUS_CHANGED ACTIVE makes it go on. Each case runs in Closeout's worker against the
sandbox, with the job's first call slowed so the lifecycle call lands while it is in flight."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from addon.approvals.models import DecisionItem, DecisionJob
from addon.billing.models import InvoiceJob
from addon.extensions import db
from addon.jobs import jobs_for, start_consumer
from addon.platform.installations import workspace_tables
from addon.scheduling.models import ScheduleJob
from sandbox.wire import parse_instant

from .attack import record
from .conftest import held, poll

pytestmark = pytest.mark.sandbox

WS = "/api/v1/workspaces/*"
SLOW_MS = 500


@dataclass
class Kind:
    name: str
    fault: dict[str, Any]  # the call slowed: the lifecycle call lands while it is in flight
    start: Callable[[Any], Any]  # queues the job; returns its row id (or None for a task without a row)
    model: Any = None  # the job's table, for kinds that keep one


def _tab(ctx: Any, path: str, method: str = "GET", **kwargs: Any) -> Any:
    headers = {"HX-Request": "true", "X-Addon-Token": ctx.token}
    response = ctx.client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)


def _monday() -> Any:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def start_decisions(ctx: Any) -> int:
    _tab(ctx, "/components/approvals/queue?refresh=1")
    pending = [r["id"] for r in held(ctx.sandbox, ctx.ws).values() if r["state"] == "PENDING"][:4]
    assert len(pending) >= 3
    html = _tab(ctx, "/components/approvals/decisions", "POST", data={"action": "approve", "ids": pending})
    return int(html.split('data-job="', 1)[1].split('"', 1)[0])


def start_sync(ctx: Any) -> None:
    request = next(iter(held(ctx.sandbox, ctx.ws).values()))
    jobs_for(ctx.app).sync_approval_request(
        ctx.ws, request["id"], request["start"].date().isoformat(), "APPROVAL_REQUEST_STATUS_UPDATED"
    )


def start_invoice(ctx: Any) -> int:
    from tests.billing.conftest import Raw
    from tests.billing.test_invoice_http import biggest_client, confirm, digest_of, job_id_of, preview

    call = ctx.call("/components/invoices")
    client_id = biggest_client(Raw(ctx.sandbox, ctx.ws))
    return job_id_of(confirm(call, client_id, digest_of(preview(call, client_id))))


def start_publish(ctx: Any) -> int:
    week = _monday() + timedelta(days=7)
    form = {"first": str(week), "last": str(week + timedelta(days=20))}  # three weeks: three calls
    html = _tab(ctx, "/components/schedule/publish", "POST", data=form)
    return int(re.search(r'data-job="(\d+)"', html).group(1))


def start_copy(ctx: Any) -> int:
    week = _monday()
    with ctx.sandbox.world.lock:
        space = ctx.sandbox.world.workspaces[ctx.ws]
        person = next(a["userId"] for a in space.assignments.values() if a["start"] == week)
        for a in [a for a in space.assignments.values() if a["userId"] == person and a["start"] > week]:
            del space.assignments[a["id"]]
    form = {"week": str(week), "weeks": "3", "users": person, "allow_overbooking": "1"}
    html = _tab(ctx, "/components/schedule/copy", "POST", data=form)
    return int(re.search(r'data-job="(\d+)"', html).group(1))


def start_refresh(ctx: Any) -> None:
    jobs_for(ctx.app).refresh_dashboard(ctx.ws)


def start_registration(ctx: Any) -> None:
    jobs_for(ctx.app).register_webhooks(ctx.ws)


def start_reconcile(ctx: Any) -> None:
    jobs_for(ctx.app).reconcile_installation(ctx.ws)


KINDS = [
    Kind("approval decisions", {"pattern": f"{WS}/approval-requests/*", "methods": ["PATCH"]}, start_decisions,
         DecisionJob),
    Kind("approval sync", {"pattern": f"{WS}/approval-requests", "methods": ["GET"]}, start_sync),
    Kind("invoice", {"pattern": f"{WS}/invoices", "methods": ["POST"]}, start_invoice, InvoiceJob),
    Kind("schedule publish", {"pattern": f"{WS}/scheduling/assignments/publish", "methods": ["PUT"]},
         start_publish, ScheduleJob),
    Kind("schedule copy", {"pattern": f"{WS}/scheduling/assignments/*/copy", "methods": ["POST"]}, start_copy,
         ScheduleJob),
    Kind("dashboard refresh", {"pattern": "/reports/*"}, start_refresh),
    Kind("webhook registration", {"pattern": f"{WS}/addons/*/webhooks", "methods": ["GET"]}, start_registration),
    Kind("reconciliation", {"pattern": f"{WS}/addons/*/webhooks", "methods": ["GET"]}, start_reconcile),
]  # fmt: skip


@dataclass
class Ctx:
    app: Any
    client: Any
    sandbox: Any
    ws: str
    token: str
    user_token: Any

    def call(self, tab: str) -> Callable[..., Any]:
        def call(method: str, path: str = "", **kwargs: Any) -> Any:
            headers = {"HX-Request": "true", "X-Addon-Token": self.token}
            return self.client.open(tab + path, method=method, headers=headers, **kwargs)

        return call


class Signals:
    """What the worker's tasks did, from huey's own signals: completions, errors and retries by task name."""

    def __init__(self, huey: Any) -> None:
        self.huey = huey
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

        def handler(signal: str, task: Any, *args: Any) -> None:
            with self.lock:
                self.seen.append((signal, task.name))

        self.handler = handler
        huey.signal()(handler)

    def of(self, name: str) -> list[str]:
        with self.lock:
            return [signal for signal, task in self.seen if task == name]

    def ended(self, name: str) -> bool:
        return any(s in ("complete", "error", "retrying", "interrupted") for s in self.of(name))

    def close(self) -> None:
        self.huey.disconnect_signal(self.handler)


@pytest.fixture
def ctx(app: Any, client: Any, sandbox: Any, installed: Any, user_token: Any) -> Iterator[Ctx]:
    jobs_for(app).huey.flush()  # INSTALLED's webhook registration: each case queues what it tests
    app.config["RESUME_RECONCILE_DELAY_SECONDS"] = 600
    yield Ctx(app, client, sandbox, installed.workspace_id, user_token("OWNER"), user_token)


def _task_of(kind: Kind) -> str:
    names = {
        "approval decisions": "run_decision_job",
        "approval sync": "sync_approval_request",
        "invoice": "run_invoice_job",
        "schedule publish": "run_schedule_job",
        "schedule copy": "run_schedule_job",
        "dashboard refresh": "refresh_dashboard",
        "webhook registration": "register_webhooks",
        "reconciliation": "reconcile_installation",
    }
    return names[kind.name]


def _calls_since(sandbox: Any, moment: datetime) -> list[str]:
    log = sandbox.control("GET", "/requests").json()
    return [f"{c['method']} {c['path']}" for c in log if parse_instant(c["time"]) > moment]


def _rows_of(app: Any, workspace_id: str) -> list[str]:
    with app.app_context():
        left = [
            f"{t.name}: {n}"
            for t in workspace_tables()
            if (
                n := db.session.scalar(
                    sa.select(sa.func.count()).select_from(t).where(t.c.workspace_id == workspace_id)
                )
            )
        ]
        db.session.remove()
    return left


def _run(ctx: Ctx, kind: Kind, lifecycle: str) -> dict[str, Any]:
    """Start the job, land `lifecycle` (uninstall or pause) during its slowed call, let the task end."""
    fault = ctx.sandbox.control("POST", "/faults", {**kind.fault, "latencyMs": SLOW_MS}).json()
    job_id = kind.start(ctx)
    ctx.sandbox.control("DELETE", "/requests")
    signals = Signals(jobs_for(ctx.app).huey)
    consumer = start_consumer(ctx.app, workers=1, max_delay=0.05)
    task = _task_of(kind)
    try:

        def in_flight() -> bool:
            rules = ctx.sandbox.control("GET", "/faults").json()
            return any(r["id"] == fault["id"] and r["hits"] >= 1 for r in rules)

        poll(in_flight, timeout=30)
        assert ctx.sandbox.control("POST", f"/{lifecycle}").status_code in (200, 204)
        landed = datetime.now(UTC)
        poll(lambda: signals.ended(task), timeout=30)
        outcome = {"signals": signals.of(task), "calls": _calls_since(ctx.sandbox, landed), "job_id": job_id}
        if lifecycle == "pause":
            outcome["status"] = _status(ctx, kind, job_id)
            ctx.sandbox.control("DELETE", "/faults")
            assert ctx.sandbox.control("POST", "/resume").status_code == 200
            poll(lambda: signals.ended("resume_workspace"), timeout=30)
            # ACTIVE also schedules a reconciliation (delayed here, so the case ends without waiting for it).
            poll(lambda: "scheduled" in signals.of("reconcile_installation"), timeout=10)
            if kind.model is not None:
                poll(lambda: _status(ctx, kind, job_id) == "done", timeout=60)
            outcome["resumed"] = _status(ctx, kind, job_id)
        return outcome
    finally:
        consumer.stop(graceful=True)
        signals.close()
        jobs_for(ctx.app).huey.flush()
        ctx.sandbox.control("DELETE", "/faults")


def _status(ctx: Ctx, kind: Kind, job_id: Any) -> str | None:
    if kind.model is None:
        return None
    with ctx.app.app_context():
        row = db.session.get(kind.model, job_id)
        status = row.status if row is not None else None
        db.session.remove()
    return status


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_deleted_during_a_job_ends_it_with_no_further_call_no_exception_and_no_row(ctx, kind):
    outcome = _run(ctx, kind, "uninstall")
    category = "DELETED during each job kind"
    errors = [s for s in outcome["signals"] if s in ("error", "retrying")]
    record(category, kind.name, 500 if errors else 200, not outcome["calls"], bool(_rows_of(ctx.app, ctx.ws)))
    assert not errors, outcome
    assert not outcome["calls"], outcome["calls"]  # no call after DELETED, with the old tokens or any
    assert not _rows_of(ctx.app, ctx.ws)
    assert len(jobs_for(ctx.app).huey) == 0 and jobs_for(ctx.app).huey.scheduled_count() == 0  # no requeue


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_pause_during_a_job_holds_it_with_no_further_call_and_active_resumes_it(ctx, kind):
    outcome = _run(ctx, kind, "pause")
    category = "pause during each job kind"
    errors = [s for s in outcome["signals"] if s in ("error", "retrying")]
    held_right = outcome["status"] in (None, "paused") and outcome["resumed"] in (None, "done")
    record(category, kind.name, 500 if errors else 200, not outcome["calls"] and held_right, False)
    assert not errors, outcome
    assert not outcome["calls"], outcome["calls"]
    assert held_right, outcome
    if kind.model is DecisionJob:
        _each_decision_made_once(ctx, outcome["job_id"])


def _each_decision_made_once(ctx: Ctx, job_id: int) -> None:
    """L-1: the paused bulk decision sent no PATCH while paused, and after ACTIVE decided each item once."""
    with ctx.app.app_context():
        items = db.session.scalars(sa.select(DecisionItem).filter_by(job_id=job_id)).all()
        assert {i.status for i in items} == {"done"}, [(i.status, i.error) for i in items]
        subjects = [i.subject_id for i in items]
        db.session.remove()
    patches = [c for c in ctx.sandbox.control("GET", "/requests").json() if c["method"] == "PATCH"]
    applied = [c for c in patches if c["status"] == 200]
    # The PATCH in flight at the pause was refused by Clockify (403, paused) and sent again after ACTIVE.
    assert len(applied) == len(items) and len(patches) - len(applied) <= 1
    assert all(held(ctx.sandbox, ctx.ws)[s]["state"] == "APPROVED" for s in subjects)
