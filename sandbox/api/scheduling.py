"""Scheduling: assignments, project and user totals, publishing, recurring series and copies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import dto
from ..gate import needs
from ..state import NotFound, Workspace
from .common import (
    SORT_ORDERS,
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    id_value,
    instant,
    int_value,
    json_status,
    no_content,
    page_of,
    paged,
    query_enum,
    range_args,
    required,
    sort_by,
    str_list,
    workspace,
    world,
)

bp = Blueprint("scheduling", __name__)


def _body_range(data: dict[str, Any]) -> tuple[date, date]:
    start = instant(required(data, "start"), "start").date()
    end = instant(required(data, "end"), "end").date()
    if end < start:
        raise bad("Field 'end' must not be before 'start'")
    return start, end


def _overlapping(space: Workspace, start: date, end: date) -> list[dict[str, Any]]:
    return [a for a in space.assignments.values() if a["start"] <= end and a["end"] >= start]


@bp.get(f"{WS}/scheduling/assignments/all")
@needs("SCHEDULING_READ")
def all_assignments(ws: str) -> Response:
    start, end = range_args()
    sort_column = query_enum("sort-column", ("PROJECT", "USER", "ID"), "ID")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    name = (request.args.get("name") or "").lower()
    me = actor()
    with world().lock:
        space = workspace(ws)
        found = _overlapping(space, start, end)
        if not me.is_admin:
            # Members see published assignments only; managers also their team's drafts.
            visible = space.managed_user_ids(me.user_id) | {me.user_id}
            found = [a for a in found if a["published"] or a["userId"] in visible]
        if name:
            found = [a for a in found if name in space.projects[a["projectId"]]["name"].lower()]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ID": lambda a: a["id"],
            "PROJECT": lambda a: (space.projects[a["projectId"]]["name"], a["id"]),
            "USER": lambda a: (space.users[a["userId"]]["name"], a["id"]),
        }
        found = sort_by(found, keys[sort_column or "ID"], sort_order)
        return jsonify([dto.assignment_hydrated_dto(space, a) for a in paged(found)])


def _booked(
    space: Workspace, start: date, end: date, status: str, keep: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Assignments overlapping [start, end] that `keep` selects, PUBLISHED, UNPUBLISHED or ALL of them."""
    found = []
    for assignment in _overlapping(space, start, end):
        if not keep(assignment):
            continue
        if status == "PUBLISHED" and not assignment["published"]:
            continue
        if status == "UNPUBLISHED" and assignment["published"]:
            continue
        found.append(assignment)
    return found


def _project_totals(space: Workspace, project: dict[str, Any], start: date, end: date, status: str) -> dict:
    booked = _booked(space, start, end, status, lambda a: a["projectId"] == project["id"])
    return dto.project_totals_dto(space, project, booked, start, end)


def _projects_matching(space: Workspace, search: str) -> list[dict[str, Any]]:
    search = search.lower()
    found = []
    for project in space.projects.values():
        client = space.clients.get(project["clientId"] or "", {})
        if search in project["name"].lower() or search in client.get("name", "").lower():
            found.append(project)
    return sorted(found, key=lambda p: p["name"].lower())


@bp.get(f"{WS}/scheduling/assignments/projects/totals")
@needs("SCHEDULING_READ")
def project_totals(ws: str) -> Response:
    start, end = range_args()
    with world().lock:
        space = workspace(ws)
        found = paged(_projects_matching(space, request.args.get("search") or ""))
        return jsonify([_project_totals(space, p, start, end, "ALL") for p in found])


