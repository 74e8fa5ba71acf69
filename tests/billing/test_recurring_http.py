"""Recurring invoices over HTTP with the sandbox as Clockify: the plan saved from the tab, the run on its day,
once a month whatever runs twice, and a crash between the duplicate and its record finished with one invoice."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest

from addon.billing.invoicing import RetryLater
from addon.billing.models import InvoiceNumber, RecurringRun
from addon.billing.recurring import ATTEMPT_LEASE_SECONDS, next_run, run_date
from addon.extensions import db, utcnow
from addon.jobs import _run_recurring
from addon.settings.store import Actor, get_settings, save

pytestmark = pytest.mark.sandbox

DAY = 5


def template_of(raw: Any) -> dict[str, Any]:
    """A seeded invoice with a client and items, to bill monthly."""
    return next(i for i in sorted(raw.invoices(), key=lambda i: i["id"]) if i["clientId"] and i["items"])


def plan(app: Any, workspace_id: str, client_id: str, invoice_id: str, day: int = DAY, since: str = "2000-01-01"):
    with app.app_context():
        save(
            workspace_id,
            {
                "invoicing.recurring_clients": [client_id],
                "invoicing.recurring_templates": {client_id: {"invoice": invoice_id, "day": day, "since": since}},
            },
            Actor("test"),
        )
        db.session.commit()


def run(runner: Any, workspace_id: str, on: date) -> str:
    result = runner.invoke(args=["billing", "recurring", "--workspace", workspace_id, "--date", on.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def run_failing(runner: Any, workspace_id: str, on: date) -> None:
    """A run that leaves work for a retry: the task raises so the worker tries again."""
    result = runner.invoke(args=["billing", "recurring", "--workspace", workspace_id, "--date", on.isoformat()])
    assert result.exit_code != 0 and isinstance(result.exception, RetryLater), result.output


def of_client(raw: Any, client_id: str) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in raw.invoices() if i["clientId"] == client_id}


def duplicates_sent(request_log: Any) -> list[dict[str, Any]]:
    return [r for r in request_log(method="POST") if r["path"].endswith("/duplicate")]


def runs(app: Any) -> list[RecurringRun]:
    with app.app_context():
        found = list(db.session.scalars(db.select(RecurringRun).order_by(RecurringRun.id)))
        for r in found:
            db.session.expunge(r)
        return found


def test_next_run_dates_follow_the_day_the_month_and_what_is_billed():
    assert run_date(31, 2027, 2) == date(2027, 2, 28) and run_date(31, 2028, 2) == date(2028, 2, 29)
    since = date(2027, 1, 1)
    assert next_run(5, since, date(2027, 3, 2), set()) == date(2027, 3, 5)
    assert next_run(5, since, date(2027, 3, 9), set()) == date(2027, 3, 9), "a missed day is caught up this month"
    assert next_run(5, since, date(2027, 3, 9), {"2027-03"}) == date(2027, 4, 5)
    assert next_run(5, date(2027, 3, 20), date(2027, 3, 20), set()) == date(2027, 4, 5), "never before the plan"
    assert next_run(31, since, date(2027, 12, 31), {"2027-12"}) == date(2028, 1, 31)


def test_an_admin_saves_a_plan_in_the_tab_and_sees_its_next_run(as_user, raw, app):
    call = as_user("OWNER")
    assert call("GET", "").status_code == 200  # fills receivables, where templates are chosen
    template = template_of(raw)
    saved = call("POST", "/recurring", data={"invoice": template["id"], "day": "31"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    html = saved.get_data(as_text=True)
    found = re.search(rf'data-recurring-client="{template["clientId"]}" data-next-run="([\d-]+)"', html)
    assert found and found.group(1) >= date.today().isoformat()
    with app.app_context():
        settings = get_settings(raw.workspace_id)
        assert settings["invoicing.recurring_clients"] == [template["clientId"]]
        stored = settings["invoicing.recurring_templates"][template["clientId"]]
        assert stored["invoice"] == template["id"] and stored["day"] == 31
    page = call("GET", "").get_data(as_text=True)
    assert f'data-recurring-client="{template["clientId"]}"' in page and "Save recurring invoice" in page
    # Nonsense is refused beside the form, and nothing is saved.
    for form in ({"invoice": template["id"], "day": "0"}, {"invoice": template["id"], "day": "x"}, {"invoice": "nope"}):
        refused = call("POST", "/recurring", data=form)
        assert refused.status_code == 422 and 'data-error="recurring"' in refused.get_data(as_text=True)
    assert as_user("MEMBER")("POST", "/recurring", data={"invoice": template["id"], "day": "3"}).status_code == 403
    stopped = call("POST", f"/recurring/{template['clientId']}/stop")
    assert stopped.status_code == 200 and "data-recurring-client" not in stopped.get_data(as_text=True)
    with app.app_context():
        assert get_settings(raw.workspace_id)["invoicing.recurring_clients"] == []


def test_it_runs_on_its_day_once_a_month_with_the_next_number_and_new_dates(runner, raw, app, request_log):
    template = template_of(raw)
    client_id = template["clientId"]
    plan(app, raw.workspace_id, client_id, template["id"])
    before = of_client(raw, client_id)
    day = date(2027, 3, DAY)
    assert "0 recurring invoice(s) made" in run(runner, raw.workspace_id, day - timedelta(days=1))
    assert of_client(raw, client_id) == before and not duplicates_sent(request_log)

    assert "1 recurring invoice(s) made" in run(runner, raw.workspace_id, day)
    made = {k: v for k, v in of_client(raw, client_id).items() if k not in before}
    assert len(made) == 1 and len(duplicates_sent(request_log)) == 1
    [copy] = made.values()
    with app.app_context():
        settings = get_settings(raw.workspace_id)
        due_days = settings["invoicing.due_days"]
        used = db.session.scalars(db.select(InvoiceNumber).filter_by(status="used")).all()
    assert copy["number"] == "INV-2027-0001" and [u.number for u in used] == ["INV-2027-0001"]
    assert copy["issuedDate"].date() == day and copy["dueDate"].date() == day + timedelta(days=due_days)
    assert copy["status"] == "UNSENT" and len(copy["items"]) == len(template["items"])
    [done] = runs(app)
    assert (done.status, done.month, done.clockify_invoice_id) == ("done", "2027-03", copy["id"])

    # A second run that month, the same day or later, changes nothing.
    for again in (day, day + timedelta(days=9)):
        assert "0 recurring invoice(s) made" in run(runner, raw.workspace_id, again)
    assert len(of_client(raw, client_id)) == len(before) + 1 and len(duplicates_sent(request_log)) == 1

    # Next month bills again, with the next number.
    assert "1 recurring invoice(s) made" in run(runner, raw.workspace_id, date(2027, 4, DAY))
    numbers = sorted(i["number"] for k, i in of_client(raw, client_id).items() if k not in before)
    assert numbers == ["INV-2027-0001", "INV-2027-0002"]


def test_a_crash_between_duplicate_and_record_is_finished_without_a_second_invoice(
    runner, raw, app, sandbox, request_log
):
    template = template_of(raw)
    client_id = template["clientId"]
    plan(app, raw.workspace_id, client_id, template["id"])
    before = of_client(raw, client_id)
    day = date(2027, 5, DAY)
    # The duplicate fails to answer: the run is on record with its attempt and what the client had before.
    sandbox.control(
        "POST",
        "/faults",
        {"pattern": "/api/v1/workspaces/*/invoices/*/duplicate", "errorRate": 1, "errorStatus": 503, "times": 1},
    )
    run_failing(runner, raw.workspace_id, day)  # the task's retry (or the next run) resumes it
    [pending] = runs(app)
    assert (pending.status, pending.step, pending.attempts, pending.clockify_invoice_id) == (
        "running",
        "duplicate",
        1,
        None,
    )
    assert set(pending.known_invoice_ids) == set(before)
    # ...but it had landed in Clockify before the answer was lost (the worker died between duplicate and record).
    landed = sandbox.control(
        "POST", "/world/duplicate_invoice", {"workspace_id": raw.workspace_id, "invoice_id": template["id"]}
    ).json()["result"]
    sandbox.control("DELETE", "/requests")
    # Right after the attempt nobody reads for its copy or re-sends: its answer may still be on the way.
    run_failing(runner, raw.workspace_id, day)
    assert not duplicates_sent(request_log) and not [r for r in request_log() if "/invoices" in r["path"]]
    # Once the attempt is older than the lease, the worker that sent it is taken to have died.
    with app.app_context():
        db.session.execute(
            db.update(RecurringRun).values(updated_at=utcnow() - timedelta(seconds=ATTEMPT_LEASE_SECONDS + 1))
        )
        db.session.commit()

    assert "1 recurring invoice(s) made" in run(runner, raw.workspace_id, day)
    assert not duplicates_sent(request_log), "read before re-sending: the copy was found, not made again"
    made = {k: v for k, v in of_client(raw, client_id).items() if k not in before}
    assert list(made) == [landed["id"]] and made[landed["id"]]["number"] == "INV-2027-0001"
    [done] = runs(app)
    assert done.status == "done" and done.clockify_invoice_id == landed["id"]
    assert "0 recurring invoice(s) made" in run(runner, raw.workspace_id, day)
    assert len(of_client(raw, client_id)) == len(before) + 1


def test_a_missing_template_fails_the_month_frees_its_number_and_saving_again_retries(runner, raw, app, sandbox):
    template = template_of(raw)
    client_id = template["clientId"]
    plan(app, raw.workspace_id, client_id, "gone-invoice")
    day = date(2027, 6, DAY)
    run(runner, raw.workspace_id, day)
    [failed] = runs(app)
    assert failed.status == "failed" and "template" in (failed.error or "") and failed.number is None
    with app.app_context():
        assert db.session.scalars(db.select(InvoiceNumber.status)).all() == ["free"]
    plan(app, raw.workspace_id, client_id, template["id"])
    # The tab's save clears a failed month without a copy; here the plan changed in settings, so clear it as
    # the tab would and run again: the freed number is the one used.
    with app.app_context():
        db.session.execute(db.delete(RecurringRun))
        db.session.commit()
    assert "1 recurring invoice(s) made" in run(runner, raw.workspace_id, day)
    assert [r.number for r in runs(app)] == ["INV-2027-0001"]


def test_two_runs_at_once_make_one_invoice(raw, app, request_log):
    template = template_of(raw)
    plan(app, raw.workspace_id, template["clientId"], template["id"])
    before = of_client(raw, template["clientId"])
    day = date(2027, 7, DAY)
    outcomes: list[Any] = []

    def go() -> None:
        try:
            outcomes.append(_run_recurring(app, raw.workspace_id, day))
        except Exception as exc:  # the loser may find the attempt in flight and ask for a retry
            outcomes.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2 and outcomes.count(1) >= 1, outcomes
    assert all(o in (0, 1) or isinstance(o, RetryLater) for o in outcomes), outcomes
    assert len(duplicates_sent(request_log)) == 1
    made = [k for k in of_client(raw, template["clientId"]) if k not in before]
    assert len(made) == 1 and len(runs(app)) == 1
