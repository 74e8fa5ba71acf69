"""Each live-API quirk (docs/clockify.md#quirks) is handled in one place; the sandbox reproduces them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from addon.clockify import BadRequestError, ConflictError, NotFoundError

pytestmark = pytest.mark.sandbox


def a_client_id(sandbox, installation) -> str:
    return next(iter(sandbox.world.workspace(installation.workspace_id).clients))


def new_invoice(client, sandbox, installation, number: str, **extra):
    today = date(2026, 1, 5)
    return client.create_invoice(
        client_id=a_client_id(sandbox, installation),
        currency="USD",
        number=number,
        issued_date=today,
        due_date=today + timedelta(days=30),
        **extra,
    )


def test_changing_one_invoice_field_keeps_tax_discount_and_note(make_client, sandbox, installation):
    """Quirk 1: PUT replaces the whole invoice, and GET reads percents x100."""
    client = make_client()
    invoice = new_invoice(client, sandbox, installation, "Q1-0001")
    client.update_invoice(invoice.id, {"taxPercent": 10, "discountPercent": 2.5, "note": "Net 30"})
    client.update_invoice(invoice.id, {"subject": "January"})
    raw = client.get_invoice(invoice.id).raw
    assert (raw["tax"], raw["discount"], raw["tax2"]) == (1000, 250, 0)
    assert raw["note"] == "Net 30" and raw["subject"] == "January"


def test_note_and_subject_survive_invoice_create(make_client, sandbox, installation, request_log):
    """Quirk 4: create drops note and subject, so the client sets them with a follow-up update."""
    invoice = new_invoice(make_client(), sandbox, installation, "Q4-0001", note="Thanks!", subject="Retainer")
    assert invoice.raw["note"] == "Thanks!" and invoice.raw["subject"] == "Retainer"
    assert [r["method"] for r in request_log(path="/api/v1/workspaces/*/invoices*") if r["method"] != "GET"] == [
        "POST",
        "PUT",
    ]


def test_adding_a_payment_returns_the_payment_not_the_invoice(make_client):
    """Quirk 3: the answer is the invoice; the payment is found by listing before and after."""
    client = make_client()
    invoice = next(i for i in client.iter_invoices() if (i.balance or 0) >= 100)
    before = [p.id for p in client.iter_invoice_payments(invoice.id)]
    payment = client.add_invoice_payment(invoice.id, 100, payment_date=date(2026, 1, 10), note="wire")
    assert payment is not None and payment.id and payment.amount == 100 and payment.id not in before
    assert sorted(p.id for p in client.iter_invoice_payments(invoice.id)) == sorted([*before, payment.id])
    assert client.get_invoice(invoice.id).balance == invoice.balance - 100


def test_a_timed_out_invoice_create_is_found_by_number(make_client, fault, request_log, sandbox, installation):
    """Quirk 8: no idempotency keys, so an ambiguous create is looked up by its number before any re-send."""
    fault("/api/v1/workspaces/*/invoices", methods=["POST"], latencyMs=1000, times=1)
    client = make_client(timeout=(3.05, 0.3), settle_seconds=1.5)
    invoice = new_invoice(client, sandbox, installation, "Q8-0001")
    assert invoice.number == "Q8-0001"
    posts = [r for r in request_log(path="/api/v1/workspaces/*/invoices") if r["method"] == "POST"]
    assert len(posts) == 1
    numbers = [i["number"] for i in sandbox.world.workspace(installation.workspace_id).invoices.values()]
    assert numbers.count("Q8-0001") == 1


def test_a_timed_out_webhook_create_is_found_by_url_and_event(make_client, fault, request_log):
    fault("/api/v1/workspaces/*/webhooks", methods=["POST"], latencyMs=1000, times=1)
    client = make_client(timeout=(3.05, 0.3), settle_seconds=1.5)
    hook = client.create_webhook(url="http://closeout.test/webhooks/assignments", event="ASSIGNMENT_CREATED")
    assert hook.id and hook.auth_token
    assert len([r for r in request_log(path="/api/v1/workspaces/*/webhooks") if r["method"] == "POST"]) == 1
    assert [h.id for h in client.list_webhooks() if h.url.endswith("/assignments")] == [hook.id]
    client.delete_webhook(hook.id)
    with pytest.raises(NotFoundError):
        client.get_webhook(hook.id)


def test_rejected_requests_cannot_be_listed_by_status(make_client):
    """Quirk 5: only PENDING, APPROVED and WITHDRAWN_APPROVAL are listable."""
    client = make_client()
    with pytest.raises(BadRequestError):
        list(client.iter_approval_requests("REJECTED"))
    assert all(r.state == "APPROVED" for r in client.iter_approval_requests("APPROVED"))


def test_marking_entries_invoiced_uses_the_documented_patch(make_client, sandbox, installation, request_log):
    """Quirk 6: `PATCH …/time-entries/invoiced` works; the `/bulk` variant some clients use is a 404."""
    client = make_client()
    ws = sandbox.world.workspace(installation.workspace_id)
    ids = [e["id"] for e in list(ws.time_entries.values())[:3]]
    client.mark_time_entries_invoiced(ids)
    assert all(ws.time_entries[i].get("invoiced") is True for i in ids)
    assert [r["path"].rsplit("/", 1)[-1] for r in request_log(method="PATCH")] == ["invoiced"]
    with pytest.raises(NotFoundError):
        client.request("PATCH", client._ws("/time-entries/invoiced/bulk"), json={"timeEntryIds": ids})


def test_publishing_is_range_scoped_and_creating_returns_a_list(make_client, sandbox, installation):
    """Quirk 7: publish takes a range (no per-assignment publish); create answers an array."""
    client = make_client()
    ws = sandbox.world.workspace(installation.workspace_id)
    user_id = sandbox.state.user_id_for_role(installation.workspace_id, "MEMBER")
    project_id = next(iter(ws.projects))
    start = datetime(2027, 3, 1, tzinfo=UTC)
    created = client.create_recurring_assignment(
        {
            "userId": user_id,
            "projectId": project_id,
            "start": start.isoformat(),
            "end": (start + timedelta(days=4)).isoformat(),
            "hoursPerDay": 4,
            "recurringAssignment": {"repeat": True, "weeks": 2},
        }
    )
    assert isinstance(created, list) and len(created) == 2
    assert not any(ws.assignments[a.id]["published"] for a in created)
    client.publish_assignments(start, start + timedelta(days=6))
    assert [ws.assignments[a.id]["published"] for a in created] == [True, False]


def test_project_totals_are_a_get_for_one_and_a_post_for_all(make_client, sandbox, installation, request_log):
    client = make_client()
    project_id = next(iter(sandbox.world.workspace(installation.workspace_id).projects))
    start, end = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)
    one = client.get_project_totals(project_id, start, end)
    every = list(client.iter_projects_totals(start, end))
    assert one and every
    methods = {r["method"] for r in request_log(path="/api/v1/workspaces/*/scheduling/assignments/projects/totals*")}
    assert methods == {"GET", "POST"}


def test_time_off_is_listed_with_a_post(make_client, request_log):
    """Quirk 10: listing time-off requests is a POST; a GET answers 405."""
    client = make_client()
    list(client.iter_time_off_requests(datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)))
    assert {r["method"] for r in request_log(path="/api/v1/workspaces/*/time-off/requests")} == {"POST"}
    with pytest.raises(ConflictError) as caught:
        client.request("GET", client._ws("/time-off/requests"))
    assert caught.value.status == 405


def test_invoice_exports_settings_and_duplicates(make_client, sandbox, installation):
    client = make_client()
    invoice = new_invoice(client, sandbox, installation, "EX-0001")
    assert client.export_invoice(invoice.id).startswith(b"%PDF")
    assert "labels" in client.get_invoice_settings()
    copy = client.duplicate_invoice(invoice.id)
    assert copy.id and copy.id != invoice.id
    client.update_invoice_status(invoice.id, "SENT")
    assert client.get_invoice(invoice.id).status == "SENT"
    client.delete_invoice(copy.id)
    with pytest.raises(NotFoundError):
        client.get_invoice(copy.id)


def test_addon_webhooks_and_settings_are_reachable(make_client, installation):
    client = make_client()
    hook = client.create_webhook(url="http://closeout.test/webhooks/assignments", event="ASSIGNMENT_UPDATED")
    assert hook.id in [h.id for h in client.list_addon_webhooks(installation.addon_id)]
    assert client.get_webhook(hook.id).event == "ASSIGNMENT_UPDATED"
    assert client.get_addon_settings() == {"tabs": []}
    with pytest.raises(BadRequestError):
        client.update_addon_settings({"no-such-setting": 1})


def test_paging_stops_on_a_last_page_header():
    from requests.structures import CaseInsensitiveDict

    from addon.clockify.client import _is_last

    assert _is_last(200, 200, 400, None, CaseInsensitiveDict({"Last-Page": "true"}))
    assert not _is_last(200, 200, 400, None, CaseInsensitiveDict({"Last-Page": "false"}))
    assert _is_last(200, 200, 400, 400, CaseInsensitiveDict())
    assert _is_last(10, 200, 410, None, CaseInsensitiveDict())
