"""Overdue automation: sent and partly paid invoices past their due date become OVERDUE, each change recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any

from ..extensions import db
from ..platform.models import AuditEntry
from . import receivables

log = logging.getLogger(__name__)

# Only these become overdue: UNSENT was never sent, PAID and VOID are closed, OVERDUE already is.
MARKED_FROM = ("SENT", "PARTIALLY_PAID")


@dataclass(frozen=True)
class Change:
    invoice_id: str
    number: str | None
    previous: str
    days: int


def mark_overdue(workspace_id: str, client: Any, today: date, zone: tzinfo = UTC) -> list[Change]:
    """Mark every SENT or PARTIALLY_PAID invoice due before `today` OVERDUE; a second run finds none.
    `today` and each due date are days on the workspace's calendar (`zone`).

    Clockify calls: the invoice list filtered by those statuses (paged), then one PATCH per change.
    """
    changes: list[Change] = []
    for invoice in list(client.iter_invoices(statuses=MARKED_FROM)):
        due = receivables.local_day(invoice.due_date, zone)
        # Re-checked here: the list is filtered by Clockify, but a status outside MARKED_FROM is never touched.
        if due is None or due >= today or invoice.status not in MARKED_FROM:
            continue
        client.update_invoice_status(invoice.id, "OVERDUE")
        change = Change(invoice.id, invoice.number, str(invoice.status), (today - due).days)
        changes.append(change)
        row = receivables.record(workspace_id, {**invoice.raw, "status": "OVERDUE"})
        db.session.add(
            AuditEntry(
                workspace_id=workspace_id,
                actor_user_id=None,
                actor_name="Overdue automation",
                action="invoice.overdue",
                subject_type="invoice",
                subject_id=invoice.id,
                detail={
                    "number": invoice.number,
                    "from": invoice.status,
                    "reason": f"{change.days} day(s) past its due date {due.isoformat()} while {invoice.status}",
                    "record": row.id if row else None,
                },
            )
        )
        db.session.flush()
    if changes:
        log.info("workspace %s: %d invoice(s) marked overdue", workspace_id, len(changes))
    return changes
