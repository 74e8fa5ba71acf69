"""The approvals tab over HTTP with the sandbox as Clockify: fragments, errors, submissions, withdrawals, freshness."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from addon.approvals import decisions
from addon.approvals import handlers as approval_handlers
from addon.jobs import jobs_for, start_consumer
from addon.workspace import directory

pytestmark = pytest.mark.sandbox

TAB = "/components/approvals"


@pytest.fixture
def as_user(client: Any, user_token: Any, installed: Any) -> Any:
    """as_user(role)(method, path, **kw): an htmx call carrying that role's token in the header."""

    def role(name: str = "OWNER") -> Any:
        token = user_token(name)

        def call(method: str, path: str, **kwargs: Any) -> Any:
            headers = {"HX-Request": "true", "X-Addon-Token": token, **kwargs.pop("headers", {})}
            return client.open(TAB + path, method=method, headers=headers, **kwargs)

        return call

    return role


@pytest.fixture
def worker(app: Any, installed: Any) -> Iterator[Any]:
    consumer = start_consumer(app, workers=2, max_delay=0.1)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def held(sandbox: Any, workspace_id: str) -> dict[str, dict[str, Any]]:
    with sandbox.world.lock:
        return {k: dict(v) for k, v in sandbox.world.workspaces[workspace_id].approvals.items()}


