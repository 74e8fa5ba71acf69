"""The `invoices.action` component: bill approved time, the invoice document, receivables and payments."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from flask import Blueprint, Response, current_app, g, make_response, request

from ..clockify.errors import ClockifyError, ForbiddenError, NotFoundError, UnauthorizedError
from ..errors import error_response
from ..exceptions import BillingError
from ..extensions import db
from ..formatting import zone_or_utc
from ..htmx import host_base, is_htmx, render, toast, trigger
from ..manifest import component_paths
from ..platform.clients import clients_for
from ..queue import enqueue
from ..security import requires_user
from ..settings.schema import RECURRING_DAY_MAX, RECURRING_DAY_MIN
from ..settings.store import Actor as SettingsActor
from ..settings.store import get_settings
from ..workspace import preferences
from . import handlers, invoicing, payments, ready, receivables, recurring
from .invoicing import InvoiceConflict

log = logging.getLogger(__name__)

bp = Blueprint("invoices", __name__)
BASE = component_paths()["invoices.action"]
CLOCKIFY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _client() -> Any:
    """The viewing admin's own client: a person's action, and what they read, goes with their token."""
    client = g.get("billing_client")
    if client is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        client = g.billing_client = clients_for(app).for_user(g.auth, g.installation)
    return client


def _zone() -> tzinfo:
    return zone_or_utc(_info().time_zone)


def _today() -> date:
    return datetime.now(UTC).astimezone(_zone()).date()


def _info() -> preferences.WorkspaceInfo:
    return preferences.workspace_info(g.installation.workspace_id, _client)


def _prepare() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    g.preferences = preferences.for_request(g.auth, g.installation, clients_for(app))


def _clockify_id(value: str) -> str:
    if not CLOCKIFY_ID.match(value or ""):
        raise BillingError("That is not a Clockify id.", 404)
    return value


def _range() -> tuple[date, date]:
    return ready.parse_range(request.values.get("start"), request.values.get("end"), _today())


def _currency() -> str:
    return str(get_settings(g.installation.workspace_id)["invoicing.currency"])


@bp.teardown_request
def _close_client(_exc: BaseException | None) -> None:
    client = g.pop("billing_client", None)
    if client is not None:
        client.close()


@bp.errorhandler(ClockifyError)
def _clockify_error(exc: ClockifyError) -> Response:
    db.session.rollback()
    log.info("billing: Clockify refused %s (%s)", exc.path, exc.status)
    if isinstance(exc, ForbiddenError):
        return error_response(403, "Clockify refused: invoicing needs a plan with invoices, and an admin.")
    if isinstance(exc, NotFoundError):
        return error_response(404, "Clockify has no such invoice or client.")
    if isinstance(exc, UnauthorizedError):
        # The glue script asks the host for a fresh token and replays the call on a 401 that says "expired".
        return error_response(401, "Your Clockify session expired; Closeout is asking for a fresh one.")
    return error_response(502, f"Clockify could not be reached: {exc.message or 'no answer'}.")


@bp.errorhandler(InvoiceConflict)
def _conflict(exc: InvoiceConflict) -> Response:
    db.session.rollback()
    response = render(
        "billing/_conflict.html",
        "billing/_conflict.html",
        status=409,
        message=exc.message,
        job_id=exc.job_id,
    )
    if is_htmx():
        response.headers["HX-Retarget"] = "#billing-job"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _ready_context(start: date, end: date) -> dict[str, Any]:
    return {
        "ready": ready.ready_to_bill(_client(), start, end, _currency()),
        "start": start,
        "end": end,
        "host": host_base(g.auth),
    }


def _receivables_context() -> dict[str, Any]:
    status = request.args.get("status") or None
    client_id = request.args.get("client") or None
    return {
        "receivables": receivables.receivables(
            g.installation.workspace_id,
            _today(),
            status=status if status in receivables.STATUSES else None,
            client_id=client_id if client_id and CLOCKIFY_ID.match(client_id) else None,
            zone=_zone(),
        ),
        "status": status,
        "client_filter": client_id,
        "statuses": receivables.STATUSES,
        "buckets": receivables.BUCKETS,
    }


def _recurring_context(**extra: Any) -> dict[str, Any]:
    workspace_id = g.installation.workspace_id
    return {
        "plans": recurring.plans(workspace_id, _today()),
        "templates": recurring.template_choices(workspace_id),
        "day_range": (RECURRING_DAY_MIN, RECURRING_DAY_MAX),
        **extra,
    }


@bp.get(BASE)
@requires_user(admin=True)
def page() -> Response:
    """Bill approved time: what is ready to bill per client, recent invoices and receivables."""
    _prepare()
    start, end = _range()
    if receivables.fill_once(g.installation.workspace_id, _client()):
        db.session.commit()
    return render(
        "billing/page.html",
        auth=g.auth,
        jobs=invoicing.recent_jobs(g.installation.workspace_id),
        **{**_ready_context(start, end), **_receivables_context(), **_recurring_context()},
    )


@bp.get(BASE + "/ready")
@requires_user(admin=True)
def ready_rows() -> Response:
    """The ready-to-bill table for a date range."""
    _prepare()
    start, end = _range()
    return render("billing/_ready.html", "billing/_ready.html", auth=g.auth, **_ready_context(start, end))


@bp.get(BASE + "/clients/<client_id>")
@requires_user(admin=True)
def drill(client_id: str) -> Response:
    """One client's approved time by project and by person."""
    _prepare()
    start, end = _range()
    row = ready.client_row(_client(), _clockify_id(client_id), start, end, _currency())
    return render("billing/_drill.html", "billing/_drill.html", row=row, start=start, end=end)


