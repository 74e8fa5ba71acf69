"""Receivables, the invoice document, payments and overdue automation over HTTP with the sandbox as Clockify."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from addon.billing import receivables
from addon.billing.models import InvoiceRecord
from addon.extensions import db
from addon.platform.models import AuditEntry
from sandbox.world import invoice_totals

from .conftest import TAB, poll
from .test_invoice_http import biggest_client, confirm, digest_of, job_id_of, job_row, preview, run_job

pytestmark = pytest.mark.sandbox


def open_balances(raw: Any) -> int:
    return sum(invoice_totals(i)["balance"] for i in raw.invoices() if i["status"] not in ("PAID", "VOID"))


def test_receivables_list_every_invoice_with_its_ageing(client, user_token, raw):
    html = client.get(f"{TAB}?auth_token={user_token('OWNER')}").get_data(as_text=True)
    assert set(re.findall(r'data-invoice-id="([^"]+)"', html)) == {i["id"] for i in raw.invoices()}
    total = int(re.search(r'data-ageing-client="All clients" data-ageing-total="(\d+)"', html).group(1))
    assert total == open_balances(raw) > 0


def test_filters_by_status_and_client(as_user, raw):
    call = as_user("OWNER")
    call("GET", "")
    paid = call("GET", "/receivables?status=PAID").get_data(as_text=True)
    assert set(re.findall(r'data-status="([A-Z_]+)"', paid)) == {"PAID"}
    some = raw.invoices()[0]["clientId"]
    mine = call("GET", f"/receivables?client={some}").get_data(as_text=True)
    ids = set(re.findall(r'data-invoice-id="([^"]+)"', mine))
    assert ids == {i["id"] for i in raw.invoices() if i["clientId"] == some}


def test_an_invoice_updated_delivery_keeps_receivables_fresh(as_user, raw, sandbox, worker):
    call = as_user("OWNER")
    call("GET", "")
    sent = next(i for i in raw.invoices() if i["status"] == "SENT")
    sandbox.control(
        "POST",
        "/world/set_invoice_status",
        {"workspace_id": raw.workspace_id, "invoice_id": sent["id"], "status": "VOID"},
    )
    poll(
        lambda: (
            f'data-invoice-id="{sent["id"]}" data-status="VOID"' in call("GET", "/receivables").get_data(as_text=True)
        ),
        message="the delivery to land",
    )


def _dated_invoice(sandbox: Any, raw: Any, status: str, due_days_ago: int) -> str:
    client_id = next(iter(raw.space().clients))
    due = datetime.now(UTC) - timedelta(days=due_days_ago)
    made = sandbox.control(
        "POST",
        "/world/create_invoice",
        {
            "workspace_id": raw.workspace_id,
            "client_id": client_id,
            "number": f"T-{status}-{due_days_ago}",
            "currency": "USD",
            "issued": (due - timedelta(days=30)).isoformat(),
            "due": due.isoformat(),
            "items": [
                {
                    "order": 1,
                    "description": "Work",
                    "quantity": 100,
                    "unitPrice": 1000000,
                    "amount": 10000,
                    "itemType": "Service",
                    "timeEntryIds": [],
                }
            ],
        },
    )
    assert made.status_code in (200, 201), made.text
    invoice_id = made.json()["result"]["id"]
    if status == "PARTIALLY_PAID":
        sandbox.control(
            "POST",
            "/world/add_payment",
            {"workspace_id": raw.workspace_id, "invoice_id": invoice_id, "amount": 2500, "paid_at": due.isoformat()},
        )
    elif status != "UNSENT":
        if status == "PAID":
            sandbox.control(
                "POST",
                "/world/add_payment",
                {
                    "workspace_id": raw.workspace_id,
                    "invoice_id": invoice_id,
                    "amount": 10000,
                    "paid_at": due.isoformat(),
                },
            )
        else:
            sandbox.control(
                "POST",
                "/world/set_invoice_status",
                {"workspace_id": raw.workspace_id, "invoice_id": invoice_id, "status": status},
            )
    return invoice_id


def test_the_overdue_run_marks_sent_and_partly_paid_once_and_never_touches_the_rest(runner, raw, sandbox, app):
    made = {s: _dated_invoice(sandbox, raw, s, 5) for s in ("SENT", "PARTIALLY_PAID", "UNSENT", "PAID", "VOID")}
    not_yet = _dated_invoice(sandbox, raw, "SENT", -5)
    before = {i["id"]: i["status"] for i in raw.invoices()}
    first = runner.invoke(args=["billing", "overdue", "--workspace", raw.workspace_id])
    assert first.exit_code == 0, first.output
    after = {i["id"]: i["status"] for i in raw.invoices()}
    changed = {k for k in after if after[k] != before[k]}
    assert {made["SENT"], made["PARTIALLY_PAID"]} <= changed
    assert all(after[k] == "OVERDUE" for k in changed)
    assert all(before[k] in ("SENT", "PARTIALLY_PAID") for k in changed)
    assert after[made["UNSENT"]] == "UNSENT" and after[made["PAID"]] == "PAID" and after[made["VOID"]] == "VOID"
    assert after[not_yet] == "SENT"
    with app.app_context():
        reasons = db.session.scalars(db.select(AuditEntry).filter_by(action="invoice.overdue")).all()
        assert {r.subject_id for r in reasons} == changed and all(
            "past its due date" in r.detail["reason"] for r in reasons
        )
    second = runner.invoke(args=["billing", "overdue", "--workspace", raw.workspace_id])
    assert "0 invoice(s) marked overdue" in second.output
    assert {i["id"]: i["status"] for i in raw.invoices()} == after


def test_a_payment_over_the_balance_is_refused_beside_the_field_and_a_fair_one_lowers_it(as_user, raw):
    call = as_user("OWNER")
    call("GET", "")
    invoice = next(i for i in raw.invoices() if i["status"] == "SENT" and invoice_totals(i)["balance"] > 100)
    balance = invoice_totals(invoice)["balance"]
    form = call("GET", f"/invoices/{invoice['id']}/payments").get_data(as_text=True)
    assert f'value="{balance // 100}.{balance % 100:02d}"' in form and "Save payment" in form
    over = call("POST", f"/invoices/{invoice['id']}/payments", data={"amount": f"{(balance + 1) / 100:.2f}"})
    assert over.status_code == 422 and 'data-error="amount"' in over.get_data(as_text=True)
    for junk in ("0", "-5", "abc", "1.001", "NaN"):
        assert call("POST", f"/invoices/{invoice['id']}/payments", data={"amount": junk}).status_code == 422
    ok = call(
        "POST", f"/invoices/{invoice['id']}/payments", data={"amount": "1.00", "date": "2026-01-02", "note": "wire"}
    )
    assert ok.status_code == 200
    assert f'data-balance="{balance - 100}"' in ok.get_data(as_text=True)
    [after] = [i for i in raw.invoices() if i["id"] == invoice["id"]]
    assert invoice_totals(after)["balance"] == balance - 100
    payment_id = re.search(r'data-payment-id="([^"]+)" data-amount="100"', ok.get_data(as_text=True)).group(1)
    gone = call("POST", f"/invoices/{invoice['id']}/payments/{payment_id}/delete")
    assert f'data-balance="{balance}"' in gone.get_data(as_text=True)


def test_the_document_shows_the_lines_flags_clockifys_amount_and_exports_safe_csv(as_user, raw, app, sandbox):
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    first = next(e for e in raw.billable() if raw.client_of(e) == client_id)
    with sandbox.world.lock:
        raw.space().time_entries[first["id"]]["description"] = '=HYPERLINK("http://evil")'
    job_id = job_id_of(confirm(call, client_id, digest_of(preview(call, client_id))))
    assert run_job(app, job_id) == "done"
    job = job_row(app, job_id)
    doc = call("GET", f"/jobs/{job_id}/document").get_data(as_text=True)
    assert f'data-total="{job.total}"' in doc and 'data-clockify-amount="0"' in doc
    assert "data-todo" in doc and "add the lines below" in doc
    rows = list(csv.reader(io.StringIO(call("GET", f"/jobs/{job_id}/lines.csv").get_data(as_text=True))))
    assert rows[0][0] == "entry_id" and len(rows) - 1 == int(re.search(r"(\d+) approved time entries", doc).group(1))
    evil = next(r for r in rows if r[0] == first["id"])
    assert evil[4].startswith("'=")
    # Once the admin adds the lines in Clockify (its own editor), the amounts agree and the flag goes.
    sandbox.control(
        "POST",
        "/world/add_invoice_item",
        {
            "workspace_id": raw.workspace_id,
            "invoice_id": job.clockify_invoice_id,
            "description": "Approved time",
            "amount": job.subtotal,
        },
    )
    again = call("GET", f"/jobs/{job_id}/document").get_data(as_text=True)
    assert f'data-clockify-amount="{job.total}"' in again and "add the lines below" not in again


def test_days_overdue_are_computed_on_each_read_on_the_workspace_calendar(as_user, raw, app):
    call = as_user("OWNER")
    html = call("GET", "").get_data(as_text=True)  # the first opening fills Closeout's copy
    today = datetime.now(UTC).date()
    for invoice in raw.invoices():
        shown = re.search(rf'data-invoice-id="{invoice["id"]}"[^>]*data-days-overdue="(\d+)"', html)
        open_ = invoice["status"] not in ("PAID", "VOID")
        assert int(shown.group(1)) == (max(0, (today - invoice["dueDate"].date()).days) if open_ else 0)
    sent = next(i for i in raw.invoices() if i["status"] == "SENT")
    with app.app_context():
        row = db.session.scalar(db.select(InvoiceRecord).filter_by(clockify_id=sent["id"]))
        # Due 08:00 UTC on 10 March is still 9 March in Honolulu.
        row.due_at = datetime(2027, 3, 10, 8, tzinfo=UTC)
        db.session.commit()
        on = date(2027, 3, 10)
        assert receivables.receivable(raw.workspace_id, sent["id"], on).days_overdue == 0
        local = receivables.receivable(raw.workspace_id, sent["id"], on, ZoneInfo("Pacific/Honolulu"))
        assert local.due_on == date(2027, 3, 9) and local.days_overdue == 1
        # Nothing is stored: a later read is later.
        assert receivables.receivable(raw.workspace_id, sent["id"], date(2027, 4, 9)).days_overdue == 30
        late = receivables.open_overdue(raw.workspace_id, date(2027, 3, 11))
        assert late.count >= 1 and late.amount >= receivables.receivable(raw.workspace_id, sent["id"], on).balance