def poll(condition: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_tab_opens_from_the_iframe_url_with_rows_hooked_by_clockify_ids(client, user_token, installed):
    response = client.get(f"{TAB}?auth_token={user_token('OWNER')}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('data-approval-id="') >= 30
    assert "Approve selected" in html and "Reject selected" in html


def test_a_403_from_clockify_says_which_plan_approvals_need(as_user, sandbox):
    sandbox.control(
        "POST",
        "/faults",
        {"pattern": "/api/v1/workspaces/*/approval-requests", "methods": ["GET"], "errorRate": 1, "errorStatus": 403},
    )
    response = as_user("OWNER")("GET", "/queue?refresh=1")
    assert response.status_code == 200
    assert "Approvals need a Standard plan or higher" in response.get_data(as_text=True)


def test_hostile_filters_and_an_unknown_job_get_clear_answers(as_user):
    call = as_user("OWNER")
    assert call("GET", "/queue?status=<script>&sort=__dict__&page=-1&group=%00").status_code == 200
    missing = call("GET", "/decisions/999999")
    assert missing.status_code == 404
    assert missing.headers["HX-Retarget"] == "#closeout-error"
    assert "Traceback" not in missing.get_data(as_text=True)


def test_rejecting_without_a_note_is_refused_and_nothing_is_queued(as_user, sandbox, installed):
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    response = as_user("OWNER")("POST", "/decisions", data={"action": "reject", "ids": pending, "note": " "})
    assert response.status_code == 422
    assert "note" in response.get_data(as_text=True)
    assert held(sandbox, installed.workspace_id)[pending]["state"] == "PENDING"


def test_a_member_cannot_decide_even_their_own_request(as_user, sandbox, installed):
    member_id = sandbox.state.user_id_for_role(installed.workspace_id, "MEMBER")
    own = [k for k, v in held(sandbox, installed.workspace_id).items() if v["userId"] == member_id]
    response = as_user("MEMBER")("POST", "/decisions", data={"action": "approve", "ids": own[:1] or ["x"]})
    assert response.status_code == 403


def test_approve_then_withdraw_the_approval_through_the_worker(as_user, sandbox, installed, worker):
    call = as_user("OWNER")
    call("GET", "/queue?refresh=1")
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    assert call("POST", "/decisions", data={"action": "approve", "ids": pending}).status_code == 200
    poll(lambda: held(sandbox, installed.workspace_id)[pending]["state"] == "APPROVED")
    poll(lambda: 'data-state="APPROVED"' in call("GET", "/queue?status=APPROVED").get_data(as_text=True))
    response = call("POST", "/decisions", data={"action": "withdraw", "ids": pending, "note": "Re-check Friday"})
    assert response.status_code == 200
    poll(lambda: held(sandbox, installed.workspace_id)[pending]["state"] == "WITHDRAWN_APPROVAL")


def test_missing_submissions_are_listed_and_submitted_on_behalf(as_user, sandbox, installed, worker):
    call = as_user("OWNER")
    call("GET", "/queue?refresh=1")
    html = call("GET", "/missing").get_data(as_text=True)
    assert "Submit on behalf" in html, "the demo has people with tracked time and no request"
    user_id = html.split('data-missing-user="', 1)[1].split('"', 1)[0]
    response = call("POST", "/submissions", data={"user_ids": user_id})
    assert response.status_code == 200
    poll(
        lambda: any(
            v["userId"] == user_id and v["state"] == "PENDING" for v in held(sandbox, installed.workspace_id).values()
        )
    )
    poll(lambda: f'data-missing-user="{user_id}"' not in call("GET", "/missing").get_data(as_text=True))


def test_a_status_change_in_clockify_reaches_an_open_tab_through_the_webhook(as_user, sandbox, installed, worker):
    call = as_user("OWNER")
    call("GET", "/queue?refresh=1")
    version = call("GET", "/version?v=nothing").get_data(as_text=True).split('data-version="')[1].split('"')[0]
    assert call("GET", f"/version?v={version}").status_code == 204
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    decided = sandbox.control(
        "POST",
        "/world/decide_approval",
        {"workspace_id": installed.workspace_id, "request_id": pending, "state": "APPROVED", "note": "from Clockify"},
    )
    assert decided.status_code == 200, decided.text
    changed = poll(lambda: (r := call("GET", f"/version?v={version}")).status_code == 200 and r)
    assert changed.headers["HX-Trigger"] == "closeout:approvals-changed"
    queue = call("GET", "/queue?status=APPROVED").get_data(as_text=True)
    assert f'data-approval-id="{pending}" data-state="APPROVED"' in queue


def test_a_period_of_two_hundred_requests_takes_a_handful_of_clockify_calls(
    sandbox, closeout_live, client, user_token, request_log, capsys
):
    sandbox.state.reset(size="large")
    try:
        assert sandbox.control("POST", "/install", {"workspaceId": sandbox.demo_workspace_id}).status_code == 201
        token = user_token("OWNER")
        directory.forget_directory(sandbox.demo_workspace_id)
        sandbox.control("DELETE", "/requests")
        page = client.get(f"{TAB}?auth_token={token}")
        missing = client.get(f"{TAB}/missing", headers={"HX-Request": "true", "X-Addon-Token": token})
        assert page.status_code == missing.status_code == 200
        rows = page.get_data(as_text=True).count('data-approval-id="')
        total = int(page.get_data(as_text=True).split('data-total="')[1].split('"')[0])
        calls = [f"{c['method']} {c['path']}" for c in request_log()]
        with capsys.disabled():
            print(f"\n[approvals] a period of {total} requests (first page {rows} rows): {len(calls)} Clockify calls")
            for call in calls:
                print(f"[approvals]   {call}")
        assert total >= 200
        # Pages of 200, never a call per row: every path is a list, and the count follows pages, not rows.
        ws = sandbox.demo_workspace_id
        lists = {
            f"/api/v1/workspaces/{ws}",
            f"/api/v1/workspaces/{ws}/users",
            f"/api/v1/workspaces/{ws}/user-groups",
            f"/api/v1/workspaces/{ws}/approval-requests",
            f"/api/v1/workspaces/{ws}/scheduling/assignments/user-filter/totals",
            f"/reports/v1/workspaces/{ws}/reports/summary",
            "/api/v1/user",
        }
        assert {call.split(" ", 1)[1] for call in calls} <= lists
        assert len(calls) <= 16
    finally:
        sandbox.state.reset(size="demo")


def test_all_matching_the_filter_decides_every_pending_request_of_the_group(as_user, sandbox, installed, worker, app):
    call = as_user("OWNER")
    call("GET", "/queue?refresh=1")
    with sandbox.world.lock:
        space = sandbox.world.workspaces[installed.workspace_id]
        group = next(iter(space.groups.values()))
        members = set(group["userIds"])
    week = max(v["start"] for v in held(sandbox, installed.workspace_id).values())
    expected = {
        k
        for k, v in held(sandbox, installed.workspace_id).items()
        if v["userId"] in members and v["state"] == "PENDING" and v["start"] == week
    }
    assert expected
    response = call(
        "POST",
        "/decisions",
        data={
            "action": "approve",
            "all": "1",
            "group": group["id"],
            "note": "Team ok",
            "period": week.date().isoformat(),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    done = f"/decisions/{job_id(response)}"
    poll(lambda: 'data-job-status="done"' in call("GET", done).get_data(as_text=True))
    after = held(sandbox, installed.workspace_id)
    assert {k for k in expected if after[k]["state"] == "APPROVED"} == expected


def test_a_mixed_selection_is_decided_where_it_can_and_the_summary_gives_each_skip_its_reason(
    as_user, sandbox, installed, worker
):
    call = as_user("OWNER")
    first = call("GET", "/queue?refresh=1").get_data(as_text=True)
    decided, *pending = [i.split('"', 1)[0] for i in first.split('name="ids" value="')[1:4]]
    approved = call("POST", "/decisions", data={"action": "approve", "ids": decided})
    poll(lambda: 'data-job-status="done"' in call("GET", f"/decisions/{job_id(approved)}").get_data(as_text=True))
    # Clockify's webhook brings the decision into the mirror.
    page = poll(lambda: (html := call("GET", "/queue").get_data(as_text=True)) and "Approved: 1" in html and html)
    # Only a pending row can be ticked; a decided one shows a disabled box saying why.
    assert f'name="ids" value="{pending[0]}"' in page and f'name="ids" value="{decided}"' not in page
    assert "Already approved: nothing to approve or reject" in page

    response = call("POST", "/decisions", data={"action": "approve", "ids": [*pending, decided], "note": "ok"})

    assert response.status_code == 200, response.get_data(as_text=True)
    done = f"/decisions/{job_id(response)}?poll=1"

    def finished() -> str | None:
        html = call("GET", done).get_data(as_text=True)
        return html if 'data-job-status="done"' in html else None

    summary = poll(finished)
    assert 'data-done="2"' in summary and 'data-skipped="1"' in summary, summary
    assert f'data-skipped-id="{decided}"' in summary and "Not pending: it is approved." in summary
    after = held(sandbox, installed.workspace_id)
    assert [after[k]["state"] for k in pending] == ["APPROVED", "APPROVED"]


def job_id(response: Any) -> str:
    return response.get_data(as_text=True).split('data-job="', 1)[1].split('"', 1)[0]


def test_a_decision_job_is_visible_to_its_decider_and_admins_only(as_user, sandbox, installed):
    owner = as_user("OWNER")
    owner("GET", "/queue?refresh=1")
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    started = owner("POST", "/decisions", data={"action": "approve", "ids": pending})
    assert started.status_code == 200
    assert as_user("ADMIN")("GET", f"/decisions/{job_id(started)}").status_code == 200
    assert as_user("MEMBER")("GET", f"/decisions/{job_id(started)}").status_code == 404


@pytest.mark.parametrize("period", ["9999-12-31", "0001-01-01"])
def test_a_period_at_the_edge_of_the_calendar_falls_back_to_the_default(as_user, period):
    response = as_user("OWNER")("GET", "", query_string={"period": period}, headers={"HX-Request": ""})
    assert response.status_code == 200
    assert b"data-approval-id" in response.data


def test_ids_past_sixty_four_bits_are_not_found(as_user, client, user_token):
    huge = "99999999999999999999"
    assert as_user("OWNER")("GET", f"/decisions/{huge}").status_code == 404
    headers = {"HX-Request": "true", "X-Addon-Token": user_token("ADMIN")}
    assert client.post(f"/settings/activity/{huge}/retry", headers=headers).status_code == 404


def test_a_team_manager_cannot_withdraw_an_approval(as_user):
    call = as_user("TEAM_MANAGER")
    page = call("GET", "", headers={"HX-Request": ""})
    assert page.status_code == 200
    assert b"Withdraw approval" not in page.data
    response = call("POST", "/decisions", data={"action": "withdraw", "ids": "any-request", "note": ""})
    assert response.status_code == 403
    assert b"owners and admins" in response.data


def test_a_decision_job_whose_worker_died_is_finished_by_the_sweep_with_no_tab_open(as_user, sandbox, installed, app):
    from datetime import timedelta

    from addon.approvals.models import DecisionJob
    from addon.extensions import db

    owner = as_user("OWNER")
    owner("GET", "/queue?refresh=1")
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    started = owner("POST", "/decisions", data={"action": "approve", "ids": pending})
    assert started.status_code == 200
    # The worker died with the job's message: the queue is empty and the job has not moved for a while.
    jobs_for(app).huey.flush()
    with app.app_context():
        job = db.session.get(DecisionJob, int(job_id(started)))
        job.created_at -= timedelta(seconds=decisions.STALL_SECONDS + 1)
        db.session.commit()

    jobs_for(app).sweep.call_local()  # the worker's minute sweep; no tab polls the job
    consumer = start_consumer(app, workers=1, max_delay=0.1)
    try:
        poll(lambda: held(sandbox, installed.workspace_id)[pending]["state"] == "APPROVED")
    finally:
        consumer.stop(graceful=True)
        jobs_for(app).huey.flush()
    with app.app_context():
        assert db.session.get(DecisionJob, int(job_id(started))).status == "done"


def test_a_decision_job_that_is_moving_is_left_alone_by_the_sweep(as_user, sandbox, installed, app):
    owner = as_user("OWNER")
    owner("GET", "/queue?refresh=1")
    pending = next(k for k, v in held(sandbox, installed.workspace_id).items() if v["state"] == "PENDING")
    assert owner("POST", "/decisions", data={"action": "approve", "ids": pending}).status_code == 200
    queued = len(jobs_for(app).huey)

    with app.app_context():
        assert approval_handlers.resume_stalled_jobs() == []
    assert len(jobs_for(app).huey) == queued


def test_a_page_waits_for_one_retry_of_a_failing_clockify_not_five(as_user, sandbox, installed, request_log):
    path = f"/api/v1/workspaces/{installed.workspace_id}/approval-requests"

    def listed() -> int:
        return sum(1 for c in request_log() if c["method"] == "GET" and c["path"] == path)

    owner = as_user("OWNER")
    before = listed()
    owner("GET", "/queue?refresh=1")
    calls = listed() - before
    sandbox.control("POST", "/faults", {"pattern": path, "methods": ["GET"], "errorRate": 1, "errorStatus": 503})

    before = listed()
    response = owner("GET", "/queue?refresh=1")

    assert calls >= 1
    assert listed() - before == 2  # the first read, its one retry, then the page says so
    assert response.status_code == 200
    assert "Could not read approval requests" in response.get_data(as_text=True)


def test_a_repeat_open_is_served_from_the_mirror_and_read_again_in_the_background(
    client, user_token, installed, request_log, sandbox, app
):
    from datetime import timedelta

    import sqlalchemy as sa

    from addon.extensions import db
    from addon.workspace.models import PreferenceCache

    url = f"{TAB}?auth_token={user_token('OWNER')}"
    listing = "/api/v1/workspaces/*/approval-requests"
    first = client.get(url).get_data(as_text=True)
    assert "data-last-read" in first and request_log(method="GET", path=listing)
    jobs_for(app).huey.flush()
    with app.app_context():  # the last read is a minute old: a repeat open asks for another behind it
        row = db.session.scalar(sa.select(PreferenceCache).where(PreferenceCache.scope.like("approvals-read:%")))
        row.fetched_at -= timedelta(minutes=1)
        scope = row.scope
        db.session.commit()
    sandbox.control("DELETE", "/requests")

    second = client.get(url).get_data(as_text=True)

    assert request_log(method="GET", path=listing) == []  # nothing read from Clockify while the viewer waited
    assert second.count('data-approval-id="') == first.count('data-approval-id="') >= 30
    assert "data-last-read" in second
    [task] = [t for t in jobs_for(app).huey.pending() if t.name == "sync_approval_period"]
    assert task.args == (installed.workspace_id, scope.split(":", 1)[1])
    assert jobs_for(app).sync_approval_period.call_local(*task.args) >= 30
    assert request_log(method="GET", path=listing)
