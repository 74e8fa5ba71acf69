"""Confirm invoice over HTTP with the sandbox as Clockify and the real worker: exactly the approved time, one
invoice per confirmation whatever races or fails, gap-free numbers, the confirmer's token only."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests

from addon.billing import invoicing
from addon.billing.models import InvoiceJob, InvoiceNumber
from addon.crypto import encrypt
from addon.extensions import db
from addon.platform.clients import clients_for
from addon.tokens import verifier_for

from .conftest import TAB, poll

pytestmark = pytest.mark.sandbox


def preview(call: Any, client_id: str) -> str:
    response = call("GET", f"/clients/{client_id}/preview")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def digest_of(html: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def confirm(call: Any, client_id: str, digest: str) -> Any:
    return call("POST", f"/clients/{client_id}/invoice", data={"digest": digest})


def biggest_client(raw: Any) -> str:
    return max(raw.by_client().items(), key=lambda kv: kv[1]["amount"])[0]


def invoice_numbered(raw: Any, number: str) -> list[dict[str, Any]]:
    return [i for i in raw.invoices() if i["number"] == number]


def job_row(app: Any, job_id: int) -> InvoiceJob:
    with app.app_context():
        job = db.session.get(InvoiceJob, job_id)
        db.session.expunge(job)
        return job


def job_id_of(response: Any) -> int:
    found = re.search(r'data-invoice-job="(\d+)"', response.get_data(as_text=True))
    assert found, (response.status_code, response.get_data(as_text=True))
    return int(found.group(1))


def test_confirm_bills_exactly_the_approved_billable_uninvoiced_entries(as_user, raw, worker, app, sandbox):
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    included = {e["id"] for e in raw.billable(approved=True) if raw.client_of(e) == client_id}
    waiting = {e["id"] for e in raw.billable(approved=False) if raw.client_of(e) == client_id}
    with sandbox.world.lock:
        space = sandbox.world.workspaces[raw.workspace_id]
        others = {
            e["id"]
            for e in space.time_entries.values()
            if raw.client_of(e) == client_id and (not e["billable"] or e["invoiced"])
        }
    expected = sum(raw.amount(raw.entry(i)) for i in included)
    html = preview(call, client_id)
    assert f'data-subtotal="{expected}"' in html
    response = confirm(call, client_id, digest_of(html))
    assert response.status_code == 200
    job = poll(lambda: (j := job_row(app, job_id_of(response))).status == "done" and j, message="job done")
    assert job.subtotal == expected
    [invoice] = invoice_numbered(raw, job.number)
    assert invoice["clientId"] == client_id
    # Created with the confirming admin's own token, and the follow-up update set note and subject.
    assert invoice["userId"] == sandbox.state.user_id_for_role(raw.workspace_id, "OWNER")
    assert invoice["subject"] == job.subject and "Approved time billed by Closeout" in invoice["note"]
    assert {i for i in included if raw.entry(i)["invoiced"]} == included
    assert not any(raw.entry(i)["invoiced"] for i in waiting), "unapproved time is never billed"
    with sandbox.world.lock:
        still = {e["id"] for e in space.time_entries.values() if e["id"] in others and not e["billable"]}
    assert not any(raw.entry(i)["invoiced"] for i in still), "non-billable time is never marked"


def test_the_same_preview_confirmed_twice_makes_one_invoice_and_says_where_it_is(as_user, raw, worker, app):
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    digest = digest_of(preview(call, client_id))
    first = confirm(call, client_id, digest)
    job_id = job_id_of(first)
    second = confirm(call, client_id, digest)
    assert second.status_code == 409
    assert f'data-job-id="{job_id}"' in second.get_data(as_text=True)
    poll(lambda: job_row(app, job_id).status == "done", message="job done")
    third = confirm(as_user("ADMIN"), client_id, digest)
    assert third.status_code == 409 and "already invoiced" in third.get_data(as_text=True)
    assert len(invoice_numbered(raw, job_row(app, job_id).number)) == 1


def _confirm_over_http(url: str, token: str, client_id: str, digest: str, out: list[Any], barrier: Any) -> None:
    barrier.wait()
    response = requests.post(
        f"{url}{TAB}/clients/{client_id}/invoice",
        data={"digest": digest},
        headers={"HX-Request": "true", "X-Addon-Token": token},
        timeout=60,
    )
    out.append((client_id, response.status_code, response.text))


def test_two_admins_confirming_at_once_make_one_invoice_and_distinct_clients_get_distinct_numbers(
    as_user, raw, closeout_live, app
):
    owner, admin = as_user("OWNER"), as_user("ADMIN")
    first, second = sorted(raw.by_client(), key=lambda c: -raw.by_client()[c]["amount"])[:2]
    digests = {c: digest_of(preview(owner, c)) for c in (first, second)}
    out: list[Any] = []
    calls = [(owner.token, first), (admin.token, first), (owner.token, second), (admin.token, second)]
    barrier = threading.Barrier(len(calls))
    threads = [
        threading.Thread(target=_confirm_over_http, args=(closeout_live.url, t, c, digests[c], out, barrier))
        for t, c in calls
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client_id in (first, second):
        statuses = sorted(status for c, status, _ in out if c == client_id)
        assert statuses == [200, 409], out
    with app.app_context():
        jobs = db.session.scalars(db.select(InvoiceJob)).all()
        assert sorted(j.client_id for j in jobs) == sorted([first, second])
        assert len({j.number for j in jobs}) == 2 and len({j.sequence for j in jobs}) == 2


def test_a_crash_after_create_is_finished_by_the_worker_with_one_invoice(as_user, raw, app, sandbox, installed):
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    response = confirm(call, client_id, digest_of(preview(call, client_id)))
    job = job_row(app, job_id_of(response))
    # The worker that took the job sent the create and died before recording it: the invoice exists in
    # Clockify with the job's number, Closeout has only the attempt on record.
    with app.app_context():
        step = db.session.scalar(db.select(invoicing.InvoiceJobStep).filter_by(job_id=job.id, name="create"))
        step.attempts = 1
        db.session.commit()
    sandbox.control(
        "POST",
        "/world/create_invoice",
        {
            "workspace_id": raw.workspace_id,
            "client_id": client_id,
            "number": job.number,
            "currency": job.currency,
            "issued": f"{job.issued_on.isoformat()}T00:00:00Z",
            "due": f"{job.due_on.isoformat()}T00:00:00Z",
        },
    )
    assert run_job(app, job.id) == "done"
    assert len(invoice_numbered(raw, job.number)) == 1
    lines = {line.time_entry_id for line in lines_of(app, job.id)}
    assert lines and all(raw.entry(i)["invoiced"] for i in lines)


def test_a_5xx_on_marking_is_retried_by_the_worker_with_one_invoice(as_user, raw, app, sandbox, worker):
    sandbox.control(
        "POST",
        "/faults",
        {"pattern": "/api/v1/workspaces/*/time-entries/invoiced", "errorRate": 1, "errorStatus": 503, "times": 7},
    )
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    response = confirm(call, client_id, digest_of(preview(call, client_id)))
    job_id = job_id_of(response)
    poll(lambda: job_row(app, job_id).status == "retrying", message="the job to meet the 5xx")
    job = poll(lambda: (j := job_row(app, job_id)).status == "done" and j, timeout=30, message="job done")
    assert len(invoice_numbered(raw, job.number)) == 1
    assert all(raw.entry(line.time_entry_id)["invoiced"] for line in lines_of(app, job_id))


def test_a_number_used_natively_in_clockify_is_skipped_and_a_failed_create_burns_none(as_user, raw, app, sandbox):
    call = as_user("OWNER")
    first, second = sorted(raw.by_client(), key=lambda c: -raw.by_client()[c]["amount"])[:2]
    # A failed create (Clockify refuses it) frees its number and the entries.
    sandbox.control(
        "POST",
        "/faults",
        {
            "pattern": "/api/v1/workspaces/*/invoices",
            "methods": ["POST"],
            "errorRate": 1,
            "errorStatus": 400,
            "times": 1,
        },
    )
    failed = job_row(app, job_id_of(confirm(call, first, digest_of(preview(call, first)))))
    assert run_job(app, failed.id) == "failed"
    assert job_row(app, failed.id).active_client_id is None and not lines_of(app, failed.id)
    # Someone makes the next number natively in Clockify meanwhile.
    sandbox.control(
        "POST",
        "/world/create_invoice",
        {
            "workspace_id": raw.workspace_id,
            "client_id": second,
            "number": failed.number,
            "currency": "USD",
            "issued": "2026-01-01T00:00:00Z",
            "due": "2026-01-31T00:00:00Z",
        },
    )
    retried = job_row(app, job_id_of(confirm(call, first, digest_of(preview(call, first)))))
    assert retried.sequence == failed.sequence, "the freed number is taken first"
    assert run_job(app, retried.id) == "done"
    done = job_row(app, retried.id)
    assert done.sequence == failed.sequence + 1, "the natively used number is skipped"
    assert len(invoice_numbered(raw, done.number)) == 1
    with app.app_context():
        states = {
            seq: status for seq, status in db.session.execute(db.select(InvoiceNumber.sequence, InvoiceNumber.status))
        }
        db.session.remove()
    assert states == {failed.sequence: "taken", failed.sequence + 1: "used"}


def test_a_lapsed_token_makes_the_job_wait_for_the_confirmer_never_the_installation(
    as_user, raw, app, sandbox, user_token
):
    call = as_user("OWNER")
    client_id = biggest_client(raw)
    job_id = job_id_of(confirm(call, client_id, digest_of(preview(call, client_id))))
    # The confirmer's session lapses before the worker gets to the job.
    with app.app_context():
        db.session.get(InvoiceJob, job_id).user_token_ciphertext = encrypt(user_token("OWNER", ttl=1))
        db.session.commit()
        db.session.remove()
    assert run_job(app, job_id) == "waiting_token"
    assert not invoice_numbered(raw, job_row(app, job_id).number)
    # Another admin's poll does not hand over their token.
    assert as_user("ADMIN")("GET", f"/jobs/{job_id}?poll=1").status_code == 200
    assert job_row(app, job_id).status == "waiting_token"
    assert 'data-job-status="queued"' in call("GET", f"/jobs/{job_id}?poll=1").get_data(as_text=True)
    assert run_job(app, job_id) == "done"
    [invoice] = invoice_numbered(raw, job_row(app, job_id).number)
    assert invoice["userId"] == sandbox.state.user_id_for_role(raw.workspace_id, "OWNER")


def run_job(app: Any, job_id: int) -> str:
    """Run the named task's body once, as the worker does."""
    with app.app_context():
        try:
            return invoicing.run_invoice_job(job_id, clients_for(app), verifier_for(app))
        except invoicing.RetryLater:
            return "retrying"
        finally:
            db.session.remove()


def lines_of(app: Any, job_id: int) -> list[Any]:
    with app.app_context():
        rows = db.session.scalars(db.select(invoicing.InvoiceLine).filter_by(job_id=job_id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)