@bp.post(f"{WS}/scheduling/assignments/projects/totals")
@needs("SCHEDULING_READ")
def filtered_project_totals(ws: str) -> Response:
    # The all-projects call is a POST and ignores a `projectId` in its body (docs/clockify.md#quirk-7).
    data = body_object()
    start, end = _body_range(data)
    page = int_value(data.get("page"), "page", default=1)
    size = int_value(data.get("pageSize"), "pageSize", maximum=200, default=50)
    status = enum_value(data.get("statusFilter"), ("PUBLISHED", "UNPUBLISHED", "ALL"), "statusFilter") or "ALL"
    with world().lock:
        space = workspace(ws)
        found = page_of(_projects_matching(space, data.get("search") or ""), page, size)
        return jsonify([_project_totals(space, p, start, end, status) for p in found])


@bp.get(f"{WS}/scheduling/assignments/projects/totals/<project_id>")
@needs("SCHEDULING_READ")
def single_project_totals(ws: str, project_id: str) -> Response:
    start, end = range_args()
    with world().lock:
        space = workspace(ws)
        found = space.projects.get(project_id)
        if found is None:
            raise NotFound("Project")
        return jsonify(_project_totals(space, found, start, end, "ALL"))


def _user_totals(space: Workspace, user: dict[str, Any], start: date, end: date, status: str) -> dict[str, Any]:
    booked = _booked(space, start, end, status, lambda a: a["userId"] == user["id"])
    return dto.user_totals_dto(space, user, booked, start, end)


@bp.get(f"{WS}/scheduling/assignments/users/<user_id>/totals")
@needs("SCHEDULING_READ")
def single_user_totals(ws: str, user_id: str) -> Response:
    start, end = range_args()
    paged([])  # validates page / page-size
    with world().lock:
        space = workspace(ws)
        return jsonify(_user_totals(space, space.user(user_id), start, end, "ALL"))


@bp.post(f"{WS}/scheduling/assignments/user-filter/totals")
@needs("SCHEDULING_READ")
def user_totals(ws: str) -> Response:
    data = body_object()
    start, end = _body_range(data)
    page = int_value(data.get("page"), "page", default=1)
    size = int_value(data.get("pageSize"), "pageSize", maximum=200, default=50)
    status = enum_value(data.get("statusFilter"), ("PUBLISHED", "UNPUBLISHED", "ALL"), "statusFilter") or "ALL"
    search = (data.get("search") or "").lower()
    with world().lock:
        space = workspace(ws)
        ids = _filtered_user_ids(space, data)
        found = [u for u in space.users.values() if (ids is None or u["id"] in ids) and search in u["name"].lower()]
        found.sort(key=lambda u: u["name"].lower())
        return jsonify([_user_totals(space, u, start, end, status) for u in page_of(found, page, size)])


def _filtered_user_ids(space: Workspace, data: dict[str, Any]) -> set[str] | None:
    """userFilter / userGroupFilter (ContainsUsersFilterRequestV1) → the user ids they select, None for all."""
    selected: set[str] | None = None
    users_filter = data.get("userFilter")
    if isinstance(users_filter, dict) and users_filter.get("ids"):
        contains = enum_value(
            users_filter.get("contains") or "CONTAINS", ("CONTAINS", "DOES_NOT_CONTAIN", "CONTAINS_ONLY"), "contains"
        )
        ids = set(str_list(users_filter["ids"], "userFilter.ids"))
        selected = ids if contains != "DOES_NOT_CONTAIN" else set(space.users) - ids
    group_filter = data.get("userGroupFilter")
    if isinstance(group_filter, dict) and group_filter.get("ids"):
        members: set[str] = set()
        for group_id in str_list(group_filter["ids"], "userGroupFilter.ids"):
            members.update(space.groups.get(group_id, {}).get("userIds", []))
        if group_filter.get("contains") == "DOES_NOT_CONTAIN":
            members = set(space.users) - members
        selected = members if selected is None else selected & members
    return selected


@bp.put(f"{WS}/scheduling/assignments/publish")
@needs("SCHEDULING_WRITE")
def publish_assignments(ws: str) -> Response:
    # Publishing is range-scoped; there is no per-assignment publish (docs/clockify.md#quirk-7).
    data = body_object()
    start, end = _body_range(data)
    enum_value(data.get("viewType"), ("PROJECTS", "TEAM", "ALL"), "viewType")
    actor().require_admin()
    with world().lock:
        ids = _filtered_user_ids(workspace(ws), data)
    world().publish_assignments(ws, start, end, ids)
    return no_content()


