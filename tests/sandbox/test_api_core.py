"""The sandbox's users, workspace and approval endpoints, and the refusals Clockify gives."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.seed import DEMO_WORKSPACE_ID, seed_world
from sandbox.world import World
from tests.sandbox.conftest import ADDON_ID, ApiSandbox, install


def test_current_user_carries_settings_closeout_formats_with(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    body = api_sandbox.get("/api/v1/user", token=api_sandbox.user_token("MEMBER")).get_json()
    assert body["id"] == member
    assert {"timeZone", "dateFormat", "timeFormat", "weekStart"} <= set(body["settings"])


def test_seeded_world_is_the_same_for_the_same_seed_and_day() -> None:
    first, second = World(), World()
    seed_world(first, seed=7, today=datetime(2026, 11, 25, tzinfo=UTC).date())
    seed_world(second, seed=7, today=datetime(2026, 11, 25, tzinfo=UTC).date())
    a, b = first.workspace(DEMO_WORKSPACE_ID), second.workspace(DEMO_WORKSPACE_ID)
    assert [u["name"] for u in a.users.values()] == [u["name"] for u in b.users.values()]
    assert [(e["start"], e["projectId"]) for e in a.time_entries.values()] == [
        (e["start"], e["projectId"]) for e in b.time_entries.values()
    ]


def test_demo_workspace_has_every_role_the_shell_acts_as(api_sandbox: ApiSandbox) -> None:
    ids = {role: api_sandbox.user_id(role) for role in ("OWNER", "ADMIN", "TEAM_MANAGER", "MEMBER")}
    assert len(set(ids.values())) == 4
    users = api_sandbox.get("/api/v1/workspaces/{ws}/users?include-roles=true&page-size=200").get_json()
    roles = {u["id"]: [r["role"]["id"] for r in u["roles"]] for u in users}
    assert roles[ids["OWNER"]] == ["OWNER"]
    assert roles[ids["ADMIN"]] == ["WORKSPACE_ADMIN"]
    assert roles[ids["TEAM_MANAGER"]] == ["TEAM_MANAGER"]
    assert roles[ids["MEMBER"]] == []


def test_users_are_paged_with_a_default_of_fifty_and_filtered_by_status(api_sandbox: ApiSandbox) -> None:
    first = api_sandbox.get("/api/v1/workspaces/{ws}/users?page-size=10").get_json()
    second = api_sandbox.get("/api/v1/workspaces/{ws}/users?page-size=10&page=2").get_json()
    assert len(first) == 10 and len(second) == 10
    assert not {u["id"] for u in first} & {u["id"] for u in second}
    inactive = api_sandbox.get("/api/v1/workspaces/{ws}/users?status=INACTIVE").get_json()
    assert len(inactive) == 2
    everyone = api_sandbox.get("/api/v1/workspaces/{ws}/users").get_json()
    assert len(everyone) == 36


def test_member_profile_gives_capacity_and_working_days(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    body = api_sandbox.get(f"/api/v1/workspaces/{{ws}}/member-profile/{member}").get_json()
    assert body["workCapacity"] in ("PT8H", "PT6H")
    assert "MONDAY" in body["workingDays"]


def test_team_manager_is_listed_as_manager_of_their_team(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    group = next(iter(ws.groups.values()))
    member = next(u for u in group["userIds"] if u not in group["teamManagerIds"])
    managers = api_sandbox.get(f"/api/v1/workspaces/{{ws}}/users/{member}/managers").get_json()
    assert [m["id"] for m in managers] == group["teamManagerIds"]


def test_last_closed_week_has_at_least_thirty_pending_requests(api_sandbox: ApiSandbox) -> None:
    rows = api_sandbox.get(
        "/api/v1/workspaces/{ws}/approval-requests?status=PENDING&page-size=200&sort-column=START&sort-order=DESCENDING"
    ).get_json()
    last_week = [r for r in rows if r["approvalRequest"]["dateRange"]["start"] == "2026-11-16T00:00:00Z"]
    assert len(last_week) >= 30
    assert last_week[0]["approvalRequest"]["dateRange"]["end"] == "2026-11-22T23:59:59.999Z"
    assert last_week[0]["entries"] and last_week[0]["trackedTime"].startswith("PT")


def test_rejected_is_not_a_listable_status(api_sandbox: ApiSandbox) -> None:
    response = api_sandbox.get("/api/v1/workspaces/{ws}/approval-requests?status=REJECTED")
    assert response.status_code == 400
    assert set(response.get_json()) == {"message", "code"}


def test_approving_a_pending_request_locks_its_entries_and_emits(api_sandbox: ApiSandbox) -> None:
    events: list[tuple[str, dict]] = []
    api_sandbox.world.subscribe(lambda ws, event, payload: events.append((event, payload)))
    pending = api_sandbox.get("/api/v1/workspaces/{ws}/approval-requests?status=PENDING&page-size=1").get_json()[0]
    request_id = pending["approvalRequest"]["id"]
    response = api_sandbox.call(
        "PATCH", f"/api/v1/workspaces/{{ws}}/approval-requests/{request_id}", json={"state": "APPROVED", "note": "ok"}
    )
    assert response.status_code == 200
    assert response.get_json()["status"]["state"] == "APPROVED"
    assert response.get_json()["status"]["note"] == "ok"
    entries = api_sandbox.world.approval_entries(api_sandbox.ws, request_id)
    assert entries and all(e["isLocked"] for e in entries)
    assert events[-1][0] == "APPROVAL_REQUEST_STATUS_UPDATED"
    assert events[-1][1]["status"]["state"] == "APPROVED"


def test_only_documented_transitions_are_allowed(api_sandbox: ApiSandbox) -> None:
    pending = api_sandbox.get("/api/v1/workspaces/{ws}/approval-requests?status=PENDING&page-size=1").get_json()[0]
    url = f"/api/v1/workspaces/{{ws}}/approval-requests/{pending['approvalRequest']['id']}"
    assert api_sandbox.call("PATCH", url, json={"state": "WITHDRAWN_APPROVAL"}).status_code == 400
    assert api_sandbox.call("PATCH", url, json={"state": "APPROVED"}).status_code == 200
    assert api_sandbox.call("PATCH", url, json={"state": "REJECTED"}).status_code == 400
    assert api_sandbox.call("PATCH", url, json={"state": "WITHDRAWN_APPROVAL"}).status_code == 200


def test_a_member_cannot_decide_approval_requests(api_sandbox: ApiSandbox) -> None:
    pending = api_sandbox.get("/api/v1/workspaces/{ws}/approval-requests?status=PENDING&page-size=1").get_json()[0]
    url = f"/api/v1/workspaces/{{ws}}/approval-requests/{pending['approvalRequest']['id']}"
    response = api_sandbox.call("PATCH", url, token=api_sandbox.user_token("MEMBER"), json={"state": "APPROVED"})
    assert response.status_code == 403


def test_a_team_manager_sees_only_their_teams_requests(api_sandbox: ApiSandbox) -> None:
    token = api_sandbox.user_token("TEAM_MANAGER")
    manager = api_sandbox.user_id("TEAM_MANAGER")
    team = api_sandbox.world.workspace(api_sandbox.ws).managed_user_ids(manager) | {manager}
    rows = api_sandbox.get("/api/v1/workspaces/{ws}/approval-requests?page-size=500", token=token).get_json()
    assert rows and {r["approvalRequest"]["owner"]["userId"] for r in rows} <= team


def test_submitting_for_a_missing_member_creates_a_pending_request(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    submitted = {a["userId"] for a in ws.approvals.values() if a["start"].date().isoformat() == "2026-11-16"}
    missing = next(
        u["id"]
        for u in ws.users.values()
        if u["id"] not in submitted and u["role"] != "OWNER" and u["status"] == "ACTIVE"
    )
    url = f"/api/v1/workspaces/{{ws}}/approval-requests/users/{missing}"
    body = {"periodStart": "2026-11-16T00:00:00.000Z", "period": "WEEKLY"}
    first = api_sandbox.call("POST", url, json=body)
    assert first.status_code == 201
    assert first.get_json()["status"]["state"] == "PENDING"
    assert api_sandbox.call("POST", url, json=body).status_code == 400


def test_period_must_match_the_workspace_setting(api_sandbox: ApiSandbox) -> None:
    body = {"periodStart": "2026-11-01T00:00:00Z", "period": "MONTHLY"}
    response = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/approval-requests", json=body)
    assert response.status_code == 400


def test_missing_required_field_and_bad_enum_are_400(api_sandbox: ApiSandbox) -> None:
    missing = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/approval-requests", json={"period": "WEEKLY"})
    assert missing.status_code == 400 and "periodStart" in missing.get_json()["message"]
    bad_enum = api_sandbox.get("/api/v1/workspaces/{ws}/users?sort-column=SHOE_SIZE")
    assert bad_enum.status_code == 400 and bad_enum.get_json()["code"] == 400
    bad_page = api_sandbox.get("/api/v1/workspaces/{ws}/users?page-size=0")
    assert bad_page.status_code == 400


def test_unknown_id_is_404(api_sandbox: ApiSandbox) -> None:
    response = api_sandbox.call(
        "PATCH", "/api/v1/workspaces/{ws}/approval-requests/5f00000000000000000fffff", json={"state": "APPROVED"}
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_missing_or_forged_token_is_401(api_sandbox: ApiSandbox, key_pair) -> None:
    assert api_sandbox.get("/api/v1/user", token="").status_code == 401
    assert api_sandbox.get("/api/v1/user", token="not-a-jwt").status_code == 401
    import jwt

    forged = jwt.encode({"iss": "clockify", "workspaceId": api_sandbox.ws, "addonId": ADDON_ID}, key_pair[0], "RS256")
    assert api_sandbox.get("/api/v1/user", token=forged).status_code == 401


def test_token_of_another_workspace_is_refused(api_sandbox: ApiSandbox) -> None:
    other = "64f0c0ffee00000000000bb1"
    seed_world(api_sandbox.world, seed=3, today=datetime(2026, 11, 25, tzinfo=UTC).date(), workspace_id=other)
    other_token = install(api_sandbox.app, other)
    response = api_sandbox.get(f"/api/v1/workspaces/{DEMO_WORKSPACE_ID}/users", token=other_token)
    assert response.status_code == 403
    assert api_sandbox.get(f"/api/v1/workspaces/{other}/users", token=other_token).status_code == 200


def test_token_of_an_uninstalled_addon_is_401(api_sandbox: ApiSandbox) -> None:
    token = api_sandbox.installation_token
    del api_sandbox.world.installations[api_sandbox.ws]
    assert api_sandbox.get("/api/v1/workspaces/{ws}/users", token=token).status_code == 401


def test_a_call_outside_the_manifest_scopes_is_403(api_sandbox: ApiSandbox) -> None:
    api_sandbox.installation.scopes.discard("INVOICE_READ")
    response = api_sandbox.get("/api/v1/workspaces/{ws}/invoices")
    assert response.status_code == 403
    assert "INVOICE_READ" in response.get_json()["message"]


def test_bulk_invoiced_variant_does_not_exist(api_sandbox: ApiSandbox) -> None:
    response = api_sandbox.call("PATCH", "/api/v1/workspaces/{ws}/time-entries/invoiced/bulk", json={})
    assert response.status_code == 404


def test_time_off_requests_cannot_be_listed_with_get(api_sandbox: ApiSandbox) -> None:
    assert api_sandbox.get("/api/v1/workspaces/{ws}/time-off/requests").status_code == 405
    listed = api_sandbox.call("POST", "/api/v1/workspaces/{ws}/time-off/requests", json={"statuses": ["ALL"]})
    assert listed.status_code == 200 and listed.get_json()["count"] >= 6


def test_period_start_at_the_owners_local_midnight_names_the_same_week(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    berliner = next(
        u
        for u in ws.users.values()
        if u["timeZone"] == "Europe/Berlin" and u["role"] is None and u["status"] == "ACTIVE"
    )
    # Midnight of Monday 23 November in Berlin is 23:00 UTC on Sunday the 22nd.
    request = api_sandbox.world.submit_approval(api_sandbox.ws, berliner["id"], datetime(2026, 11, 22, 23, tzinfo=UTC))
    assert request["start"] == datetime(2026, 11, 23, tzinfo=UTC)
    new_yorker = next(u for u in ws.users.values() if u["timeZone"] == "America/New_York" and u["status"] == "ACTIVE")
    request = api_sandbox.world.submit_approval(api_sandbox.ws, new_yorker["id"], datetime(2026, 11, 23, tzinfo=UTC))
    assert request["start"] == datetime(2026, 11, 23, tzinfo=UTC)


def test_a_body_breaking_the_references_schema_is_400_naming_the_field(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    entry = next(e for e in ws.time_entries.values() if not e["isLocked"])
    body = {"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T10:00:00Z", "billable": "yes"}
    response = api_sandbox.call("PUT", f"/api/v1/workspaces/{{ws}}/time-entries/{entry['id']}", json=body)
    assert response.status_code == 400
    assert "billable" in response.get_json()["message"]
    assert entry["start"].isoformat() != "2026-11-02T09:00:00+00:00"  # nothing was written


def test_an_expired_user_token_is_401(api_sandbox: ApiSandbox) -> None:
    expired = api_sandbox.state.signer.mint(
        {"workspaceId": api_sandbox.ws, "addonId": ADDON_ID, "user": api_sandbox.user_id("ADMIN")}, ttl_seconds=-5
    )
    assert api_sandbox.get("/api/v1/user", token=expired).status_code == 401


def test_a_paused_installation_cannot_call_the_api(api_sandbox: ApiSandbox) -> None:
    api_sandbox.installation.is_active = False
    response = api_sandbox.get("/api/v1/workspaces/{ws}/users")
    assert response.status_code == 403
    api_sandbox.installation.is_active = True
    assert api_sandbox.get("/api/v1/workspaces/{ws}/users").status_code == 200


def test_a_deactivated_users_token_stops_working(api_sandbox: ApiSandbox) -> None:
    member = api_sandbox.user_id("MEMBER")
    token = api_sandbox.user_token("MEMBER")
    api_sandbox.world.set_user_status(api_sandbox.ws, member, "INACTIVE")
    assert api_sandbox.get("/api/v1/user", token=token).status_code == 401


def test_the_demo_has_requests_in_every_state_and_missing_submissions(api_sandbox: ApiSandbox) -> None:
    ws = api_sandbox.world.workspace(api_sandbox.ws)
    assert {a["state"] for a in ws.approvals.values()} == {
        "PENDING",
        "APPROVED",
        "REJECTED",
        "WITHDRAWN_SUBMISSION",
        "WITHDRAWN_APPROVAL",
    }
    last_week = datetime(2026, 11, 16, tzinfo=UTC)
    submitted = {a["userId"] for a in ws.approvals.values() if a["start"] == last_week}
    tracked = {e["userId"] for e in ws.time_entries.values() if e["start"] >= last_week}
    assert len(tracked - submitted) == 3
    assert {r["status"] for r in ws.time_off.values()} == {"APPROVED", "PENDING", "REJECTED"}
    assert len(ws.clients) == 6 and len(ws.projects) == 12 and len(ws.groups) == 3
