"""The schedule tab over HTTP with the sandbox as Clockify: figures, visibility, plan gate, publish and copy."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from addon.dashboard import figures
from addon.extensions import db
from addon.platform.clients import clients_for
from addon.platform.models import Installation
from addon.scheduling import publish
from addon.scheduling.models import ScheduleJob
from addon.settings.store import get_settings
from addon.tokens import verifier_for
from addon.workspace import preferences

from .conftest import TAB, WEEKDAYS, at, cells, expected, monday, poll

pytestmark = pytest.mark.sandbox


def _person(sandbox: Any, workspace_id: str, role: str = "MEMBER") -> str:
    return str(sandbox.state.user_id_for_role(workspace_id, role))


def _add_time_off(sandbox: Any, workspace_id: str, user_id: str, day: date, *, half: bool) -> None:
    world = sandbox.world
    with world.lock:
        request_id = world.new_id()
        world.workspaces[workspace_id].time_off[request_id] = {
            "id": request_id,
            "userId": user_id,
            "policyId": "5f00000000000000000000aa",
            "policyName": "Vacation",
            "start": at(day, 0),
            "end": at(day, 23.99),
            "days": 0.5 if half else 1,
            "halfDay": half,
            "note": "",
            "status": "APPROVED",
            "createdAt": at(day - timedelta(days=10), 9),
            "changedBy": None,
        }


def _add_holiday(sandbox: Any, workspace_id: str, user_id: str, day: date, name: str) -> None:
    world = sandbox.world
    with world.lock:
        holiday_id = world.new_id()
        world.workspaces[workspace_id].holidays[holiday_id] = {
            "id": holiday_id,
            "name": name,
            "start": day,
            "end": day,
            "everyoneIncludingNew": False,
            "userIds": [user_id],
            "userGroupIds": [],
            "occursAnnually": False,
        }


def test_heatmap_figures_equal_the_sandbox_data_net_of_a_holiday_and_a_half_day_off(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    this_monday = monday(datetime.now(UTC).date())
    next_monday = this_monday + timedelta(days=7)
    first = this_monday - timedelta(days=14)  # two past weeks carry tracked time, the later ones only plans
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        away = {r["userId"] for r in space.time_off.values()}
        person = next(
            u["id"]
            for u in space.users.values()
            if u["status"] == "ACTIVE" and u["id"] not in away and u["workCapacity"] == "PT8H" and u["role"] is None
        )
        before = expected(space, person, next_monday, next_monday + timedelta(days=6), this_monday)["capacity"]
    _add_holiday(sandbox, workspace_id, person, next_monday + timedelta(days=1), "Company offsite")
    _add_time_off(sandbox, workspace_id, person, next_monday + timedelta(days=3), half=True)

    response = as_user("OWNER")("GET", f"/heatmap?start={first.isoformat()}&weeks=4")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    today = date.fromisoformat(re.search(r'data-today="([^"]+)"', html).group(1))
    found = cells(html)
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        shown = {c["user-id"] for c in found}
        assert len(shown) >= 30
        checked = 0
        for cell in found:
            week = date.fromisoformat(cell["week"])
            want = expected(space, cell["user-id"], week, week + timedelta(days=6), today)
            assert float(cell["scheduled-hours"]) == pytest.approx(want["scheduled"], abs=0.01), cell
            assert float(cell["capacity-hours"]) == pytest.approx(want["capacity"], abs=0.01), cell
            assert float(cell["tracked-hours"]) == pytest.approx(want["tracked"], abs=0.02), cell
            checked += 1
    assert checked == 4 * len(shown)
    mine = {c["week"]: c for c in found if c["user-id"] == person}
    # The holiday takes a whole day, the half day half of one, from next week's capacity.
    assert float(mine[next_monday.isoformat()]["capacity-hours"]) == pytest.approx(before - 8 - 4, abs=0.01)
    assert any(float(c["tracked-hours"]) > 0 for c in found)
    # What reduced capacity is said beside the person's name.
    row = html[html.index(f'data-user-row="{person}"') :]
    row = row[: row.index("</tr>")]
    assert "holiday: Company offsite" in row and "Vacation (half day)" in row


def test_the_daily_view_shows_one_week_by_day(as_user, installed):
    response = as_user("OWNER")("GET", "/heatmap?view=daily")
    found = cells(response.get_data(as_text=True))
    assert response.status_code == 200 and found
    assert all("day" in c and "week" not in c for c in found)
    assert len({c["day"] for c in found}) == 7


def test_a_cell_opens_its_assignments_time_off_and_tracked_hours(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    person = _person(sandbox, workspace_id)
    this_monday = monday(datetime.now(UTC).date())
    _add_holiday(sandbox, workspace_id, person, this_monday + timedelta(days=1), "Founders")
    call = as_user("OWNER")
    cell = f"{person}|{this_monday.isoformat()}|{(this_monday + timedelta(days=6)).isoformat()}"
    response = call("GET", "/cell", query_string={"cell": cell})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "data-cell-detail" in html
    assert "holiday: Founders" in html and "Clockify lists for" in html
    with sandbox.world.lock:
        ids = {
            a["id"]
            for a in sandbox.world.workspaces[workspace_id].assignments.values()
            if a["userId"] == person and a["start"] <= this_monday + timedelta(days=6) and a["end"] >= this_monday
        }
    assert ids and ids == set(re.findall(r'data-assignment-id="([^"]+)"', html))


def test_a_member_sees_only_their_own_row_even_through_crafted_calls(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    me = _person(sandbox, workspace_id)
    call = as_user("MEMBER")
    page = call("GET", "", headers={"HX-Request": ""})
    assert page.status_code == 200
    assert {c["user-id"] for c in cells(page.get_data(as_text=True))} == {me}
    assert "Publish" not in page.get_data(as_text=True)
    other = _person(sandbox, workspace_id, "ADMIN")
    week = monday(datetime.now(UTC).date())
    crafted = call("GET", "/cell", query_string={"cell": f"{other}|{week}|{week + timedelta(days=6)}"})
    assert crafted.status_code == 404
    with sandbox.world.lock:
        groups = sandbox.world.workspaces[workspace_id].groups.values()
        foreign = next(g["id"] for g in groups if me not in g["userIds"])
    assert call("GET", f"/heatmap?group={foreign}").status_code == 403
    variance = call("GET", "/variance").get_data(as_text=True)
    assert set(re.findall(r'data-variance-user="([^"]+)"', variance)) == {me}
    assert call("POST", "/publish", data={"first": str(week), "last": str(week)}).status_code == 403
    assert call("POST", "/copy", data={"week": str(week), "weeks": "1", "users": me}).status_code == 403


def test_a_team_manager_sees_only_the_groups_they_manage(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    manager = _person(sandbox, workspace_id, "TEAM_MANAGER")
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        managed = space.managed_user_ids(manager) | {manager}
        foreign_group = next(g for g in space.groups.values() if manager not in g["teamManagerIds"])
        outsider = next(u for u in foreign_group["userIds"] if u not in managed)
    call = as_user("TEAM_MANAGER")
    shown = {c["user-id"] for c in cells(call("GET", "/heatmap").get_data(as_text=True))}
    assert shown and shown <= managed
    assert call("GET", f"/heatmap?group={foreign_group['id']}").status_code == 403
    week = monday(datetime.now(UTC).date())
    assert (
        call("GET", "/cell", query_string={"cell": f"{outsider}|{week}|{week + timedelta(days=6)}"}).status_code == 404
    )


def test_bad_ranges_and_cells_get_clear_answers(as_user):
    call = as_user("OWNER")
    for path in (
        "/heatmap?start=yesterday",
        "/heatmap?weeks=99",
        "/heatmap?view=yearly",
        "/cell?cell=x",
        "/variance?sort=evil",
    ):
        response = call("GET", path)
        assert response.status_code == 400, path
        assert "Traceback" not in response.get_data(as_text=True)
    assert call("POST", "/publish", data={"first": "2026-01-10", "last": "2026-01-01"}).status_code == 400
    assert call("GET", "/jobs/999999").status_code == 404


def test_without_a_pro_plan_the_tab_says_so_and_the_rest_of_closeout_works(client, sandbox, user_token, installed):
    sandbox.control(
        "POST", "/faults", {"pattern": "/api/v1/workspaces/*/scheduling/*", "errorRate": 1, "errorStatus": 403}
    )
    response = client.get(f"{TAB}?auth_token={user_token('OWNER')}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Scheduling needs a Pro plan or higher" in html and "data-user-id" not in html
    approvals = client.get(f"/components/approvals?auth_token={user_token('OWNER')}")
    assert approvals.status_code == 200 and 'data-approval-id="' in approvals.get_data(as_text=True)


def test_publish_counts_first_then_publishes_the_range_with_notification(
    as_user, sandbox, installed, worker, request_log
):
    workspace_id = installed.workspace_id
    week = monday(datetime.now(UTC).date()) + timedelta(days=7)
    last = week + timedelta(days=6)
    with sandbox.world.lock:
        drafts = [
            a
            for a in sandbox.world.workspaces[workspace_id].assignments.values()
            if not a["published"] and a["start"] <= last and a["end"] >= week
        ]
    assert drafts
    call = as_user("OWNER")
    preview = call("GET", "/publish", query_string={"first": str(week), "last": str(last)}).get_data(as_text=True)
    assert f'data-assignments="{len(drafts)}"' in preview and ">Publish</button>" in preview
    started = call("POST", "/publish", data={"first": str(week), "last": str(last), "notify": "1"})
    assert started.status_code == 200
    job_id = int(re.search(r'data-job="(\d+)"', started.get_data(as_text=True)).group(1))
    poll(lambda: 'data-job-status="done"' in call("GET", f"/jobs/{job_id}").get_data(as_text=True))
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        assert all(space.assignments[a["id"]]["published"] for a in drafts)
    puts = request_log(method="PUT", path=f"/api/v1/workspaces/{workspace_id}/scheduling/assignments/publish")
    assert len(puts) == 1 and puts[0]["body"]["notifyUsers"] is True


def test_rolling_a_week_forward_twice_creates_each_copy_once(as_user, sandbox, installed, worker):
    workspace_id = installed.workspace_id
    week = monday(datetime.now(UTC).date())
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        person = next(a["userId"] for a in space.assignments.values() if a["start"] == week)
        # Free the target week so the copies fit the person's capacity.
        target = week + timedelta(days=21)
        for a in [a for a in space.assignments.values() if a["userId"] == person and a["start"] >= target]:
            del space.assignments[a["id"]]
        sources = [a for a in space.assignments.values() if a["userId"] == person and a["start"] == week]
    call = as_user("OWNER")

    def roll() -> str:
        # Over-booking allowed: every fourth seeded person is planned beyond capacity, and this test is about
        # copies being made once, not about capacity.
        form = {"week": str(week), "weeks": "4", "users": person, "allow_overbooking": "1"}
        started = call("POST", "/copy", data=form)
        assert started.status_code == 200, started.get_data(as_text=True)
        job_id = int(re.search(r'data-job="(\d+)"', started.get_data(as_text=True)).group(1))

        def done() -> str | None:
            html = call("GET", f"/jobs/{job_id}").get_data(as_text=True)
            return html if 'data-job-status="done"' in html else None

        return str(poll(done))

    first = roll()
    second = roll()
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        at_target = [a for a in space.assignments.values() if a["userId"] == person and a["start"] >= target]
        at_source = [a for a in space.assignments.values() if a["userId"] == person and a["start"] == week]
    # Weeks +1 and +2 already hold the seeded plan; +3 and +4 were freed: each gets one copy of each source.
    assert len(at_target) == 2 * len(sources)
    assert len(at_source) == len(sources)  # a copy never stays behind on the source week
    assert {(a["projectId"], a["hoursPerDay"]) for a in at_target} == {
        (a["projectId"], a["hoursPerDay"]) for a in sources
    }
    assert f"Created {2 * len(sources)} cop" in first
    assert "Created 0 copies" in second and "already there" in second


def test_copies_that_would_overbook_a_day_are_skipped_unless_chosen(as_user, sandbox, installed, worker):
    workspace_id = installed.workspace_id
    week = monday(datetime.now(UTC).date())
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        person = next(a["userId"] for a in space.assignments.values() if a["start"] == week)
    call = as_user("OWNER")
    # The next week already holds the same plan (seeded): doubling it books beyond capacity.
    with sandbox.world.lock:
        for a in [
            a for a in space.assignments.values() if a["userId"] == person and a["start"] == week + timedelta(days=7)
        ]:
            a["hoursPerDay"] += 0.5  # not identical, so not "already there"
    started = call("POST", "/copy", data={"week": str(week), "weeks": "1", "users": person})
    html = started.get_data(as_text=True)
    assert 'data-job-status="done"' in html and "would book" in html and "Created 0 copies" in html


def test_a_job_waits_for_its_authors_token_and_never_falls_back_to_the_installation(
    app, as_user, sandbox, installed, request_log
):
    week = monday(datetime.now(UTC).date()) + timedelta(days=7)
    call = as_user("OWNER")
    started = call("POST", "/publish", data={"first": str(week), "last": str(week + timedelta(days=6))})
    job_id = int(re.search(r'data-job="(\d+)"', started.get_data(as_text=True)).group(1))
    with app.app_context():
        job = db.session.get(ScheduleJob, job_id)
        job.user_token_ciphertext = None  # as if the author's token had expired and been dropped
        db.session.commit()
        publish.run_schedule_job(job_id, clients_for(app), verifier_for(app))
        db.session.commit()
        assert db.session.get(ScheduleJob, job_id).status == "waiting"
    assert request_log(method="PUT") == []
    # The author's next poll hands over a fresh token and the job goes on.
    assert 'data-job-status="queued"' in call("GET", f"/jobs/{job_id}?poll=1").get_data(as_text=True)


def test_an_assignment_delivery_moves_the_version_an_open_tab_polls(app, as_user, sandbox, installed, worker):
    call = as_user("OWNER")
    page = call("GET", "", headers={"HX-Request": ""}).get_data(as_text=True)
    version = re.search(r'data-version="(\d+)"', page).group(1)
    assert call("GET", f"/version?v={version}").status_code == 204
    workspace_id = installed.workspace_id
    person = _person(sandbox, workspace_id)
    project = next(iter(sandbox.world.workspaces[workspace_id].projects))
    week = monday(datetime.now(UTC).date()) + timedelta(days=35)
    sandbox.world.create_assignment(workspace_id, person, project, week, week + timedelta(days=2), 2.0)
    changed = poll(lambda: (r := call("GET", f"/version?v={version}")).status_code == 200 and r, timeout=30)
    assert "closeout:schedule-changed" in changed.headers["HX-Trigger"]


def test_the_dashboard_divides_by_the_same_net_capacity_as_the_heatmap(app, as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    person = _person(sandbox, workspace_id)
    this_monday = monday(datetime.now(UTC).date())
    _add_holiday(sandbox, workspace_id, person, this_monday + timedelta(days=2), "Founders")
    html = as_user("OWNER")("GET", f"/heatmap?start={this_monday}&weeks=1").get_data(as_text=True)
    heatmap = {c["user-id"]: float(c["capacity-hours"]) for c in cells(html)}
    with app.app_context():
        installation = db.session.scalar(db.select(Installation).filter_by(workspace_id=workspace_id))
        client = clients_for(app).for_installation(installation)
        info = preferences.workspace_info(workspace_id, preferences.shared(client))
        board = figures.compute(workspace_id, client, info, get_settings(workspace_id))
        client.close()
    current = next(f for f in board.values() if f["which"] == "current")
    assert current["period"]["start"] == this_monday.isoformat()
    people = current["people"]
    assert people[person]["capacity"] / 3600 == pytest.approx(heatmap[person]) and heatmap[person] < 40
    assert all(people[u]["capacity"] / 3600 == pytest.approx(hours) for u, hours in heatmap.items())


def test_the_approvals_tab_shows_the_same_scheduled_hours_as_the_heatmap(client, as_user, user_token, installed):
    last_week = monday(datetime.now(UTC).date()) - timedelta(days=7)
    html = as_user("OWNER")("GET", f"/heatmap?start={last_week}&weeks=1").get_data(as_text=True)
    heatmap = {c["user-id"]: float(c["scheduled-hours"]) for c in cells(html)}
    queue = client.get(f"/components/approvals?auth_token={user_token('OWNER')}&period={last_week}")
    rows = re.findall(
        r'data-user-id="([^"]+)">.*?<td class="num" data-scheduled>([^<]*)</td>', queue.get_data(as_text=True), re.S
    )
    assert len(rows) >= 20
    for user_id, text in rows:
        if user_id in heatmap and text.strip() not in ("", "\u2013"):
            parts = [int(x) for x in text.strip().split(":")] + [0, 0]
            shown = parts[0] + parts[1] / 60 + parts[2] / 3600
            assert shown == pytest.approx(heatmap[user_id], abs=0.02), user_id


def test_a_retry_moves_the_copy_already_made_instead_of_copying_again(as_user, sandbox, installed, worker):
    workspace_id = installed.workspace_id
    week = monday(datetime.now(UTC).date())
    target = week + timedelta(days=28)  # beyond the seeded plan
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        source = next(a for a in space.assignments.values() if a["start"] == week)
        person = source["userId"]
        count = sum(1 for a in space.assignments.values() if a["userId"] == person)
        sources = sum(1 for a in space.assignments.values() if a["userId"] == person and a["start"] == week)
    # Every move of a copy to its week fails: the copies exist in Clockify, on the source week.
    fault = sandbox.control(
        "POST",
        "/faults",
        {
            "pattern": "/api/v1/workspaces/*/scheduling/assignments/recurring/*",
            "methods": ["PATCH"],
            "errorRate": 1,
            "errorStatus": 503,
        },
    ).json()
    call = as_user("OWNER")
    form = {"week": str(week), "weeks": "4", "users": person, "allow_overbooking": "1"}
    started = call("POST", "/copy", data=form).get_data(as_text=True)
    job_id = int(re.search(r'data-job="(\d+)"', started).group(1))

    def finished() -> str | None:
        html = call("GET", f"/jobs/{job_id}").get_data(as_text=True)
        return html if 'data-job-status="done"' in html else None

    failed = poll(finished, timeout=60)
    assert f'data-failed="{sources}"' in failed
    sandbox.control("DELETE", f"/faults/{fault['id']}")
    assert call("POST", f"/jobs/{job_id}/retry").status_code == 200
    done = poll(lambda: (h := finished()) and 'data-failed="0"' in h and h, timeout=60)
    assert f"Created {sources} cop" in done
    with sandbox.world.lock:
        mine = [a for a in space.assignments.values() if a["userId"] == person]
        assert len(mine) == count + sources
        assert sum(1 for a in mine if a["start"] == target) == sources
        assert sum(1 for a in mine if a["start"] == week) == sources


def test_the_project_filter_keeps_that_projects_people_and_hours(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    week = monday(datetime.now(UTC).date()) + timedelta(days=7)
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        project = next(a["projectId"] for a in space.assignments.values() if a["start"] == week)
        on_project = {
            a["userId"]: expected_hours(space, a)
            for a in space.assignments.values()
            if a["projectId"] == project and a["start"] == week
        }
    html = as_user("OWNER")("GET", f"/heatmap?start={week}&weeks=1&project={project}").get_data(as_text=True)
    shown = {c["user-id"]: float(c["scheduled-hours"]) for c in cells(html)}
    assert set(shown) == set(on_project)
    for user_id, hours in on_project.items():
        assert shown[user_id] == pytest.approx(hours), user_id


def expected_hours(space: Any, assignment: dict[str, Any]) -> float:
    works = space.users[assignment["userId"]]["workingDays"]
    days = (assignment["end"] - assignment["start"]).days + 1
    return assignment["hoursPerDay"] * sum(
        1 for i in range(days) if WEEKDAYS[(assignment["start"] + timedelta(days=i)).weekday()] in works
    )


def _scheduled_ahead(space: Any, project_id: str, today: date, last: date | None = None) -> dict[date, float]:
    """Seconds scheduled on a project per working day after today (up to `last`), from the raw assignments."""
    by_day: dict[date, float] = {}
    for a in space.assignments.values():
        if a["projectId"] != project_id:
            continue
        works = space.users[a["userId"]]["workingDays"]
        for i in range((a["end"] - a["start"]).days + 1):
            day = a["start"] + timedelta(days=i)
            if today < day and (last is None or day <= last) and WEEKDAYS[day.weekday()] in works:
                by_day[day] = by_day.get(day, 0.0) + a["hoursPerDay"] * 3600
    return by_day


def test_variance_dates_when_the_schedule_uses_up_a_projects_estimate(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    call = as_user("OWNER")
    page = call("GET", "/heatmap").get_data(as_text=True)
    today = date.fromisoformat(re.search(r'data-today="([^"]+)"', page).group(1))
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]
        booked = [a for a in space.assignments.values() if a["start"] > today]
        project_id = booked[0]["projectId"]
        spent = sum(
            (e["end"] - e["start"]).total_seconds()
            for e in space.time_entries.values()
            if e["projectId"] == project_id and e["end"] is not None
        )
        # One hour left: the first working day after today that someone is scheduled on the project uses it up.
        space.projects[project_id]["estimateHours"] = int(spent // 3600) + 1
        left = space.projects[project_id]["estimateHours"] * 3600 - spent
        by_day = _scheduled_ahead(space, project_id, today)
        running, want = 0.0, None
        for day in sorted(by_day):
            running += by_day[day]
            if running >= left:
                want = day
                break
        other = next(p for p in space.projects.values() if p["id"] != project_id)
        other["estimateHours"] = 1  # long used up
    html = call("GET", "/variance").get_data(as_text=True)
    assert want is not None
    assert f'data-variance-project="{project_id}"' in html
    row = html[html.index(f'data-variance-project="{project_id}"') :].split("</tr>")[0]
    assert f'data-exhausted-on="{want.isoformat()}"' in row
    if f'data-variance-project="{other["id"]}"' in html:
        used = html[html.index(f'data-variance-project="{other["id"]}"') :].split("</tr>")[0]
        assert "already used up" in used


def test_variance_prices_the_schedule_against_a_projects_budget(as_user, sandbox, installed):
    workspace_id = installed.workspace_id
    call = as_user("OWNER")
    page = call("GET", "/heatmap").get_data(as_text=True)
    today = date.fromisoformat(re.search(r'data-today="([^"]+)"', page).group(1))
    weeks = sorted({date.fromisoformat(c["week"]) for c in cells(page)})
    last = weeks[-1] + timedelta(days=6)
    with sandbox.world.lock:
        space = sandbox.world.workspaces[workspace_id]

        def ahead(project_id: str) -> dict[date, float]:
            return _scheduled_ahead(space, project_id, today, last)

        running = {e["projectId"] for e in space.time_entries.values() if e["end"] is None}
        project = next(
            p
            for p in space.projects.values()
            if p["hourlyRate"] > 0 and p["id"] not in running and len(ahead(p["id"])) >= 2
        )
        rate = project["hourlyRate"]

        def priced(seconds: float) -> int:
            return round(seconds / 3600 * rate)

        # Tracked cost: the project's billable time (whole seconds, as reports count it) at its own rate, all
        # time: what the budget has used.
        used = sum(
            priced(int((e["end"] - e["start"]).total_seconds()))
            for e in space.time_entries.values()
            if e["projectId"] == project["id"] and e["end"] is not None and e["billable"]
        )
        by_day = ahead(project["id"])
        days = sorted(by_day)
        # One cent more than the first scheduled day costs is left: the second scheduled day uses the budget up.
        budget = used + priced(by_day[days[0]]) + 1
        project["budgetEstimate"] = budget
        scheduled_cost = sum(priced(seconds) for seconds in by_day.values())
    html = call("GET", "/variance").get_data(as_text=True)
    assert f'data-variance-project="{project["id"]}"' in html
    row = html[html.index(f'data-variance-project="{project["id"]}"') :].split("</tr>")[0]
    shown = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', row.split(">")[0]))
    assert int(shown["budget"]) == budget
    assert int(shown["tracked-cost"]) == used
    assert int(shown["scheduled-cost"]) == scheduled_cost
    assert shown["exhausted-on"] == days[1].isoformat()
    assert "at the current schedule" in row