@bp.post(f"{WS}/scheduling/assignments/recurring")
@needs("SCHEDULING_WRITE")
def create_recurring(ws: str) -> Response:
    data = body_object()
    user_id = id_value(data, "userId")
    project_id = id_value(data, "projectId")
    assert user_id is not None and project_id is not None
    start, end = _body_range(data)
    hours = required(data, "hoursPerDay")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
        raise bad("Field 'hoursPerDay' must be a number between 0 and 24")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 100:
        raise bad("Field 'note' must be a string of at most 100 characters")
    recurring = data.get("recurringAssignment") or {}
    repeat = bool(recurring.get("repeat")) if isinstance(recurring, dict) else False
    weeks = 1
    if repeat:
        weeks = int_value(recurring.get("weeks"), "recurringAssignment.weeks", maximum=99, default=0)
        if weeks == 0:
            raise bad("Field 'recurringAssignment.weeks' is required")
    actor().require_admin()
    the_world = world()
    series_id = the_world.new_id() if repeat else None
    created = []
    for week in range(weeks):
        shift = timedelta(days=7 * week)
        created.append(
            the_world.create_assignment(
                ws,
                user_id,
                project_id,
                start + shift,
                end + shift,
                float(hours),
                billable=data.get("billable"),
                note=note,
                include_non_working_days=bool(data.get("includeNonWorkingDays", False)),
                start_time=data.get("startTime"),
                series_id=series_id,
                repeat=repeat,
                weeks=weeks if repeat else None,
            )
        )
    with the_world.lock:
        space = workspace(ws)
        # Creating returns an array even for a single assignment (docs/clockify.md#quirk-7).
        return json_status([dto.assignment_dto(space, a) for a in created], 201)


def _series(space: Workspace, assignment: dict[str, Any], option: str) -> list[dict[str, Any]]:
    if not assignment["seriesId"] or option == "THIS_ONE":
        return [assignment]
    members = sorted(
        (a for a in space.assignments.values() if a["seriesId"] == assignment["seriesId"]), key=lambda a: a["start"]
    )
    if option == "THIS_AND_FOLLOWING":
        return [a for a in members if a["start"] >= assignment["start"]]
    return members


def _assignment(space: Workspace, assignment_id: str) -> dict[str, Any]:
    found = space.assignments.get(assignment_id)
    if found is None:
        raise NotFound("Assignment")
    return found