@bp.get(BASE + "/clients/<client_id>/preview")
@requires_user(admin=True)
def preview(client_id: str) -> Response:
    """The invoice Confirm would create for this client: number, dates, terms, lines and totals."""
    _prepare()
    start, end = _range()
    draft = invoicing.draft_invoice(
        g.installation.workspace_id, _client(), _clockify_id(client_id), start, end, _today()
    )
    return render("billing/_preview.html", "billing/_preview.html", draft=draft)


@bp.post(BASE + "/clients/<client_id>/invoice")
@requires_user(admin=True)
def confirm(client_id: str) -> Response:
    """Confirm invoice: record the job (with the admin's token), then the worker creates it in Clockify."""
    _prepare()
    start, end = _range()
    job = invoicing.confirm_invoice(
        g.installation.workspace_id,
        invoicing.Actor(g.auth.user_id, _actor_name()),
        _client(),
        _clockify_id(client_id),
        start,
        end,
        str(request.form.get("digest") or ""),
        _today(),
        g.auth.token,
    )
    db.session.commit()
    _queue_job(job.id)
    return toast(_job_fragment(job), f"Creating invoice {job.number} for {job.client_name}…", "info")


def _actor_name() -> str | None:
    claims = g.auth.claims
    name = claims.get("name") or claims.get("userName")
    return str(name) if isinstance(name, str) else None


def _queue_job(job_id: int) -> None:
    # After the commit that made the job; if the queue is down, the minute sweep queues it once it stalls.
    enqueue(current_app._get_current_object(), invoicing.INVOICE_TASK, job_id)  # type: ignore[attr-defined]


def _job_fragment(job: Any) -> Response:
    return render(
        "billing/_job.html",
        "billing/_job.html",
        job=job,
        steps=invoicing.job_steps(job),
        is_confirmer=job.actor_user_id == g.auth.user_id,
    )


@bp.get(BASE + "/jobs/<int:job_id>")
@requires_user(admin=True)
def job(job_id: int) -> Response:
    """An invoice job's progress; polled while it runs, handing the confirmer's fresh token to it."""
    found = invoicing.get_job(g.installation.workspace_id, job_id)
    # Rule 2: only the confirming admin's own token may finish their invoice.
    requeue = found.actor_user_id == g.auth.user_id and invoicing.hand_token(found, g.auth.token)
    db.session.commit()
    if requeue:
        _queue_job(found.id)
    response = _job_fragment(found)
    if found.status in ("done", "failed") and request.args.get("poll"):
        message = f"Invoice {found.number} created." if found.status == "done" else f"Invoice failed: {found.error}"
        trigger(
            response,
            {
                "closeout:billing-changed": True,
                "closeout:toast": {"type": "success" if found.status == "done" else "error", "message": message},
            },
        )
    return response


@bp.post(BASE + "/jobs/<int:job_id>/retry")
@requires_user(admin=True)
def retry(job_id: int) -> Response:
    """Resume an invoice that stopped after it was created in Clockify."""
    found = invoicing.retry_job(invoicing.get_job(g.installation.workspace_id, job_id), g.auth.token)
    db.session.commit()
    _queue_job(found.id)
    return _job_fragment(found)


@bp.get(BASE + "/jobs/<int:job_id>/document")
@requires_user(admin=True)
def document(job_id: int) -> Response:
    """The print-ready invoice: bill-from, client, number, dates, lines, taxes, discount, total."""
    _prepare()
    found = invoicing.get_job(g.installation.workspace_id, job_id)
    doc = invoicing.document(found, _client())
    db.session.commit()
    return render(
        "billing/document.html",
        "billing/_document.html",
        auth=g.auth,
        doc=doc,
        bill_from=(doc.clockify or {}).get("billFrom") or _info().name,
        client_address=(doc.clockify or {}).get("clientAddress"),
    )


