"""Payments on invoices: recorded in Clockify with the admin's token, checked against the balance first."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..clockify.errors import BadRequestError, ClockifyError
from ..clockify.payloads import Payment
from ..exceptions import BillingError
from ..extensions import db
from ..platform.models import AuditEntry
from . import receivables
from .receivables import Receivable

NOTE_MAX = 1000


class PaymentFormError(BillingError):
    """A payment form that cannot be saved; `field` names the input the message goes beside."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, 422)
        self.field = field


@dataclass(frozen=True)
class PaymentForm:
    amount: int  # minor units
    paid_on: date
    note: str


def minor_units(text: Any, digits: int = 2) -> int:
    """'1,234.50' → 123450: parsed as a decimal, never a float; more decimals than the currency has is refused."""
    raw = str(text or "").strip().replace(" ", "").replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise PaymentFormError("Enter an amount, e.g. 250.00.", "amount") from None
    if not value.is_finite():
        raise PaymentFormError("Enter an amount, e.g. 250.00.", "amount")
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise PaymentFormError(f"Use at most {digits} decimals.", "amount")
    return int(scaled)


def parse_payment(form: Any, balance: int, today: date) -> PaymentForm:
    """The submitted payment, or a PaymentFormError for the field at fault (amount > 0 and ≤ balance)."""
    amount = minor_units(form.get("amount"))
    if amount <= 0:
        raise PaymentFormError("Enter an amount above zero.", "amount")
    if amount > balance:
        raise PaymentFormError("The payment is more than the balance of this invoice.", "amount")
    try:
        paid_on = date.fromisoformat(str(form.get("date") or today.isoformat()))
    except ValueError:
        raise PaymentFormError("Enter the date as YYYY-MM-DD.", "date") from None
    note = str(form.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        raise PaymentFormError(f"Keep the note to {NOTE_MAX} characters or fewer.", "note")
    return PaymentForm(amount, paid_on, note)


def record_payment(
    workspace_id: str, client: Any, row: Receivable, form: PaymentForm, actor_id: str | None, actor_name: str | None
) -> Payment | None:
    """Add the payment in Clockify (the payment comes from listing before and after: quirk 3), then
    refresh the invoice's row. Clockify refusing the amount is a 422 beside the field."""
    invoice_id = row.record.clockify_id
    when = datetime(form.paid_on.year, form.paid_on.month, form.paid_on.day, 12, tzinfo=UTC)
    try:
        payment = client.add_invoice_payment(invoice_id, form.amount, payment_date=when, note=form.note or None)
    except BadRequestError as exc:
        hint = (
            " Clockify's copy of this invoice has not got Closeout's lines yet: add them in Clockify first."
            if row.differs
            else ""
        )
        raise PaymentFormError(f"Clockify refused the payment ({exc.message}).{hint}", "amount") from exc
    refresh(workspace_id, client, invoice_id)
    db.session.add(
        AuditEntry(
            workspace_id=workspace_id,
            actor_user_id=actor_id,
            actor_name=actor_name,
            action="invoice.payment",
            subject_type="invoice",
            subject_id=invoice_id,
            detail={"amount": form.amount, "payment": payment.id if payment else None, "number": row.record.number},
        )
    )
    return payment


def delete_payment(workspace_id: str, client: Any, invoice_id: str, payment_id: str) -> None:
    client.delete_invoice_payment(invoice_id, payment_id)
    refresh(workspace_id, client, invoice_id)


def history(client: Any, invoice_id: str) -> list[Payment]:
    return sorted(
        client.iter_invoice_payments(invoice_id), key=lambda p: p.payment_date or datetime.min.replace(tzinfo=UTC)
    )


def refresh(workspace_id: str, client: Any, invoice_id: str) -> None:
    """Re-read one invoice into the receivables mirror (a payment changed its paid, balance and status)."""
    # On a failure the next delivery or reconciliation brings it.
    with contextlib.suppress(ClockifyError):
        receivables.record(workspace_id, client.get_invoice(invoice_id).raw)
