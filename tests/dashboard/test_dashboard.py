"""The period-close dashboard against the sandbox's seeded workspace, over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa

from addon.dashboard.models import DashboardSnapshot
from addon.extensions import db
from sandbox.state import invoice_totals

pytestmark = pytest.mark.sandbox


def week_of(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def expected_figures(world, workspace_id: str, start: date, end: date) -> dict:
    """The figures computed straight from the sandbox's state, independently of Closeout."""
    ws = world.workspaces[workspace_id]
    in_period = [a for a in ws.approvals.values() if start <= a["start"].astimezone(UTC).date() <= end]
    pending = sum(1 for a in in_period if a["state"] == "PENDING")
    approved = {a["userId"] for a in in_period if a["state"] == "APPROVED"}
    unbilled: dict[str, int] = {}
    lo = datetime.combine(start, datetime.min.time(), UTC)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    for entry in ws.time_entries.values():
        if not (lo <= entry["start"] < hi) or not entry["billable"] or entry["invoiced"] or not entry["end"]:
            continue
        request = ws.approvals.get(entry["approvalRequestId"] or "")
        if not request or request["state"] != "APPROVED":
            continue
        project = ws.projects.get(entry["projectId"] or "")
        rate = (project or {}).get("hourlyRate") or ws.users[entry["userId"]].get("hourlyRate", 0)
        seconds = int((entry["end"] - entry["start"]).total_seconds())
        client = (project or {}).get("clientId") or ""
        unbilled[client] = unbilled.get(client, 0) + round(seconds / 3600 * rate)
    return {"pending": pending, "approved": len(approved), "unbilled": sum(unbilled.values())}


def expected_overdue(world, workspace_id: str, today: date) -> tuple[int, int]:
    ws = world.workspaces[workspace_id]
    count = amount = 0
    for invoice in ws.invoices.values():
        due = invoice["dueDate"].astimezone(UTC).date()
        if invoice["status"] == "OVERDUE" or (invoice["status"] in ("SENT", "PARTIALLY_PAID") and due < today):
            count += 1
            amount += invoice_totals(invoice)["balance"]
    return count, amount


def snapshots(app, workspace_id):
    with app.app_context():
        rows = db.session.scalars(sa.select(DashboardSnapshot).filter_by(workspace_id=workspace_id)).all()
        return {row.period_start: row.figures for row in rows}


def approve_some_of_last_week(sandbox, workspace_id: str) -> int:
    """The seed leaves last week's requests pending; approve every other one so money becomes billable."""
    start, end = week_of(datetime.now(UTC).date() - timedelta(days=7))
    ws = sandbox.world.workspaces[workspace_id]
    with sandbox.world.lock:
        pending = sorted(
            (a for a in ws.approvals.values() if a["state"] == "PENDING" and start <= a["start"].date() <= end),
            key=lambda a: a["id"],
        )
        for request in pending[::2]:
            request["state"] = "APPROVED"
    return len(pending[::2])


def test_the_first_open_computes_both_periods_and_the_figures_match_the_seed(app, sandbox, installed, open_component):
    assert approve_some_of_last_week(sandbox, installed.workspace_id) > 0
    page = requests.get(open_component("OWNER", "sidebar"), timeout=60)
    assert page.status_code == 200, page.text
    today = datetime.now(UTC).date()
    current, previous = week_of(today), week_of(today - timedelta(days=7))
    stored = snapshots(app, installed.workspace_id)
    assert set(stored) == {current[0], previous[0]}
    assert stored[previous[0]]["timesheets"]["approved"] > 0 and stored[previous[0]]["unbilled"]["total"] > 0
    for start, end in (current, previous):
        figures = stored[start]
        want = expected_figures(sandbox.world, installed.workspace_id, start, end)
        assert figures["timesheets"]["pending"] == want["pending"]
        assert figures["timesheets"]["approved"] == want["approved"]
        assert figures["unbilled"]["total"] == want["unbilled"]
    count, amount = expected_overdue(sandbox.world, installed.workspace_id, today)
    assert stored[current[0]]["invoices"] == {"count": count, "amount": amount, "currency": "USD"}
    # The page shows them, each linking out of the iframe to the page that fixes it.
    html = page.text
    assert 'data-period="current"' in html and 'data-period="previous"' in html
    assert re.search(r'href="' + re.escape(sandbox.url) + r'/approvals\?status=PENDING[^"]*" target="_top"', html)
    # Unbilled and overdue are billing's figures, and open billing's tab (the Invoices page action).
    for figure in ("unbilled", "overdue"):
        assert f'<a href="{sandbox.url}/invoices?action=invoices.action" target="_top" data-figure="{figure}">' in html
    assert "Last refreshed" in html


def test_opening_again_reads_the_snapshot_without_calling_clockify_for_figures(
    app, sandbox, installed, open_component, request_log
):
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    before = len(request_log())
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    new_calls = request_log()[before:]
    assert not [c for c in new_calls if "/reports/" in c["path"] or "/approval-requests" in c["path"]]


