"""What approvals do on webhooks and at reconciliation: mirror requests, run auto-approval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..platform.events import EventContext, FollowUp
from ..platform.models import Installation
from . import auto, decisions
from .decisions import DECISION_TASK
from .mirror import RECONCILE_DAYS, fetch_requests, find_request_details, parse_request, record_request, store_requests

log = logging.getLogger(__name__)

# The worker task that reads a request a delivery named (see jobs.py).
SYNC_TASK = "sync_approval_request"


def on_approval_request(ctx: EventContext) -> None:
    """A delivery only says that a request changed: queue a read of it from Clockify, which owns its owner
    and state (anyone who can read a webhook's token can forge a delivery)."""
    hint = parse_request(ctx.payload)
    if hint is None:
        log.info("workspace %s: %s without a usable request; ignored", ctx.workspace_id, ctx.event_type)
        return
    ctx.defer(SYNC_TASK, ctx.workspace_id, hint.clockify_id, hint.period_start.isoformat(), ctx.event_type)


def sync_request(
    workspace_id: str, request_id: str, period_start: str, event_type: str, client_for: Callable[[Installation], Any]
) -> None:
    """The read a delivery queued (in the worker, committed after): mirror the request as Clockify has it,
    and send a new pending one through auto-approval."""
    installation = db.session.scalar(sa.select(Installation).filter_by(workspace_id=workspace_id))
    if installation is None or not installation.is_active:
        return
    try:
        since = date.fromisoformat(period_start)
    except ValueError:
        return
    rules = auto.rules_for(workspace_id)
    db.session.rollback()  # no read transaction held open across the Clockify calls
    client = client_for(installation)
    details = find_request_details(client, request_id, since)
    data = parse_request((details or {}).get("approvalRequest") or details) if details else None
    if data is None:
        log.info("workspace %s: %s names a request Clockify does not list; left alone", workspace_id, event_type)
        return
    new_and_pending = event_type == "NEW_APPROVAL_REQUEST" and data.state == "PENDING"
    if new_and_pending and rules.enabled and not auto.already_decided(workspace_id, data.clockify_id):
        auto.run(installation, client, [(data, details or {})], rules, trigger="webhook")
        return
    record_request(workspace_id, data, details)


def reconcile_approvals(installation: Installation, client: Any) -> None:
    """Refresh the mirror for the recent periods and evaluate pending requests not yet evaluated."""
    since = date.today() - timedelta(days=RECONCILE_DAYS)
    fetched = fetch_requests(client, since)
    rules = auto.rules_for(installation.workspace_id)
    if rules.enabled:
        decided = auto.decided_ids(
            installation.workspace_id, [data.clockify_id for data, _ in fetched if data.state == "PENDING"]
        )
        pending = [
            (data, details) for data, details in fetched if data.state == "PENDING" and data.clockify_id not in decided
        ]
        if pending:
            auto.run(installation, client, pending, rules, trigger="reconciliation")
    store_requests(installation.workspace_id, fetched)


def resume_stalled_jobs() -> list[FollowUp]:
    """Every minute, queue again the unfinished decision jobs that stopped moving, whether or not a tab
    is open to notice (a worker restart drops huey's in-flight task)."""
    return [FollowUp(DECISION_TASK, (job_id,)) for job_id in decisions.release_stalled_jobs()]


def resume_paused_jobs(workspace_id: str) -> list[FollowUp]:
    """STATUS_CHANGED ACTIVE: the decision jobs the pause held go on."""
    return [FollowUp(DECISION_TASK, (job_id,)) for job_id in decisions.paused_jobs(workspace_id)]