@bp.get(BASE + "/jobs/<int:job_id>/lines.csv")
@requires_user(admin=True)
def lines_csv(job_id: int) -> Response:
    """The invoice's lines (one per entry) as CSV, with formula-looking cells neutralised."""
    found = invoicing.get_job(g.installation.workspace_id, job_id)
    response = make_response(invoicing.lines_csv(found))
    response.mimetype = "text/csv"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", found.number or str(found.id))
    response.headers["Content-Disposition"] = f'attachment; filename="invoice-{safe}-lines.csv"'
    return response


@bp.get(BASE + "/receivables")
@requires_user(admin=True)
def receivables_table() -> Response:
    """Receivables, filtered by status and client, with their ageing (from Closeout's copy only)."""
    _prepare()
    return render("billing/_receivables.html", "billing/_receivables.html", auth=g.auth, **_receivables_context())


@bp.post(BASE + "/receivables/refresh")
@requires_user(admin=True)
def refresh_receivables() -> Response:
    """Re-read every invoice from Clockify now."""
    _prepare()
    handlers.reconcile_billing(g.installation, _client())
    db.session.commit()
    return render("billing/_receivables.html", "billing/_receivables.html", auth=g.auth, **_receivables_context())


def _receivable(invoice_id: str) -> receivables.Receivable:
    row = receivables.receivable(g.installation.workspace_id, _clockify_id(invoice_id), _today(), _zone())
    if row is None:
        raise BillingError("Closeout does not know that invoice; refresh receivables.", 404)
    return row


def _payments(row: receivables.Receivable, status: int = 200, **extra: Any) -> Response:
    history = payments.history(_client(), row.record.clockify_id)
    return render(
        "billing/_payments.html",
        "billing/_payments.html",
        status=status,
        row=row,
        history=history,
        today=_today(),
        **extra,
    )


@bp.get(BASE + "/invoices/<invoice_id>/payments")
@requires_user(admin=True)
def payment_panel(invoice_id: str) -> Response:
    """Record payment: the form (amount prefilled with the balance) and the invoice's payment history."""
    _prepare()
    return _payments(_receivable(invoice_id))


@bp.post(BASE + "/invoices/<invoice_id>/payments")
@requires_user(admin=True)
def save_payment(invoice_id: str) -> Response:
    """Save payment: amount above zero and at most the balance, else a 422 beside the field."""
    _prepare()
    row = _receivable(invoice_id)
    try:
        form = payments.parse_payment(request.form, row.balance, _today())
        payments.record_payment(g.installation.workspace_id, _client(), row, form, g.auth.user_id, _actor_name())
    except payments.PaymentFormError as exc:
        db.session.rollback()
        return _payments(row, 422, error=exc.message, error_field=exc.field, submitted=request.form)
    db.session.commit()
    fresh = _receivable(invoice_id)
    return trigger(_payments(fresh, saved=True), {"closeout:billing-changed": True})


@bp.post(BASE + "/invoices/<invoice_id>/payments/<payment_id>/delete")
@requires_user(admin=True)
def delete_payment(invoice_id: str, payment_id: str) -> Response:
    """Delete one payment of an invoice."""
    _prepare()
    row = _receivable(invoice_id)
    payments.delete_payment(g.installation.workspace_id, _client(), row.record.clockify_id, _clockify_id(payment_id))
    db.session.commit()
    return trigger(_payments(_receivable(invoice_id)), {"closeout:billing-changed": True})


@bp.post(BASE + "/recurring")
@requires_user(admin=True)
def save_recurring() -> Response:
    """Save recurring invoice: the template's client is billed on that day each month (stored in settings)."""
    _prepare()
    try:
        client_id = recurring.save_plan(
            g.installation.workspace_id,
            SettingsActor(g.auth.user_id, _actor_name()),
            _clockify_id(str(request.form.get("invoice") or "")),
            request.form.get("day"),
            _today(),
        )
    except BillingError as exc:
        db.session.rollback()
        return render(
            "billing/_recurring.html",
            "billing/_recurring.html",
            status=exc.status if exc.status != 404 else 422,
            **_recurring_context(error=exc.message, submitted=request.form),
        )
    db.session.commit()
    plan = next((p for p in recurring.plans(g.installation.workspace_id, _today()) if p.client_id == client_id), None)
    when = f" next on {plan.next_on.isoformat()}" if plan and plan.next_on else ""
    response = render("billing/_recurring.html", "billing/_recurring.html", **_recurring_context())
    return toast(response, f"Recurring invoice saved{when}.", "success")


@bp.post(BASE + "/recurring/<client_id>/stop")
@requires_user(admin=True)
def stop_recurring(client_id: str) -> Response:
    """Stop a client's recurring invoice (past invoices stay)."""
    _prepare()
    recurring.stop_plan(
        g.installation.workspace_id, SettingsActor(g.auth.user_id, _actor_name()), _clockify_id(client_id)
    )
    db.session.commit()
    response = render("billing/_recurring.html", "billing/_recurring.html", **_recurring_context())
    return toast(response, "Recurring invoice stopped.", "info")