def test_refresh_recomputes_after_a_change(
    app, sandbox, installed, open_component, user_token, closeout_live, request_log
):
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    start, end = week_of(datetime.now(UTC).date() - timedelta(days=7))
    ws = sandbox.world.workspaces[installed.workspace_id]
    pending_before = snapshots(app, installed.workspace_id)[start]["timesheets"]["pending"]
    with sandbox.world.lock:
        changed = next(
            a for a in ws.approvals.values() if a["state"] == "PENDING" and start <= a["start"].date() <= end
        )
        changed["state"] = "APPROVED"
    token = user_token("OWNER")
    since = request_log()[-1]["id"]
    answer = requests.post(
        f"{closeout_live.url}/components/sidebar/refresh",
        headers={"X-Addon-Token": token, "HX-Request": "true"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert "Figures refreshed" in answer.headers["HX-Trigger"]
    # Both periods from a handful of paged or grouped calls, not one per person.
    calls = request_log(since=since)
    print(f"dashboard refresh: {len(calls)} Clockify calls: " + ", ".join(f"{c['method']} {c['path']}" for c in calls))
    assert len(calls) <= 12
    assert snapshots(app, installed.workspace_id)[start]["timesheets"]["pending"] == pending_before - 1


def test_a_member_sees_only_their_own_planned_and_tracked_hours(
    app, sandbox, installed, open_component, closeout_live, user_token
):
    page = requests.get(open_component("MEMBER", "sidebar"), timeout=60)
    assert page.status_code == 200, page.text
    assert "data-own-hours" in page.text
    assert 'data-figure="unbilled"' not in page.text and 'data-figure="pending"' not in page.text
    refresh = requests.post(
        f"{closeout_live.url}/components/sidebar/refresh",
        headers={"X-Addon-Token": user_token("MEMBER"), "HX-Request": "true"},
        timeout=60,
    )
    assert refresh.status_code == 403


def test_an_old_snapshot_is_recomputed_on_open_and_a_stale_one_polls_until_fresh(
    app, sandbox, installed, open_component, request_log
):
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    with app.app_context():
        db.session.execute(
            sa.update(DashboardSnapshot).values(
                refreshed_at=datetime.now(UTC) - timedelta(hours=2), stale_since=datetime.now(UTC)
            )
        )
        db.session.commit()
    since = request_log()[-1]["id"]
    page = requests.get(open_component("OWNER", "sidebar"), timeout=60)
    assert page.status_code == 200
    assert request_log(since=since, path="*/reports/summary")
    assert "data-stale" not in page.text  # recomputed: nothing left to wait for
    with app.app_context():
        db.session.execute(sa.update(DashboardSnapshot).values(stale_since=datetime.now(UTC)))
        db.session.commit()
    page = requests.get(open_component("OWNER", "sidebar"), timeout=60)
    assert 'data-stale hx-get="/components/sidebar" hx-trigger="every 5s"' in page.text


def test_missing_timesheets_count_rejected_or_withdrawn_approvals_as_submitted(app, sandbox, installed, open_component):
    start, end = week_of(datetime.now(UTC).date() - timedelta(days=7))
    ws = sandbox.world.workspaces[installed.workspace_id]
    with sandbox.world.lock:
        last_week = sorted(
            (a for a in ws.approvals.values() if start <= a["start"].astimezone(UTC).date() <= end),
            key=lambda a: a["id"],
        )
        rejected, withdrawn = last_week[0], last_week[1]
        rejected["state"], withdrawn["state"] = "REJECTED", "WITHDRAWN_APPROVAL"
        lo = datetime.combine(start, datetime.min.time(), UTC)
        hi = lo + timedelta(days=7)
        tracked = {e["userId"] for e in ws.time_entries.values() if lo <= e["start"] < hi and e["end"]}
        submitted = {a["userId"] for a in last_week if a["state"] != "WITHDRAWN_SUBMISSION"}
        active = {u for u, user in ws.users.items() if str(user.get("status", "ACTIVE")).upper() == "ACTIVE"}
        want = sorted(u for u in tracked - submitted if u in active)

    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200

    figures = snapshots(app, installed.workspace_id)[start]["timesheets"]
    missing = sorted(u["id"] for u in figures["missing_users"])
    assert rejected["userId"] not in missing and withdrawn["userId"] not in missing
    assert missing == want
    assert figures["missing"] == len(want)


def test_unbilled_and_overdue_are_billings_own_figures(
    app, sandbox, installed, open_component, closeout_live, user_token
):
    """Time on an invoice Closeout is still making is billed (Clockify marks it invoiced only at the end), and
    an invoice billing knows is past due counts as overdue."""
    assert approve_some_of_last_week(sandbox, installed.workspace_id) > 0
    assert requests.get(open_component("OWNER", "sidebar"), timeout=60).status_code == 200
    start, end = week_of(datetime.now(UTC).date() - timedelta(days=7))
    before = snapshots(app, installed.workspace_id)[start]
    target = max(before["unbilled"]["clients"], key=lambda c: c["amount"])
    token = user_token("OWNER")
    headers = {"X-Addon-Token": token, "HX-Request": "true"}
    base = f"{closeout_live.url}/components/invoices/clients/{target['id']}"
    week = {"start": start.isoformat(), "end": end.isoformat()}
    preview = requests.get(f"{base}/preview", params=week, headers=headers, timeout=60)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.text).group(1)
    confirmed = requests.post(f"{base}/invoice", params=week, data={"digest": digest}, headers=headers, timeout=60)
    # Queued; no worker runs here, so Clockify still says the time is uninvoiced.
    assert confirmed.status_code == 200, confirmed.text
    refreshed = requests.post(f"{closeout_live.url}/components/sidebar/refresh", headers=headers, timeout=60)
    assert refreshed.status_code == 200
    after = snapshots(app, installed.workspace_id)[start]
    assert target["id"] not in {c["id"] for c in after["unbilled"]["clients"]}
    assert after["unbilled"]["total"] == before["unbilled"]["total"] - target["amount"]
    count, amount = expected_overdue(sandbox.world, installed.workspace_id, datetime.now(UTC).date())
    current = week_of(datetime.now(UTC).date())[0]
    figure = snapshots(app, installed.workspace_id)[current]["invoices"]
    assert (figure["count"], figure["amount"]) == (count, amount)
