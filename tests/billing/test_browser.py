"""Chromium drives the Invoices page action in the sandbox shell: bill a client, see it in receivables with its
lines, record a payment and watch the balance fall."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import poll

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def _frame(page: Any) -> Any:
    page.goto(page.sandbox_url + "/invoices?action=invoices.action")
    frame = page.locator('[data-testid="addon-frame-invoices.action"]').element_handle().content_frame()
    frame.wait_for_selector("body.co-body")
    return frame


def test_an_admin_bills_a_client_sees_it_in_receivables_and_records_a_payment(page, sandbox, installed, worker, raw):
    page.sandbox_url = sandbox.url
    client_id = max(raw.by_client().items(), key=lambda kv: kv[1]["amount"])[0]
    expected = raw.by_client()[client_id]["amount"]
    frame = _frame(page)
    row = frame.locator(f'[data-ready] tr[data-client-id="{client_id}"]')
    assert row.get_attribute("data-amount") == str(expected)
    row.locator("button:text-is('Create invoice')").click()
    frame.wait_for_selector(f'[data-preview="{client_id}"]')
    frame.click("button:text-is('Confirm invoice')")
    done = frame.wait_for_selector('[data-invoice-job][data-job-status="done"]', timeout=30_000)
    number = done.get_attribute("data-number")
    invoice = poll(lambda: next((i for i in raw.invoices() if i["number"] == number), None), message="the invoice")

    # Receivables reload by themselves once the job is done; the invoice's lines are one click away.
    receivable = frame.wait_for_selector(f'[data-receivables] tr[data-invoice-id="{invoice["id"]}"]')
    assert receivable.get_attribute("data-balance") == receivable.get_attribute("data-amount")
    receivable.query_selector("button:text-is('Lines')").click()
    frame.wait_for_selector("[data-document] [data-lines]")
    assert frame.locator("[data-document] [data-todo]").count() == 1

    # The admin adds the lines in Clockify's own editor (the API cannot), so Clockify accepts the payment.
    total = int(receivable.get_attribute("data-amount"))
    job_subtotal = int(frame.get_attribute("[data-document] [data-subtotal]", "data-subtotal"))
    sandbox.control(
        "POST",
        "/world/add_invoice_item",
        {
            "workspace_id": installed.workspace_id,
            "invoice_id": invoice["id"],
            "description": "Approved time",
            "amount": job_subtotal,
        },
    )
    frame.locator(f'[data-receivables] tr[data-invoice-id="{invoice["id"]}"] button:text-is("Record payment")').click()
    frame.wait_for_selector(f'[data-payments="{invoice["id"]}"]')
    frame.fill("#payment-amount", f"{(total // 2) // 100}.{(total // 2) % 100:02d}")
    frame.click("button:text-is('Save payment')")
    frame.wait_for_selector("[data-payments] [data-saved]")
    paid_row = frame.wait_for_selector(
        f'[data-receivables] tr[data-invoice-id="{invoice["id"]}"][data-balance="{total - total // 2}"]'
    )
    assert paid_row.get_attribute("data-status") == "PARTIALLY_PAID"
    assert page.console_errors == []


def test_an_overpayment_is_refused_beside_the_amount_in_the_browser(page, sandbox, installed, raw):
    page.sandbox_url = sandbox.url
    frame = _frame(page)
    row = frame.locator('[data-receivables] tr[data-status="SENT"]').first
    balance = int(row.get_attribute("data-balance"))
    row.locator("button:text-is('Record payment')").click()
    frame.wait_for_selector("#payment-amount")
    frame.fill("#payment-amount", f"{(balance + 100) // 100}.{(balance + 100) % 100:02d}")
    frame.click("button:text-is('Save payment')")
    error = frame.wait_for_selector('[data-error="amount"]')
    assert "more than the balance" in error.text_content()
