"""Chromium drives the approvals tab against the sandbox: bulk approval, team visibility, auto-approval, expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from addon.jobs import jobs_for, start_consumer

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

NOTE = "Checked against the plan — thanks!"


@pytest.fixture
def worker(app: Any, installed: Any) -> Iterator[Any]:
    """Closeout's background worker: decision jobs and webhook processing run as in production."""
    consumer = start_consumer(app, workers=2, max_delay=0.1)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def sandbox_approvals(sandbox: Any, workspace_id: str) -> dict[str, dict[str, Any]]:
    with sandbox.world.lock:
        return {k: dict(v) for k, v in sandbox.world.workspaces[workspace_id].approvals.items()}


def wait_until(condition: Any, timeout: float = 15.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def show_pending(page: Any) -> list[str]:
    page.select_option("#filter-status", "PENDING")
    page.wait_for_function(
        "() => { const rows = document.querySelectorAll('[data-approval-id]');"
        " return rows.length > 0 && [...rows].every(r => r.dataset.state === 'PENDING'); }"
    )
    return page.eval_on_selector_all("[data-approval-id]", "rows => rows.map(r => r.dataset.approvalId)")


def test_an_owner_approves_thirty_requests_in_one_action(page, sandbox, installed, worker, open_component):
    page.goto(open_component("OWNER", "approvals"))
    ids = show_pending(page)
    assert len(ids) >= 30

    page.check("[data-select-all]")
    page.fill("#decision-note", NOTE)
    page.click("button:text-is('Approve selected')")

    summary = page.wait_for_selector("[data-job-status=done]", timeout=30_000)
    assert summary.get_attribute("data-done") == str(len(ids))
    assert summary.get_attribute("data-failed") == "0"
    held = sandbox_approvals(sandbox, installed.workspace_id)
    assert all((held[i]["state"], held[i]["note"]) == ("APPROVED", NOTE) for i in ids)
    # Decided with the owner's own token, so Clockify records the real approver, not the add-on.
    owner_id = sandbox.state.user_id_for_role(installed.workspace_id, "OWNER")
    assert {held[i]["updatedBy"] for i in ids} == {owner_id}
    # The queue reloads by itself once the job is done: the pending filter now shows nothing.
    page.wait_for_selector("[data-empty]")
    assert page.console_errors == []


def test_a_team_manager_neither_sees_nor_decides_another_teams_requests(page, sandbox, installed, open_component):
    manager_id = sandbox.state.user_id_for_role(installed.workspace_id, "TEAM_MANAGER")
    with sandbox.world.lock:
        managed = sandbox.world.workspaces[installed.workspace_id].managed_user_ids(manager_id) - {manager_id}
    page.goto(open_component("TEAM_MANAGER", "approvals"))
    page.wait_for_selector("#approvals-queue")
    shown = set(page.eval_on_selector_all("[data-approval-id]", "rows => rows.map(r => r.dataset.userId)"))
    assert shown and shown <= managed | {manager_id}

    others = [
        request_id
        for request_id, held in sandbox_approvals(sandbox, installed.workspace_id).items()
        if held["userId"] not in managed | {manager_id} and held["state"] == "PENDING"
    ]
    assert others
    # A crafted htmx call with the manager's own valid token, naming another team's request.
    status = page.evaluate(
        """async (id) => {
            const body = new URLSearchParams({action: 'approve', ids: id, note: 'sneaky'});
            const r = await fetch(location.pathname + '/decisions', {method: 'POST', body,
                headers: {'HX-Request': 'true', 'X-Addon-Token': window.Closeout.token()}});
            return r.status;
        }""",
        others[0],
    )
    assert status == 403
    assert sandbox_approvals(sandbox, installed.workspace_id)[others[0]]["state"] == "PENDING"


def test_a_member_sees_only_their_own_timesheets_and_no_decisions(page, sandbox, installed, open_component):
    member_id = sandbox.state.user_id_for_role(installed.workspace_id, "MEMBER")
    page.goto(open_component("MEMBER", "approvals"))
    page.wait_for_selector("#approvals-queue")
    shown = set(page.eval_on_selector_all("[data-approval-id]", "rows => rows.map(r => r.dataset.userId)"))
    assert shown <= {member_id}
    assert page.locator("button:text-is('Approve selected')").count() == 0
    assert page.locator("button:text-is('Approve')").count() == 0


def submit_new_request(sandbox: Any, workspace_id: str) -> str:
    """A person without a request for the last closed week submits one (NEW_APPROVAL_REQUEST)."""
    held = sandbox_approvals(sandbox, workspace_id)
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        week_start = max(a["start"] for a in held.values())
        submitted = {a["userId"] for a in held.values() if a["start"] == week_start}
        user_id = next(
            u["id"] for u in space.users.values() if u["id"] not in submitted and u.get("status", "ACTIVE") == "ACTIVE"
        )
    response = sandbox.control(
        "POST",
        "/world/submit_approval",
        {"workspace_id": workspace_id, "user_id": user_id, "period_start": week_start.isoformat(), "period": "WEEKLY"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


LENIENT = {
    "approvals.auto_enabled": True,
    "approvals.tolerance_percent": 100,
    "approvals.max_hours_per_day": 24,
    "approvals.require_project": False,
}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "live"])
def test_auto_approval_decides_a_new_request_and_the_open_tab_shows_it(
    page, sandbox, installed, worker, open_component, app, dry_run
):
    from addon.extensions import db
    from addon.settings.models import WorkspaceSetting

    with app.app_context():
        for key, value in {**LENIENT, "approvals.dry_run": dry_run}.items():
            row = db.session.scalar(db.select(WorkspaceSetting).filter_by(workspace_id=installed.workspace_id, key=key))
            if row is None:
                db.session.add(WorkspaceSetting(workspace_id=installed.workspace_id, key=key, value=value))
            else:
                row.value = value
        db.session.commit()
    page.goto(open_component("OWNER", "approvals"))
    page.wait_for_selector("#approvals-auto")

    request_id = submit_new_request(sandbox, installed.workspace_id)

    evaluation = page.wait_for_selector(f"[data-evaluation-for='{request_id}']", timeout=30_000)
    held = sandbox_approvals(sandbox, installed.workspace_id)[request_id]
    if dry_run:
        assert evaluation.get_attribute("data-outcome") in ("would_approve", "held")
        assert held["state"] == "PENDING"
    else:
        assert evaluation.get_attribute("data-outcome") in ("approved", "held")
        if evaluation.get_attribute("data-outcome") == "approved":
            assert held["state"] == "APPROVED" and held["note"].startswith("Auto-approved by Closeout:")
            page.wait_for_selector(f"[data-approval-id='{request_id}'][data-state='APPROVED']", timeout=15_000)


def test_select_all_over_every_state_ticks_only_what_the_owner_can_decide_and_approves_it(
    page, sandbox, installed, worker, open_component
):
    page.goto(open_component("OWNER", "approvals"))
    page.wait_for_selector("[data-approval-id]")
    # Two requests are decided first, one by one: the queue then mixes pending and approved rows.
    for _ in range(2):
        row = page.locator("[data-approval-id][data-state=PENDING]").first
        request_id = row.get_attribute("data-approval-id")
        row.locator("button:text-is('Approve')").click()
        page.wait_for_selector(f"[data-approval-id='{request_id}'][data-state=APPROVED]", timeout=30_000)
    states = page.eval_on_selector_all("[data-approval-id]", "rows => rows.map(r => r.dataset.state)")
    pending = page.eval_on_selector_all(
        "[data-approval-id][data-state=PENDING]", "rows => rows.map(r => r.dataset.approvalId)"
    )
    assert pending and len(pending) < len(states), states  # the page mixes pending and decided rows

    page.check("[data-select-all]")

    ticked = page.eval_on_selector_all("input[name=ids]:checked", "boxes => boxes.map(b => b.value)")
    assert sorted(ticked) == sorted(pending)
    assert page.locator("[data-state=APPROVED] input[type=checkbox]:not(:disabled)").count() == 0
    assert page.locator("[data-state=APPROVED] input[data-undecidable]").count() > 0
    earlier = page.get_attribute("[data-job]", "data-job")  # the card of the last one-row decision
    page.click("button:text-is('Approve selected')")
    summary = page.wait_for_selector(f"[data-job-status=done]:not([data-job='{earlier}'])", timeout=30_000)
    assert (summary.get_attribute("data-done"), summary.get_attribute("data-skipped")) == (str(len(pending)), "0")
    held = sandbox_approvals(sandbox, installed.workspace_id)
    assert all(held[i]["state"] == "APPROVED" for i in pending)


def test_a_token_expiring_during_a_bulk_decision_is_refreshed_without_losing_anything(
    page, sandbox, installed, worker, user_token
):
    # The tab's token is made to lapse at chosen moments by handing it one that expired five minutes ago
    # (beyond any leeway), not by racing short-lived tokens against a loaded machine.
    expired = user_token("OWNER", ttl=-300)
    # Slow PATCHes: 30 decisions take at least 7.5 s whatever the machine's load, several progress polls.
    fault = sandbox.control(
        "POST",
        "/faults",
        {"pattern": "/api/v1/workspaces/*/approval-requests/*", "methods": ["PATCH"], "latencyMs": 250},
    )
    assert fault.status_code in (200, 201), fault.text
    refused: list[str] = []
    page.on(
        "response",
        lambda r: (
            refused.append(f"{r.request.method} {r.url}") if r.status == 401 and "/components/" in r.url else None
        ),
    )
    # The host cannot hand out tokens for a while (a laptop asleep, a flaky network): the tab's lapses.
    host_down = {"now": True}
    page.route("**/shell/token", lambda route: route.abort() if host_down["now"] else route.continue_())

    page.goto(sandbox.url + "/approvals?tab=addon-approvals.tab")
    frame = page.locator('[data-testid="addon-frame-approvals.tab"]').element_handle().content_frame()
    frame.wait_for_selector("#approvals-queue")
    ids = show_pending(frame)
    frame.check("[data-select-all]")
    frame.fill("#decision-note", NOTE)
    frame.evaluate("t => window.Closeout.setToken(t)", expired)
    with page.expect_response(lambda r: r.status == 401 and r.url.endswith("/decisions")):
        frame.click("button:text-is('Approve selected')")
    # The refused decision waits in the tab; once the host answers again it is replayed with a fresh token.
    host_down["now"] = False
    frame.wait_for_selector("[data-job]", timeout=30_000)

    # Mid-job the tab's token lapses again: its next poll (progress or version, whichever fires first) is
    # refused, the tab refreshes, and the job's progress carries on to the end.
    frame.evaluate("t => window.Closeout.setToken(t)", expired)
    with page.expect_response(lambda r: r.status == 401 and r.request.method == "GET" and "/components/" in r.url):
        pass
    summary = frame.wait_for_selector("[data-job-status=done]", timeout=60_000)
    assert summary.get_attribute("data-done") == str(len(ids))
    assert any(r.startswith("POST") and r.endswith("/decisions") for r in refused), refused
    held = sandbox_approvals(sandbox, installed.workspace_id)
    assert all((held[i]["state"], held[i]["note"]) == ("APPROVED", NOTE) for i in ids)
    assert frame.input_value("#decision-note") == NOTE
    assert frame.evaluate("() => window.Closeout.token()") != expired
    # Refused polls were not replayed on top of their own next poll: one version poller is left.
    assert frame.locator("#approvals-version").count() == 1


def test_sorting_reloads_the_queue_and_keeps_the_selection_and_the_note(page, installed, open_component):
    page.goto(open_component("OWNER", "approvals"))
    show_pending(page)
    chosen = page.eval_on_selector_all("input[name=ids]", "boxes => boxes.slice(0, 2).map(b => b.value)")
    for request_id in chosen:
        page.check(f"input[name=ids][value='{request_id}']")
    page.fill("#decision-note", "half-typed")

    page.click("button[data-sort=tracked]")
    page.wait_for_selector("th[aria-sort=ascending] button[data-sort=tracked]")
    tracked = page.eval_on_selector_all(
        "[data-approval-id] td:nth-child(5)", "cells => cells.map(c => c.textContent.trim())"
    )
    assert len(tracked) >= 2
    seconds = [sum(int(part) * 60**i for i, part in enumerate(reversed(cell.split(":")))) for cell in tracked]
    assert seconds == sorted(seconds)
    checked = page.eval_on_selector_all("input[name=ids]:checked", "boxes => boxes.map(b => b.value)")
    assert sorted(checked) == sorted(chosen)
    assert page.input_value("#decision-note") == "half-typed"
    assert page.text_content("[data-selected-count]") == "2 selected"


def test_a_decision_made_in_clockify_updates_the_open_tab_and_the_poll_settles(
    page, sandbox, installed, worker, open_component
):
    page.goto(open_component("OWNER", "approvals"))
    ids = show_pending(page)
    before = page.get_attribute("#approvals-version", "data-version")

    decided = sandbox.control(
        "POST",
        "/world/decide_approval",
        {"workspace_id": installed.workspace_id, "request_id": ids[0], "state": "REJECTED", "note": "Wrong project"},
    )
    assert decided.status_code == 200, decided.text

    # The webhook reaches the worker, the mirror changes, the poll notices and the queue reloads itself.
    page.wait_for_selector(f"[data-approval-id='{ids[0]}']", state="detached", timeout=20_000)
    assert page.get_attribute("#approvals-version", "data-version") != before
    with page.expect_response(lambda r: "/version" in r.url and r.status == 204, timeout=10_000):
        pass


def test_the_count_of_all_matching_follows_the_filters(page, installed, open_component):
    page.goto(open_component("OWNER", "approvals"))
    everyone = int(page.text_content("#matching-count"))
    page.select_option("#filter-group", index=1)
    page.wait_for_function(f"() => Number(document.querySelector('#matching-count').textContent) < {everyone}")
    rows = page.eval_on_selector_all("[data-approval-id][data-state=PENDING]", "rows => rows.length")
    assert int(page.text_content("#matching-count")) == rows
