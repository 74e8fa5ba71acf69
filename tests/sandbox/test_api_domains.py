"""Time entries, invoices, scheduling, reports, webhooks and settings behave as Clockify's do, quirks included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.sandbox.conftest import ADDON_ID, ApiSandbox


def record_events(sb: ApiSandbox) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    sb.world.subscribe(lambda ws, event, payload: events.append((event, payload)))
    return events


def a_partially_paid_invoice(sb: ApiSandbox) -> dict[str, Any]:
    ws = sb.world.workspace(sb.ws)
    return next(i for i in ws.invoices.values() if i["status"] == "PARTIALLY_PAID")


# ---- time entries --------------------------------------------------------------------------------


def test_user_entries_are_newest_first_within_start_and_end(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    rows = api_sandbox.get(
        f"/api/v1/workspaces/{{ws}}/user/{member}/time-entries",
        query_string={"start": "2026-11-16T00:00:00Z", "end": "2026-11-22T23:59:59Z", "page-size": 200},
    ).get_json()
    starts = [r["timeInterval"]["start"] for r in rows]
    assert rows and starts == sorted(starts, reverse=True)
    assert all("2026-11-16" <= s[:10] <= "2026-11-22" for s in starts)
    assert all(r["timeInterval"]["duration"].startswith("PT") for r in rows)


def test_a_member_cannot_read_someone_elses_entries(api_sandbox: ApiSandbox) -> None:
    owner = api_sandbox.user_id("ADMIN")
    response = api_sandbox.get(
        f"/api/v1/workspaces/{{ws}}/user/{owner}/time-entries", token=api_sandbox.user_token("MEMBER")
    )
    assert response.status_code == 403


def test_updating_an_entry_replaces_it_and_emits_time_entry_updated(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    entry = next(e for e in ws.entries_of(api_sandbox.user_id("MEMBER")) if not e["isLocked"])
    body = {"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T10:30:00Z", "description": "Review"}
    response = api_sandbox.call("PUT", f"/api/v1/workspaces/{{ws}}/time-entries/{entry['id']}", json=body)
    assert response.status_code == 200
    assert response.get_json()["timeInterval"]["duration"] == "PT1H30M"
    assert response.get_json()["projectId"] is None  # full replacement: no project given, none kept
    assert events[-1][0] == "TIME_ENTRY_UPDATED" and events[-1][1]["id"] == entry["id"]


def test_approved_entries_are_locked_against_edits(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    entry = next(e for e in ws.time_entries.values() if e["isLocked"])
    body = {"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T10:00:00Z"}
    response = api_sandbox.call("PUT", f"/api/v1/workspaces/{{ws}}/time-entries/{entry['id']}", json=body)
    assert response.status_code == 400


def test_marking_entries_invoiced_shows_in_the_uninvoiced_report(api_sandbox: ApiSandbox) -> None:
    report = {
        "dateRangeStart": "2026-09-01T00:00:00Z",
        "dateRangeEnd": "2026-11-30T00:00:00Z",
        "approvalState": "APPROVED",
        "invoicingState": "UNINVOICED",
        "detailedFilter": {"page": 1, "pageSize": 5},
    }
    before = api_sandbox.call("POST", "/reports/v1/workspaces/{ws}/reports/detailed", json=report).get_json()
    ids = [row["_id"] for row in before["timeentries"]]
    assert len(ids) == 5
    marked = api_sandbox.call(
        "PATCH", "/api/v1/workspaces/{ws}/time-entries/invoiced", json={"invoiced": True, "timeEntryIds": ids}
    )
    assert marked.status_code == 200
    after = api_sandbox.call("POST", "/reports/v1/workspaces/{ws}/reports/detailed", json=report).get_json()
    assert not set(ids) & {row["_id"] for row in after["timeentries"]}
    assert after["totals"][0]["entriesCount"] == before["totals"][0]["entriesCount"] - 5


def test_marking_an_unknown_entry_invoiced_changes_nothing(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    real = next(e for e in ws.time_entries.values() if not e["invoiced"])
    body = {"invoiced": True, "timeEntryIds": [real["id"], "5f00000000000000000fffff"]}
    assert api_sandbox.call("PATCH", "/api/v1/workspaces/{ws}/time-entries/invoiced", json=body).status_code == 404
    assert real["invoiced"] is False


def test_a_running_timer_is_listed_as_in_progress(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    running = api_sandbox.world.add_time_entry(api_sandbox.ws, member, datetime(2026, 11, 25, 8, tzinfo=UTC), None)
    rows = api_sandbox.get("/api/v1/workspaces/{ws}/time-entries/status/in-progress").get_json()
    assert [r["id"] for r in rows] == [running["id"]]
    assert rows[0]["timeInterval"]["end"] is None
    assert (
        api_sandbox.get(
            "/api/v1/workspaces/{ws}/time-entries/status/in-progress", query_string={"page-size": 1001}
        ).status_code
        == 400
    )


# ---- reports -------------------------------------------------------------------------------------


def test_detailed_report_honours_approval_billable_and_project_filters(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    project = next(p for p in ws.projects.values() if p["billable"])
    body = {
        "dateRangeStart": "2026-09-01T00:00:00Z",
        "dateRangeEnd": "2026-11-30T00:00:00Z",
        "approvalState": "APPROVED",
        "billable": True,
        "projects": {"ids": [project["id"]], "contains": "CONTAINS"},
        "detailedFilter": {"page": 1, "pageSize": 1000},
    }
    rows = api_sandbox.call("POST", "/reports/v1/workspaces/{ws}/reports/detailed", json=body).get_json()["timeentries"]
    assert rows
    for row in rows:
        entry = ws.time_entries[row["_id"]]
        assert entry["billable"] and entry["projectId"] == project["id"]
        assert ws.approvals[entry["approvalRequestId"]]["state"] == "APPROVED"
        assert isinstance(row["timeInterval"]["duration"], int)
        assert row["amount"] == round(row["timeInterval"]["duration"] / 3600 * project["hourlyRate"])


def test_detailed_report_pages_and_answers_null_totals_when_empty(api_sandbox: ApiSandbox) -> None:
    body = {"dateRangeStart": "2026-11-16T00:00:00Z", "dateRangeEnd": "2026-11-22T23:59:59Z"}
    first = api_sandbox.call(
        "POST", "/reports/v1/workspaces/{ws}/reports/detailed", json={**body, "detailedFilter": {"pageSize": 7}}
    ).get_json()
    second = api_sandbox.call(
        "POST",
        "/reports/v1/workspaces/{ws}/reports/detailed",
        json={**body, "detailedFilter": {"page": 2, "pageSize": 7}},
    ).get_json()
    assert len(first["timeentries"]) == 7 and len(second["timeentries"]) == 7
    assert not {r["_id"] for r in first["timeentries"]} & {r["_id"] for r in second["timeentries"]}
    empty = api_sandbox.call(
        "POST",
        "/reports/v1/workspaces/{ws}/reports/detailed",
        json={"dateRangeStart": "2020-01-01T00:00:00Z", "dateRangeEnd": "2020-01-02T00:00:00Z", "detailedFilter": {}},
    ).get_json()
    assert empty == {"totals": [None], "timeentries": []}


def test_summary_report_groups_by_client_then_project(api_sandbox: ApiSandbox) -> None:
    body = {
        "dateRangeStart": "2026-11-16T00:00:00Z",
        "dateRangeEnd": "2026-11-22T23:59:59Z",
        "summaryFilter": {"groups": ["CLIENT", "PROJECT"]},
    }
    report = api_sandbox.call("POST", "/reports/v1/workspaces/{ws}/reports/summary", json=body).get_json()
    total = report["totals"][0]["totalTime"]
    assert sum(group["duration"] for group in report["groupOne"]) == total
    for group in report["groupOne"]:
        assert sum(child["duration"] for child in group["children"]) == group["duration"]


def test_a_member_sees_only_their_own_time_in_reports(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    body = {"dateRangeStart": "2026-11-01T00:00:00Z", "dateRangeEnd": "2026-11-22T23:59:59Z", "detailedFilter": {}}
    rows = api_sandbox.call(
        "POST", "/reports/v1/workspaces/{ws}/reports/detailed", json=body, token=api_sandbox.user_token("MEMBER")
    ).get_json()["timeentries"]
    assert rows and {r["userId"] for r in rows} == {member}


def test_report_without_its_filter_object_is_400(api_sandbox: ApiSandbox) -> None:
    body = {"dateRangeStart": "2026-11-01T00:00:00Z", "dateRangeEnd": "2026-11-22T23:59:59Z"}
    response = api_sandbox.call("POST", "/reports/v1/workspaces/{ws}/reports/detailed", json=body)
    assert response.status_code == 400 and "detailedFilter" in response.get_json()["message"]


# ---- invoices ------------------------------------------------------------------------------------


def test_seed_has_invoices_in_every_status(api_sandbox: ApiSandbox) -> None:
    body = api_sandbox.get("/api/v1/workspaces/{ws}/invoices", query_string={"page-size": 100}).get_json()
    assert {i["status"] for i in body["invoices"]} == {"UNSENT", "SENT", "PAID", "PARTIALLY_PAID", "VOID", "OVERDUE"}
    assert body["total"] == len(body["invoices"])
    paid = api_sandbox.get(
        "/api/v1/workspaces/{ws}/invoices", query_string={"statuses": "PAID,PARTIALLY_PAID"}
    ).get_json()
    assert {i["status"] for i in paid["invoices"]} == {"PAID", "PARTIALLY_PAID"}


def test_invoice_create_drops_note_and_subject(api_sandbox: ApiSandbox) -> None:
    client_id = next(iter(api_sandbox.world.workspace(api_sandbox.ws).clients))
    body = {
        "clientId": client_id,
        "currency": "USD",
        "number": "3001",
        "issuedDate": "2026-11-25T00:00:00Z",
        "dueDate": "2026-12-25T00:00:00Z",
        "note": "dropped",
        "subject": "dropped",
    }
    created = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/invoices", json=body)
    assert created.status_code == 201
    invoice = api_sandbox.get(f"/api/v1/workspaces/{{ws}}/invoices/{created.get_json()['id']}").get_json()
    assert invoice["note"] == "" and invoice["subject"] == ""
    assert invoice["status"] == "UNSENT"


def test_invoice_put_is_a_full_replacement_and_get_scales_percents(api_sandbox: ApiSandbox) -> None:
    invoice = a_partially_paid_invoice(api_sandbox)
    url = f"/api/v1/workspaces/{{ws}}/invoices/{invoice['id']}"
    put = {
        "currency": "USD",
        "number": invoice["number"],
        "issuedDate": "2026-11-01T00:00:00Z",
        "dueDate": "2026-12-01T00:00:00Z",
        "taxPercent": 10,
        "tax2Percent": 0,
        "discountPercent": 0,
    }
    assert api_sandbox.call("PUT", url, json=put).status_code == 200
    read = api_sandbox.get(url).get_json()
    assert read["tax"] == 1000  # 10 % reads back x100
    assert read["note"] == ""  # left out of the PUT: cleared
    assert read["taxAmount"] == round(read["subtotal"] * 0.10)
    missing = {k: v for k, v in put.items() if k != "taxPercent"}
    assert api_sandbox.call("PUT", url, json=missing).status_code == 400


def test_adding_a_payment_returns_the_invoice_and_settles_it(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    invoice = a_partially_paid_invoice(api_sandbox)
    url = f"/api/v1/workspaces/{{ws}}/invoices/{invoice['id']}"
    balance = api_sandbox.get(url).get_json()["balance"]
    added = api_sandbox.call("POST", url + "/payments", json={"amount": balance, "paymentDate": "2026-11-25"})
    assert added.status_code == 201
    assert added.get_json()["id"] == invoice["id"]  # the invoice, not the payment
    assert added.get_json()["status"] == "PAID" and added.get_json()["balance"] == 0
    payments = api_sandbox.get(url + "/payments").get_json()
    assert len(payments) == 2
    assert events[-1][0] == "INVOICE_UPDATED"
    removed = api_sandbox.call("DELETE", f"{url}/payments/{payments[-1]['id']}")
    assert removed.get_json()["status"] == "PARTIALLY_PAID"


def test_a_payment_larger_than_the_balance_is_refused(api_sandbox: ApiSandbox) -> None:
    invoice = a_partially_paid_invoice(api_sandbox)
    url = f"/api/v1/workspaces/{{ws}}/invoices/{invoice['id']}/payments"
    assert api_sandbox.call("POST", url, json={"amount": 10**12}).status_code == 400
    assert api_sandbox.call("POST", url, json={"amount": 0}).status_code == 400


def test_invoice_status_change_emits_invoice_updated(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    invoice = a_partially_paid_invoice(api_sandbox)
    url = f"/api/v1/workspaces/{{ws}}/invoices/{invoice['id']}/status"
    assert api_sandbox.call("PATCH", url, json={"invoiceStatus": "VOID"}).status_code == 200
    assert events[-1] == ("INVOICE_UPDATED", events[-1][1]) and events[-1][1]["status"] == "VOID"
    assert api_sandbox.call("PATCH", url, json={"invoiceStatus": "LOST"}).status_code == 400


def test_invoices_info_filters_overdue_and_reports_days_overdue(api_sandbox: ApiSandbox) -> None:
    api_sandbox.world.set_clock(lambda: datetime(2026, 11, 25, 12, tzinfo=UTC))
    body = {"page": 1, "pageSize": 50, "statuses": ["OVERDUE"]}
    rows = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/invoices/info", json=body).get_json()["invoices"]
    assert len(rows) == 1 and rows[0]["daysOverdue"] > 0


def test_members_cannot_read_invoices(api_sandbox: ApiSandbox) -> None:
    response = api_sandbox.get("/api/v1/workspaces/{ws}/invoices", token=api_sandbox.user_token("MEMBER"))
    assert response.status_code == 403


def test_two_identical_posts_make_two_invoices(api_sandbox: ApiSandbox) -> None:
    client_id = next(iter(api_sandbox.world.workspace(api_sandbox.ws).clients))
    body = {
        "clientId": client_id,
        "currency": "USD",
        "number": "4001",
        "issuedDate": "2026-11-25T00:00:00Z",
        "dueDate": "2026-12-25T00:00:00Z",
    }
    headers = {"Idempotency-Key": "same"}
    first = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/invoices", json=body, headers=headers)
    second = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/invoices", json=body, headers=headers)
    assert first.get_json()["id"] != second.get_json()["id"]


# ---- scheduling ----------------------------------------------------------------------------------


def test_someone_is_over_allocated_and_someone_under(api_sandbox: ApiSandbox) -> None:
    body = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-27T23:59:59Z", "page": 1, "pageSize": 200}
    rows = api_sandbox.call(
        "POST", "/api/v1/workspaces/{ws}/scheduling/assignments/user-filter/totals", json=body
    ).get_json()
    ratios = [
        max((d["totalHours"] for d in r["totalHoursPerDay"]), default=0) / r["capacityPerDay"]
        for r in rows
        if r["capacityPerDay"]
    ]
    assert max(ratios) > 1.07
    assert 0 < min(r for r in ratios if r) < 0.9


def test_recurring_create_returns_an_array_of_weekly_copies(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    project = next(p for p in ws.projects.values() if p["billable"])
    body = {
        "userId": api_sandbox.user_id("MEMBER"),
        "projectId": project["id"],
        "start": "2026-12-07T00:00:00Z",
        "end": "2026-12-11T00:00:00Z",
        "hoursPerDay": 2.5,
        "recurringAssignment": {"repeat": True, "weeks": 3},
    }
    created = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/scheduling/assignments/recurring", json=body)
    assert created.status_code == 201
    rows = created.get_json()
    assert [r["period"]["start"][:10] for r in rows] == ["2026-12-07", "2026-12-14", "2026-12-21"]
    assert len({r["recurring"]["seriesId"] for r in rows}) == 1
    assert [e for e, _ in events] == ["ASSIGNMENT_CREATED"] * 3
    assert set(events[0][1]) == {"workspaceId", "userId", "projectId", "assignmentId"}
    single = api_sandbox.call(
        "POST", "/api/v1/workspaces/{ws}/scheduling/assignments/recurring", json={**body, "recurringAssignment": None}
    )
    assert isinstance(single.get_json(), list) and len(single.get_json()) == 1


def test_publishing_is_scoped_to_the_range(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    drafts = [a for a in ws.assignments.values() if not a["published"]]
    assert drafts
    first_week = min(a["start"] for a in drafts)
    body = {"start": f"{first_week.isoformat()}T00:00:00Z", "end": f"{first_week.isoformat()}T23:59:59Z"}
    assert (
        api_sandbox.call("PUT", "/api/v1/workspaces/{ws}/scheduling/assignments/publish", json=body).status_code == 200
    )
    published = {p["assignmentId"] for e, p in events if e == "ASSIGNMENT_PUBLISHED"}
    assert published == {a["id"] for a in drafts if a["start"] <= first_week <= a["end"]}
    assert any(not a["published"] for a in drafts)


def test_members_see_only_published_assignments(api_sandbox: ApiSandbox) -> None:
    query = {"start": "2026-11-23T00:00:00Z", "end": "2026-12-20T00:00:00Z", "page-size": 500}
    member = api_sandbox.user_id("MEMBER")
    rows = api_sandbox.get(
        "/api/v1/workspaces/{ws}/scheduling/assignments/all", query_string=query, token=api_sandbox.user_token("MEMBER")
    ).get_json()
    assert all(r["published"] or r["userId"] == member for r in rows)


def test_copying_an_assignment_gives_it_to_another_user(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    source = next(iter(ws.assignments.values()))
    target = api_sandbox.user_id("ADMIN")
    copied = api_sandbox.call(
        "POST", f"/api/v1/workspaces/{{ws}}/scheduling/assignments/{source['id']}/copy", json={"userId": target}
    ).get_json()
    assert [c["userId"] for c in copied] == [target]
    assert copied[0]["projectId"] == source["projectId"]


def test_deleting_an_assignment_emits_assignment_deleted(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    source = next(iter(ws.assignments.values()))
    url = f"/api/v1/workspaces/{{ws}}/scheduling/assignments/recurring/{source['id']}"
    assert api_sandbox.call("DELETE", url).status_code == 200
    assert events[-1][0] == "ASSIGNMENT_DELETED"
    assert api_sandbox.call("DELETE", url).status_code == 404


def test_holidays_in_period_need_assigned_to_and_dates(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    query = {"assigned-to": member, "start": "2026-09-01", "end": "2026-12-31"}
    rows = api_sandbox.get("/api/v1/workspaces/{ws}/holidays/in-period", query_string=query).get_json()
    assert len(rows) == 2
    assert (
        api_sandbox.get("/api/v1/workspaces/{ws}/holidays/in-period", query_string={"start": "2026-09-01"}).status_code
        == 400
    )


# ---- webhooks and settings -----------------------------------------------------------------------


def test_webhooks_api_registers_a_delivery_with_its_own_token(api_sandbox: ApiSandbox) -> None:
    body = {
        "name": "assignment-created",
        "url": "http://closeout.invalid/webhooks/assignment-created",
        "webhookEvent": "ASSIGNMENT_CREATED",
        "triggerSourceType": "WORKSPACE_ID",
        "triggerSource": [api_sandbox.ws],
    }
    created = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/webhooks", json=body)
    assert created.status_code == 201
    hook = created.get_json()
    stored = api_sandbox.installation.webhooks[-1]
    assert stored["source"] == "api" and stored["event"] == "ASSIGNMENT_CREATED"
    assert stored["token"] == hook["authToken"]
    claims = api_sandbox.state.signer.decode(hook["authToken"])
    assert claims["workspaceId"] == api_sandbox.ws and claims["addonId"] == ADDON_ID
    listed = api_sandbox.get(f"/api/v1/workspaces/{{ws}}/addons/{ADDON_ID}/webhooks").get_json()
    assert hook["id"] in {h["id"] for h in listed["webhooks"]}
    bad = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/webhooks", json={**body, "webhookEvent": "NOPE"})
    assert bad.status_code == 400


def test_webhooks_api_stops_at_ten_per_user(api_sandbox: ApiSandbox) -> None:
    api_sandbox.installation.webhooks.extend(
        {"id": f"m{i}", "event": "NEW_INVOICE", "url": "http://x", "token": "t", "source": "manifest"}
        for i in range(10)
    )
    body = {
        "url": "http://closeout.invalid/webhooks/assignment-created",
        "webhookEvent": "ASSIGNMENT_CREATED",
        "triggerSourceType": "WORKSPACE_ID",
        "triggerSource": [],
    }
    statuses = [api_sandbox.call("POST", "/api/v1/workspaces/{ws}/webhooks", json=body).status_code for _ in range(11)]
    assert statuses == [201] * 10 + [400]


def test_addon_settings_patch_updates_known_settings_only(api_sandbox: ApiSandbox) -> None:
    api_sandbox.world.workspace(api_sandbox.ws).addon_settings = {
        "tabs": [{"id": "t", "name": "T", "settings": [{"id": "limit", "name": "Limit", "value": 5}]}]
    }
    url = "/api/addon/workspaces/{ws}/settings"
    assert api_sandbox.call("PATCH", url, json=[{"id": "limit", "value": 9}]).status_code == 200
    assert api_sandbox.get(url).get_json()["tabs"][0]["settings"][0]["value"] == 9
    assert api_sandbox.call("PATCH", url, json=[{"id": "nope", "value": 1}]).status_code == 400
    member = api_sandbox.call("PATCH", url, json=[{"id": "limit", "value": 1}], token=api_sandbox.user_token("MEMBER"))
    assert member.status_code == 403


# ---- changes made as a user would ------------------------------------------------------------------


def test_world_changes_emit_the_events_closeout_subscribes_to(api_sandbox: ApiSandbox) -> None:
    events = record_events(api_sandbox)
    world, ws = api_sandbox.world, api_sandbox.ws
    member = api_sandbox.user_id("MEMBER")
    entry = world.add_time_entry(
        ws, member, datetime(2026, 11, 24, 9, tzinfo=UTC), datetime(2026, 11, 24, 11, tzinfo=UTC)
    )
    world.delete_time_entry(ws, entry["id"])
    request = world.submit_approval(ws, member, datetime(2026, 11, 23, tzinfo=UTC))
    world.decide_approval(ws, request["id"], "REJECTED", "fix Tuesday")
    joined = world.add_user(ws, "New Person", "new.person@northwind.example")
    world.set_user_status(ws, joined["id"], "INACTIVE")
    world.remove_user(ws, joined["id"])
    assert [e for e, _ in events] == [
        "NEW_TIME_ENTRY",
        "TIME_ENTRY_DELETED",
        "NEW_APPROVAL_REQUEST",
        "APPROVAL_REQUEST_STATUS_UPDATED",
        "USER_JOINED_WORKSPACE",
        "USER_DEACTIVATED_ON_WORKSPACE",
        "USER_DELETED_FROM_WORKSPACE",
    ]
    assert joined["id"] not in {u["id"] for u in api_sandbox.get("/api/v1/workspaces/{ws}/users").get_json()}
    new_entry = events[0][1]
    assert new_entry["timeInterval"]["duration"] == "PT2H" and new_entry["user"]["id"] == member
    status = events[3][1]["status"]
    assert status["state"] == "REJECTED" and status["note"] == "fix Tuesday"
    assert events[2][1]["dateRange"]["start"] == "2026-11-23T00:00:00Z"
    assert date.fromisoformat(events[2][1]["dateRange"]["end"][:10]) == date(2026, 11, 29)


# ---- hostile input ---------------------------------------------------------------------------------


def test_wrongly_typed_fields_are_refused_with_a_message_never_a_crash(api_sandbox: ApiSandbox) -> None:
    from tests.sandbox.test_contract import CASES, _ids

    ids = _ids(api_sandbox)
    checked = 0
    for build in CASES.values():
        case = build(ids)
        if not isinstance(case.body, dict):
            continue
        for key in case.body:
            for hostile in ({"$gt": ""}, [1, 2], "x" * 5000):
                response = api_sandbox.call(
                    case.method, case.path, json={**case.body, key: hostile}, query_string=case.query
                )
                assert response.status_code < 500, (case.path, key, hostile)
                if response.status_code >= 400:
                    assert set(response.get_json()) == {"message", "code"}
                checked += 1
    assert checked > 100
