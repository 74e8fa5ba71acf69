"""What billing does on invoice webhooks, at reconciliation, in the minute sweep and once a day."""

from __future__ import annotations

import logging
from datetime import date, datetime, tzinfo
from typing import Any

from ..clockify.errors import NotFoundError
from ..extensions import utcnow
from ..formatting import zone_or_utc
from ..platform.events import EventContext, FollowUp
from ..platform.models import Installation
from ..settings.store import get_settings
from ..workspace import preferences
from . import invoicing, overdue, receivables, recurring

log = logging.getLogger(__name__)

INVOICE_EVENTS = ("NEW_INVOICE", "INVOICE_UPDATED")
OVERDUE_TASK = "mark_overdue_invoices"
RECURRING_TASK = recurring.RECURRING_TASK


def on_invoice_event(ctx: EventContext) -> None:
    """A delivery names an invoice: re-read it (the delivery is a hint, Clockify the truth) into receivables."""
    invoice_id = ctx.payload.get("id")
    if not isinstance(invoice_id, str) or not invoice_id:
        log.info("workspace %s: %s without an invoice id; ignored", ctx.workspace_id, ctx.event_type)
        return
    try:
        invoice = ctx.client_factory().get_invoice(invoice_id)
    except NotFoundError:
        receivables.forget(ctx.workspace_id, invoice_id)
        return
    receivables.record(ctx.workspace_id, invoice.raw)


def reconcile_billing(installation: Installation, client: Any) -> None:
    """Re-read every invoice of the workspace (paged) into receivables, dropping ones Clockify no longer has."""
    receivables.sync_all(installation.workspace_id, client.iter_invoices())


def resume_stalled_jobs() -> list[FollowUp]:
    """Every minute, queue again the invoice jobs whose queue message was lost (a worker restart)."""
    return [FollowUp(invoicing.INVOICE_TASK, (job_id,)) for job_id in invoicing.stalled_jobs()]


def mark_overdue_invoices(
    installation: Installation, client: Any, now: datetime | None = None, *, force: bool = False
) -> int:
    """The daily overdue run for one workspace on its own calendar (skipped when its setting is off, unless
    forced)."""
    if not force and not get_settings(installation.workspace_id)["invoicing.overdue_automation"]:
        return 0
    zone = workspace_zone(installation.workspace_id, client)
    today = (now or utcnow()).astimezone(zone).date()
    return len(overdue.mark_overdue(installation.workspace_id, client, today, zone))


def workspace_zone(workspace_id: str, client: Any) -> tzinfo:
    """The workspace's time zone (cached from Clockify; `client` stays open)."""
    return zone_or_utc(preferences.workspace_info(workspace_id, preferences.shared(client)).time_zone)


def workspace_today(workspace_id: str, client: Any, now: datetime | None = None) -> date:
    """Today on the workspace's calendar."""
    return (now or utcnow()).astimezone(workspace_zone(workspace_id, client)).date()


def run_recurring_invoices(installation: Installation, client: Any, today: date) -> int:
    """The daily recurring run for one workspace: this month's due template copies, and unfinished ones."""
    return sum(1 for run in recurring.run_recurring(installation.workspace_id, client, today) if run.status == "done")


def resume_paused_jobs(workspace_id: str) -> list[FollowUp]:
    """STATUS_CHANGED ACTIVE: the invoice jobs the pause held go on."""
    return [FollowUp(invoicing.INVOICE_TASK, (job_id,)) for job_id in invoicing.paused_jobs(workspace_id)]
