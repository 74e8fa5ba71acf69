"""Ready to bill over HTTP with the sandbox as Clockify: per client, approved only, waiting beside it, admins only."""

from __future__ import annotations

import re

import pytest

from .conftest import TAB, rows

pytestmark = pytest.mark.sandbox


def test_each_client_row_holds_exactly_its_approved_billable_uninvoiced_time(client, user_token, raw):
    response = client.get(f"{TAB}?auth_token={user_token('OWNER')}")
    assert response.status_code == 200
    shown = rows(response.get_data(as_text=True))
    expected = raw.by_client(approved=True)
    assert expected, "the demo has approved billable time"
    billed = {k: v for k, v in shown.items() if v["amount"] or v["seconds"]}
    assert {k: (v["seconds"], v["amount"]) for k, v in billed.items()} == {
        k: (v["seconds"], v["amount"]) for k, v in expected.items()
    }


def test_time_waiting_for_approval_is_shown_beside_and_never_counted(client, user_token, raw):
    html = client.get(f"{TAB}?auth_token={user_token('OWNER')}").get_data(as_text=True)
    shown = rows(html)
    waiting = raw.by_client(approved=False)
    assert waiting, "the demo has billable time still pending approval"
    assert {k: v["waiting"] for k, v in shown.items() if v["waiting"]} == {k: v["seconds"] for k, v in waiting.items()}
    assert "/approvals?tab=addon-approvals.tab" in html


def test_the_drill_down_splits_a_client_by_project_and_by_person(as_user, raw):
    call = as_user("OWNER")
    client_id, expected = max(raw.by_client().items(), key=lambda kv: kv[1]["amount"])
    html = call("GET", f"/clients/{client_id}").get_data(as_text=True)
    projects = html.split('data-by="project"', 1)[1].split("</table>", 1)[0]
    people = html.split('data-by="person"', 1)[1].split("</table>", 1)[0]
    for part in (projects, people):
        amounts = [int(a) for a in re.findall(r'data-amount="(\d+)"', part)]
        assert sum(amounts) == expected["amount"]


def test_a_date_range_narrows_the_rows_and_nonsense_dates_get_a_422(as_user):
    call = as_user("OWNER")
    assert call("GET", "/ready?start=2001-01-01&end=2001-01-31").get_data(as_text=True).count("data-client-id") == 0
    bad = call("GET", "/ready?start=yesterday")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)


@pytest.mark.parametrize("role", ["MEMBER", "TEAM_MANAGER"])
def test_members_and_team_managers_get_403_on_every_billing_route(as_user, role, raw):
    call = as_user(role)
    client_id = next(iter(raw.by_client()))
    for method, path in [
        ("GET", ""),
        ("GET", "/ready"),
        ("GET", f"/clients/{client_id}"),
        ("GET", f"/clients/{client_id}/preview"),
        ("POST", f"/clients/{client_id}/invoice"),
        ("GET", "/receivables"),
        ("GET", "/jobs/1"),
        ("GET", "/jobs/1/lines.csv"),
    ]:
        response = call(method, path)
        assert response.status_code == 403, (method, path)
        assert "data-client-id" not in response.get_data(as_text=True)


def test_opening_the_tab_costs_calls_by_page_never_by_entry_or_client(client, user_token, request_log, sandbox, raw):
    client.get(f"{TAB}?auth_token={user_token('OWNER')}")  # the first opening also fills receivables
    sandbox.control("DELETE", "/requests")
    client.get(f"{TAB}?auth_token={user_token('OWNER')}")
    calls = [r for r in request_log() if r["path"].startswith(("/api/", "/reports/"))]
    reports = [r for r in calls if r["path"].endswith("/reports/detailed")]
    pages = -(-sum(v["entries"] for v in raw.by_client().values()) // 1000)
    assert len(reports) == pages, "one report call per 1,000 approved entries"
    expense_pages = [r for r in calls if r["path"].endswith("/reports/expenses/detailed")]
    assert len(expense_pages) == 2, "one expense report page each for approved and waiting expenses"
    # The pages, one summary (waiting for approval), the client list; invoices come from Closeout's copy.
    assert len(calls) == pages + 2 + 2, [(r["method"], r["path"]) for r in calls]


def test_expenses_are_shown_per_client_approved_beside_the_time_and_never_unapproved(client, user_token, raw, sandbox):
    approved, waiting = raw.expenses_by_client(approved=True), raw.expenses_by_client(approved=False)
    assert approved and waiting, "the demo has approved and unapproved billable expenses"
    html = client.get(f"{TAB}?auth_token={user_token('OWNER')}").get_data(as_text=True)
    shown = dict(re.findall(r'data-client-id="([^"]+)"[^>]*data-expenses-amount="(\d+)"', html))
    assert {k: int(v) for k, v in shown.items() if int(v)} == approved
    held = dict(re.findall(r'data-client-id="([^"]+)"[^>]*data-waiting-expenses-amount="(\d+)"', html))
    assert {k: int(v) for k, v in held.items() if int(v)} == waiting
    assert "data-expenses-note" in html
    # The time's amount (what the invoice bills) is unchanged by expenses.
    assert {k: v["amount"] for k, v in rows(html).items() if v["amount"]} == {
        k: v["amount"] for k, v in raw.by_client().items()
    }
