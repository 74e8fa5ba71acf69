"""Invoices: lists and filters, the document, its status and payments, copies, the PDF, invoice settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import dto
from ..gate import needs
from ..state import INVOICE_STATUSES, Workspace
from .common import (
    SORT_ORDERS,
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    id_value,
    instant,
    int_value,
    json_status,
    list_arg,
    no_content,
    page_of,
    paged,
    query_enum,
    required,
    sort_by,
    str_list,
    workspace,
    world,
)

bp = Blueprint("invoices", __name__)


INVOICE_SORTS: dict[str, Callable[[Workspace, dict[str, Any]], Any]] = {
    "ID": lambda ws, i: i["id"],
    "CLIENT": lambda ws, i: ws.clients.get(i["clientId"], {}).get("name", ""),
    "DUE_ON": lambda ws, i: i["dueDate"],
    "ISSUE_DATE": lambda ws, i: i["issuedDate"],
    "AMOUNT": lambda ws, i: dto.invoice_totals(i)["amount"],
    "BALANCE": lambda ws, i: dto.invoice_totals(i)["balance"],
}


@bp.get(f"{WS}/invoices")
@needs("INVOICE_READ")
def invoices(ws: str) -> Response:
    statuses = list_arg("statuses")
    for status in statuses:
        enum_value(status, INVOICE_STATUSES, "statuses")
    sort_column = query_enum("sort-column", tuple(INVOICE_SORTS), "ID")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    actor().require_admin()
    with world().lock:
        space = workspace(ws)
        found = [i for i in space.invoices.values() if not statuses or i["status"] in statuses]
        found = sort_by(found, lambda i: INVOICE_SORTS[sort_column or "ID"](space, i), sort_order)
        return jsonify({"invoices": [dto.invoice_dto(space, i) for i in paged(found)], "total": len(found)})


@bp.post(f"{WS}/invoices/info")
@needs("INVOICE_READ")
def invoices_info(ws: str) -> Response:
    data = body_object()
    page = int_value(data.get("page"), "page", default=1)
    size = int_value(data.get("pageSize", data.get("page-size")), "pageSize", default=50)
    statuses = data.get("statuses") or []
    if not isinstance(statuses, list):
        raise bad("Field 'statuses' must be an array")
    for status in statuses:
        enum_value(status, INVOICE_STATUSES, "statuses")
    sort_column = enum_value(data.get("sortColumn"), tuple(INVOICE_SORTS), "sortColumn") or "ID"
    sort_order = enum_value(data.get("sortOrder"), SORT_ORDERS, "sortOrder") or "ASCENDING"
    client_filter = data.get("clients") or {}
    if not isinstance(client_filter, dict):
        raise bad("Field 'clients' must be an object")
    client_ids = set(str_list(client_filter.get("ids"), "clients.ids"))
    contains = client_filter.get("contains") or "CONTAINS"
    enum_value(contains, ("CONTAINS", "DOES_NOT_CONTAIN", "CONTAINS_ONLY"), "clients.contains")
    issue = data.get("issueDate") or {}
    if not isinstance(issue, dict):
        raise bad("Field 'issueDate' must be an object")
    issue_start = instant(issue["issue-date-start"], "issue-date-start") if issue.get("issue-date-start") else None
    issue_end = instant(issue["issue-date-end"], "issue-date-end") if issue.get("issue-date-end") else None
    number = data.get("invoiceNumber")
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        found = []
        for invoice in space.invoices.values():
            totals = dto.invoice_totals(invoice)
            if statuses and invoice["status"] not in statuses:
                continue
            if client_ids and ((invoice["clientId"] in client_ids) == (contains == "DOES_NOT_CONTAIN")):
                continue
            if issue_start and invoice["issuedDate"] < issue_start:
                continue
            if issue_end and invoice["issuedDate"] > issue_end:
                continue
            if number and str(number) not in invoice["number"]:
                continue
            if not _amount_filters(data, totals):
                continue
            found.append(invoice)
        found = sort_by(found, lambda i: INVOICE_SORTS[sort_column](space, i), sort_order)
        now = the_world.now()
        rows = [dto.invoice_dto(space, i, now) for i in page_of(found, page, size)]
        return jsonify({"invoices": rows, "total": len(found)})


def _amount_filters(data: dict[str, Any], totals: dict[str, int]) -> bool:
    checks = (
        ("exactAmount", "amount", lambda v, x: v == x),
        ("greaterThanAmount", "amount", lambda v, x: v > x),
        ("lessThanAmount", "amount", lambda v, x: v < x),
        ("exactBalance", "balance", lambda v, x: v == x),
        ("greaterThanBalance", "balance", lambda v, x: v > x),
        ("lessThanBalance", "balance", lambda v, x: v < x),
    )
    for name, field, test in checks:
        if data.get(name) is not None and not test(totals[field], int(data[name])):
            return False
    return True


@bp.post(f"{WS}/invoices")
@needs("INVOICE_WRITE")
def create_invoice(ws: str) -> Response:
    data = body_object()
    client_id = id_value(data, "clientId")
    assert client_id is not None
    currency = required(data, "currency")
    if not isinstance(currency, str):
        raise bad("Field 'currency' must be a currency code")
    number = str(required(data, "number"))
    issued = instant(required(data, "issuedDate"), "issuedDate")
    due = instant(required(data, "dueDate"), "dueDate")
    me = actor()
    me.require_admin()
    # `note` and `subject` in the body are dropped, as the live API does (docs/clockify.md#quirk-4).
    invoice = world().create_invoice(ws, client_id, number, currency, issued, due, by_user_id=me.user_id)
    return json_status(dto.created_invoice_dto(invoice), 201)


@bp.get(f"{WS}/invoices/settings")
@needs("INVOICE_READ")
def invoice_settings(ws: str) -> Response:
    actor().require_admin()
    with world().lock:
        return jsonify(workspace(ws).invoice_settings)


@bp.put(f"{WS}/invoices/settings")
@needs("INVOICE_WRITE")
def update_invoice_settings(ws: str) -> Response:
    data = body_object()
    labels = required(data, "labels")
    if not isinstance(labels, dict):
        raise bad("Field 'labels' must be an object")
    for name, value in labels.items():
        if not isinstance(value, str) or len(value) > 20:
            raise bad(f"Label '{name}' must be a string of at most 20 characters")
    defaults = data.get("defaults")
    if defaults is not None:
        if not isinstance(defaults, dict):
            raise bad("Field 'defaults' must be an object")
        required(defaults, "notes")
        required(defaults, "subject")
        enum_value(defaults.get("taxType"), ("COMPOUND", "SIMPLE", "NONE"), "defaults.taxType")
    actor().require_admin()
    with world().lock:
        settings = workspace(ws).invoice_settings
        settings["labels"] = {**settings.get("labels", {}), **labels}
        if defaults is not None:
            settings["defaults"] = {**settings.get("defaults", {}), **defaults}
        if isinstance(data.get("exportFields"), dict):
            settings["exportFields"] = {**settings.get("exportFields", {}), **data["exportFields"]}
    return no_content()


def _invoice(ws: str, invoice_id: str) -> dict[str, Any]:
    actor().require_admin()
    return world().invoice(ws, invoice_id)


@bp.get(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_READ")
def invoice(ws: str, invoice_id: str) -> Response:
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), _invoice(ws, invoice_id)))


@bp.put(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_WRITE")
def update_invoice(ws: str, invoice_id: str) -> Response:
    data = body_object()
    fields: dict[str, Any] = {}
    for name in ("currency", "number"):
        fields[name] = str(required(data, name))
    for name in ("issuedDate", "dueDate"):
        fields[name] = instant(required(data, name), name)
    for name in ("taxPercent", "tax2Percent", "discountPercent"):
        value = data.get(name)
        if value is None:
            raise bad(f"Field '{name}' is required")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise bad(f"Field '{name}' must be a percent between 0 and 100")
        fields[name] = value
    for name in ("note", "subject"):
        if data.get(name) is not None:
            if not isinstance(data[name], str):
                raise bad(f"Field '{name}' must be a string")
            fields[name] = data[name]
    for name in ("clientId", "companyId"):
        if data.get(name) is not None:
            fields[name] = id_value(data, name)
    _invoice(ws, invoice_id)
    updated = world().update_invoice(ws, invoice_id, fields)
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), updated))


@bp.delete(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_WRITE")
def delete_invoice(ws: str, invoice_id: str) -> Response:
    _invoice(ws, invoice_id)
    world().delete_invoice(ws, invoice_id)
    return no_content()


@bp.patch(f"{WS}/invoices/<invoice_id>/status")
@needs("INVOICE_WRITE")
def invoice_status(ws: str, invoice_id: str) -> Response:
    data = body_object()
    status = enum_value(required(data, "invoiceStatus"), INVOICE_STATUSES, "invoiceStatus")
    _invoice(ws, invoice_id)
    world().set_invoice_status(ws, invoice_id, status)
    return no_content()


@bp.get(f"{WS}/invoices/<invoice_id>/payments")
@needs("INVOICE_READ")
def invoice_payments(ws: str, invoice_id: str) -> Response:
    with world().lock:
        found = _invoice(ws, invoice_id)
        payments = sorted(found["payments"], key=lambda p: p["date"])
        return jsonify([dto.payment_dto(p) for p in paged(payments)])


@bp.post(f"{WS}/invoices/<invoice_id>/payments")
@needs("INVOICE_WRITE")
def add_invoice_payment(ws: str, invoice_id: str) -> Response:
    data = body_object()
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise bad("Field 'amount' must be a positive integer (minor units)")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 1000:
        raise bad("Field 'note' must be a string of at most 1000 characters")
    paid_at = instant(data["paymentDate"], "paymentDate") if data.get("paymentDate") else world().now()
    _invoice(ws, invoice_id)
    updated = world().add_payment(ws, invoice_id, amount, paid_at, note, by_user_id=actor().user_id)
    with world().lock:
        # The live API answers with the invoice, not the payment (docs/clockify.md#quirk-3).
        return json_status(dto.invoice_overview_dto(workspace(ws), updated), 201)


@bp.delete(f"{WS}/invoices/<invoice_id>/payments/<payment_id>")
@needs("INVOICE_WRITE")
def delete_invoice_payment(ws: str, invoice_id: str, payment_id: str) -> Response:
    _invoice(ws, invoice_id)
    updated = world().delete_payment(ws, invoice_id, payment_id)
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), updated))


@bp.post(f"{WS}/invoices/<invoice_id>/duplicate")
@needs("INVOICE_WRITE")
def duplicate_invoice(ws: str, invoice_id: str) -> Response:
    _invoice(ws, invoice_id)
    copy = world().duplicate_invoice(ws, invoice_id, by_user_id=actor().user_id)
    with world().lock:
        return json_status(dto.invoice_overview_dto(workspace(ws), copy), 201)


@bp.get(f"{WS}/invoices/<invoice_id>/export")
@needs("INVOICE_READ")
def export_invoice(ws: str, invoice_id: str) -> Response:
    if not request.args.get("userLocale"):
        raise bad("Parameter 'userLocale' is required")
    with world().lock:
        found = _invoice(ws, invoice_id)
        totals = dto.invoice_totals(found)
        text = f"Invoice {found['number']} {found['currency']} {totals['amount'] / 100:.2f}"
    # A minimal one-page PDF: enough for a client to store or attach the export.
    pdf = (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
        f"4 0 obj<</Length {len(text) + 30}>>stream\nBT /F1 12 Tf 72 770 Td ({text}) Tj ET\nendstream endobj\n"
        "trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return Response(
        pdf.encode(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{found["number"]}.pdf"'},
    )