@bp.patch(f"{WS}/scheduling/assignments/recurring/<assignment_id>")
@needs("SCHEDULING_WRITE")
def edit_recurring(ws: str, assignment_id: str) -> Response:
    data = body_object()
    start, end = _body_range(data)
    option = enum_value(data.get("seriesUpdateOption"), ("THIS_ONE", "THIS_AND_FOLLOWING", "ALL"), "seriesUpdateOption")
    changes: dict[str, Any] = {}
    if data.get("hoursPerDay") is not None:
        hours = data["hoursPerDay"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
            raise bad("Field 'hoursPerDay' must be a number between 0 and 24")
        changes["hoursPerDay"] = float(hours)
    for name in ("billable", "includeNonWorkingDays"):
        if data.get(name) is not None:
            changes[name] = bool(data[name])
    if data.get("note") is not None:
        if not isinstance(data["note"], str) or len(data["note"]) > 100:
            raise bad("Field 'note' must be a string of at most 100 characters")
        changes["note"] = data["note"]
    if data.get("startTime") is not None:
        changes["startTime"] = data["startTime"]
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        target = _assignment(space, assignment_id)
        series = _series(space, target, option or "THIS_ONE")
        shift_start = start - target["start"]
        shift_end = end - target["end"]
        plan = [(a["id"], {**changes, "start": a["start"] + shift_start, "end": a["end"] + shift_end}) for a in series]
    updated = [the_world.update_assignment(ws, aid, change) for aid, change in plan]
    with the_world.lock:
        return jsonify([dto.assignment_dto(workspace(ws), a) for a in updated])


@bp.delete(f"{WS}/scheduling/assignments/recurring/<assignment_id>")
@needs("SCHEDULING_WRITE")
def delete_recurring(ws: str, assignment_id: str) -> Response:
    option = query_enum("seriesUpdateOption", ("THIS_ONE", "THIS_AND_FOLLOWING", "ALL"), "THIS_ONE")
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        doomed = [a["id"] for a in _series(space, _assignment(space, assignment_id), option or "THIS_ONE")]
    removed = [the_world.delete_assignment(ws, aid) for aid in doomed]
    with the_world.lock:
        return jsonify([dto.assignment_dto(workspace(ws), a) for a in removed])


@bp.put(f"{WS}/scheduling/assignments/series/<assignment_id>")
@needs("SCHEDULING_WRITE")
def edit_series(ws: str, assignment_id: str) -> Response:
    data = body_object()
    weeks = int_value(required(data, "weeks"), "weeks", maximum=99, default=1)
    repeat = bool(data.get("repeat", True))
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        target = _assignment(space, assignment_id)
        series = _series(space, target, "ALL")
        first = series[0]
        series_id = target["seriesId"] or the_world.new_id()
    result: list[dict[str, Any]] = []
    if not repeat:
        for extra in series[1:]:
            the_world.delete_assignment(ws, extra["id"])
        result = [the_world.update_assignment(ws, first["id"], {"seriesId": None, "repeat": False, "weeks": None})]
    else:
        for index in range(weeks):
            if index < len(series):
                result.append(
                    the_world.update_assignment(
                        ws, series[index]["id"], {"seriesId": series_id, "repeat": True, "weeks": weeks}
                    )
                )
            else:
                shift = timedelta(days=7 * index)
                result.append(
                    the_world.create_assignment(
                        ws,
                        first["userId"],
                        first["projectId"],
                        first["start"] + shift,
                        first["end"] + shift,
                        first["hoursPerDay"],
                        billable=first["billable"],
                        note=first["note"],
                        include_non_working_days=first["includeNonWorkingDays"],
                        start_time=first["startTime"],
                        series_id=series_id,
                        repeat=True,
                        weeks=weeks,
                    )
                )
        for extra in series[weeks:]:
            the_world.delete_assignment(ws, extra["id"])
    with the_world.lock:
        return jsonify([dto.assignment_dto(workspace(ws), a) for a in result])


@bp.post(f"{WS}/scheduling/assignments/<assignment_id>/copy")
@needs("SCHEDULING_WRITE")
def copy_assignment(ws: str, assignment_id: str) -> Response:
    data = body_object()
    user_id = id_value(data, "userId")
    assert user_id is not None
    option = enum_value(data.get("seriesUpdateOption"), ("THIS_ONE", "THIS_AND_FOLLOWING", "ALL"), "seriesUpdateOption")
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        space.user(user_id)
        sources = _series(space, _assignment(space, assignment_id), option or "THIS_ONE")
        series_id = the_world.new_id() if len(sources) > 1 else None
    copies = [
        the_world.create_assignment(
            ws,
            user_id,
            a["projectId"],
            a["start"],
            a["end"],
            a["hoursPerDay"],
            billable=a["billable"],
            note=a["note"],
            include_non_working_days=a["includeNonWorkingDays"],
            start_time=a["startTime"],
            series_id=series_id,
            repeat=bool(series_id),
            weeks=len(sources) if series_id else None,
        )
        for a in sources
    ]
    with the_world.lock:
        return jsonify([dto.assignment_dto(workspace(ws), a) for a in copies])
