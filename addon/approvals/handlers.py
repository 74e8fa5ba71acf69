"""What approvals do on webhooks and at reconciliation: mirror requests, run auto-approval."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from ..platform.events import EventContext, FollowUp
from ..platform.models import Installation
from . import auto, decisions
from .decisions import DECISION_TASK
from .mirror import RECONCILE_DAYS, fetch_requests, find_request_details, parse_request, record_request, store_requests

log = logging.getLogger(__name__)


def on_approval_request(ctx: EventContext) -> None:
    """Mirror the request (never regressing its state); a new pending request goes through auto-approval."""
    data = parse_request(ctx.payload)
    if data is None:
        log.info("workspace %s: %s without a usable request; ignored", ctx.workspace_id, ctx.event_type)
        return
    if ctx.event_type == "NEW_APPROVAL_REQUEST" and data.state == "PENDING":
        rules = auto.rules_for(ctx.workspace_id)
        if rules.enabled and not auto.already_decided(ctx.workspace_id, data.clockify_id):
            client = ctx.client_factory()
            details = find_request_details(client, data.clockify_id, data.period_start)
            fetched = [(data, details)] if details is not None else []
            if fetched:
                auto.run(ctx.installation, client, fetched, rules, trigger="webhook")
                return
    record_request(ctx.workspace_id, data)


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
