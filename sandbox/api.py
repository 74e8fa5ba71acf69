"""Clockify's REST API (backendUrl): /api/v1/… and /api/addon/…, as clockify-api-v1.txt describes it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import dto
from .gate import Actor, check_request, error, needs, sandbox
from .state import APPROVAL_PERIODS, APPROVAL_STATES, INVOICE_STATUSES, NotFound, Workspace, WorldError
from .wire import day_start, iso, parse_instant
from .world import World

bp = Blueprint("api", __name__)
bp.before_request(check_request)

WS = "/v1/workspaces/<ws>"
SORT_ORDERS = ("ASCENDING", "DESCENDING")
MEMBERSHIP_STATUSES = ("PENDING", "ACTIVE", "DECLINED", "INACTIVE", "ALL")
WEBHOOK_EVENTS = [
    "NEW_PROJECT",
    "NEW_TASK",
    "NEW_CLIENT",
    "NEW_TIMER_STARTED",
    "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "TIME_ENTRY_SPLIT",
    "NEW_TIME_ENTRY",
    "TIME_ENTRY_RESTORED",
    "NEW_TAG",
    "USER_DELETED_FROM_WORKSPACE",
    "USER_JOINED_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE",
    "USER_ACTIVATED_ON_WORKSPACE",
    "USER_EMAIL_CHANGED",
    "USER_UPDATED",
    "NEW_INVOICE",
    "INVOICE_UPDATED",
    "NEW_APPROVAL_REQUEST",
    "APPROVAL_REQUEST_STATUS_UPDATED",
    "TIME_OFF_REQUESTED",
    "TIME_OFF_REQUEST_UPDATED",
    "TIME_OFF_REQUEST_APPROVED",
    "TIME_OFF_REQUEST_REJECTED",
    "TIME_OFF_REQUEST_WITHDRAWN",
    "BALANCE_UPDATED",
    "TAG_UPDATED",
    "TAG_DELETED",
    "TASK_UPDATED",
    "CLIENT_UPDATED",
    "TASK_DELETED",
    "CLIENT_DELETED",
    "EXPENSE_RESTORED",
    "ASSIGNMENT_CREATED",
    "ASSIGNMENT_DELETED",
    "ASSIGNMENT_PUBLISHED",
    "ASSIGNMENT_UPDATED",
    "EXPENSE_CREATED",
    "EXPENSE_DELETED",
    "EXPENSE_UPDATED",
    "PROJECT_UPDATED",
    "PROJECT_DELETED",
    "USER_GROUP_CREATED",
    "USER_GROUP_UPDATED",
    "USER_GROUP_DELETED",
    "USERS_INVITED_TO_WORKSPACE",
    "LIMITED_USERS_ADDED_TO_WORKSPACE",
    "COST_RATE_UPDATED",
    "BILLABLE_RATE_UPDATED",
]
TRIGGER_SOURCE_TYPES = ("PROJECT_ID", "USER_ID", "TAG_ID", "TASK_ID", "WORKSPACE_ID", "ASSIGNMENT_ID", "EXPENSE_ID")
# Clockify: each admin up to 10 webhooks, 100 per workspace (API reference, "Webhooks").
MAX_WORKSPACE_WEBHOOKS = 100
MAX_WEBHOOKS_PER_USER = 10


# ---- plumbing ------------------------------------------------------------------------------------


@bp.errorhandler(WorldError)
def world_error(exc: WorldError) -> Response:
    return error(exc.status, exc.message, exc.code)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return error(exc.code or 500, exc.description or exc.name)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def unrouted(exc: HTTPException) -> Response | HTTPException:
    """Unknown API paths and methods answer JSON like the rest of the API (e.g. /time-entries/invoiced/bulk)."""
    if request.path.startswith(("/api/", "/reports/")):
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else None
        return error(exc.code or 404, "No such endpoint" if exc.code == 404 else "Method not allowed", headers=headers)
    return exc


def world() -> World:
    return sandbox().world


def actor() -> Actor:
    return g.actor


def bad(message: str) -> WorldError:
    return WorldError(400, message, 400)


def body_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad("Request body must be a JSON object")
    return data


def required(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise bad(f"Field '{name}' is required")
    return value


def id_value(data: dict[str, Any], name: str, *, needed: bool = True) -> str | None:
    """An id field: a non-empty string (required unless `needed` is False)."""
    value = data.get(name)
    if value is None or value == "":
        if needed:
            raise bad(f"Field '{name}' is required")
        return None
    if not isinstance(value, str):
        raise bad(f"Field '{name}' must be an id string")
    return value


def str_list(value: Any, name: str) -> list[str]:
    """A list of ids or names; None reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(f"Field '{name}' must be an array of strings")
    return value


def enum_value(value: Any, allowed: Iterable[str], name: str) -> Any:
    allowed = tuple(allowed)
    if value is None:
        return None
    if value not in allowed:
        raise bad(f"Invalid value for '{name}': must be one of {', '.join(allowed)}")
    return value


def query_enum(name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    return enum_value(request.args.get(name), allowed, name) or default


def query_bool(name: str, default: bool | None = None) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad(f"Invalid value for '{name}': must be true or false")


def instant(value: Any, name: str) -> datetime:
    try:
        return parse_instant(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid value for '{name}': expected yyyy-MM-ddThh:mm:ssZ") from None


def query_instant(name: str, *, needed: bool = False) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if needed:
            raise bad(f"Parameter '{name}' is required")
        return None
    return instant(raw, name)


def int_value(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid value for '{name}': expected an integer") from None
    if number < minimum or (maximum is not None and number > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise bad(f"Invalid value for '{name}': must be {limit}")
    return number


def paged(items: list[Any], *, max_size: int | None = None, default_size: int = 50) -> list[Any]:
    """Slice by the `page` (1-based) and `page-size` (default 50) query parameters."""
    page = int_value(request.args.get("page"), "page", default=1)
    size = int_value(request.args.get("page-size"), "page-size", maximum=max_size, default=default_size)
    return items[(page - 1) * size : page * size]


def page_of(items: list[Any], page: int, size: int) -> list[Any]:
    return items[(page - 1) * size : page * size]


def sort_by(items: list[Any], key: Callable[[Any], Any], order: str | None) -> list[Any]:
    return sorted(items, key=key, reverse=order == "DESCENDING")


def list_arg(name: str) -> list[str]:
    """A list query parameter, given repeated or comma-separated."""
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(v for v in raw.split(",") if v)
    return values


def workspace(ws_id: str) -> Workspace:
    return world().workspace(ws_id)


def no_content(status: int = 200) -> Response:
    return Response(status=status)


def json_status(payload: Any, status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


# ---- user and workspace --------------------------------------------------------------------------


@bp.get("/v1/user")
@needs("USER_READ")
def current_user() -> Response:
    me = actor()
    with world().lock:
        ws = workspace(me.workspace_id)
        return jsonify(
            dto.user_dto(ws, ws.user(me.user_id), memberships=query_bool("include-memberships", False) or False)
        )


@bp.get(WS)
@needs("WORKSPACE_READ")
def workspace_info(ws: str) -> Response:
    with world().lock:
        return jsonify(dto.workspace_dto(workspace(ws)))


@bp.get(f"{WS}/users")
@needs("USER_READ")
def users(ws: str) -> Response:
    status = query_enum("status", MEMBERSHIP_STATUSES)
    sort_column = query_enum(
        "sort-column", ("ID", "EMAIL", "NAME", "NAME_LOWERCASE", "ACCESS", "HOURLYRATE", "COSTRATE"), "EMAIL"
    )
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    memberships = query_enum("memberships", ("ALL", "NONE", "WORKSPACE", "PROJECT", "USERGROUP"), "NONE")
    include_roles = query_bool("include-roles", False)
    email = (request.args.get("email") or "").lower()
    name = (request.args.get("name") or "").lower()
    project_id = request.args.get("project-id")
    with world().lock:
        space = workspace(ws)
        if project_id and project_id not in space.projects:
            raise NotFound("Project")
        found = [
            u
            for u in space.users.values()
            if (status in (None, "ALL") or u["status"] == status)
            and email in u["email"].lower()
            and name in u["name"].lower()
        ]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ID": lambda u: u["id"],
            "EMAIL": lambda u: u["email"],
            "NAME": lambda u: u["name"],
            "NAME_LOWERCASE": lambda u: u["name"].lower(),
            "ACCESS": lambda u: u["role"] or "~",
            "HOURLYRATE": lambda u: u["hourlyRate"],
            "COSTRATE": lambda u: u["costRate"],
        }
        found = paged(sort_by(found, keys[sort_column or "EMAIL"], sort_order))
        out = []
        for user in found:
            item = dto.user_dto(space, user, memberships=memberships in ("ALL", "WORKSPACE"))
            if include_roles:
                item["roles"] = dto.roles_dto(space, user)
            out.append(item)
        return jsonify(out)


@bp.get(f"{WS}/users/<user_id>/managers")
@needs("USER_READ")
def managers(ws: str, user_id: str) -> Response:
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    query_enum("sort-column", ("ID", "EMAIL", "NAME", "NAME_LOWERCASE", "ACCESS", "HOURLYRATE", "COSTRATE"))
    with world().lock:
        space = workspace(ws)
        space.user(user_id)
        ids: list[str] = []
        for group in space.groups.values():
            if user_id in group["userIds"]:
                ids.extend(m for m in group["teamManagerIds"] if m != user_id and m not in ids)
        found = sort_by([space.users[i] for i in ids if i in space.users], lambda u: u["email"], sort_order)
        return jsonify([dto.user_dto(space, u) for u in paged(found)])


@bp.get(f"{WS}/member-profile/<user_id>")
@needs("USER_READ")
def member_profile(ws: str, user_id: str) -> Response:
    with world().lock:
        space = workspace(ws)
        return jsonify(dto.member_profile_dto(space, space.user(user_id)))


@bp.get(f"{WS}/user-groups")
@needs("GROUP_READ")
def user_groups(ws: str) -> Response:
    sort_column = query_enum("sort-column", ("ID", "NAME"), "NAME")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    include_managers = query_bool("includeTeamManagers", False) or False
    name = (request.args.get("name") or "").lower()
    with world().lock:
        space = workspace(ws)
        found = [gr for gr in space.groups.values() if name in gr["name"].lower()]
        found = sort_by(found, (lambda gr: gr["id"]) if sort_column == "ID" else (lambda gr: gr["name"]), sort_order)
        return jsonify([dto.group_dto(space, gr, managers=include_managers) for gr in paged(found)])


@bp.get(f"{WS}/clients")
@needs("CLIENT_READ")
def clients(ws: str) -> Response:
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    archived = query_bool("archived")
    name = (request.args.get("name") or "").lower()
    with world().lock:
        space = workspace(ws)
        found = [
            c
            for c in space.clients.values()
            if name in c["name"].lower() and (archived is None or c["archived"] == archived)
        ]
        found = sort_by(found, lambda c: c["name"].lower(), sort_order)
        return jsonify([dto.client_dto(space, c) for c in paged(found)])


@bp.get(f"{WS}/clients/<client_id>")
@needs("CLIENT_READ")
def client(ws: str, client_id: str) -> Response:
    with world().lock:
        space = workspace(ws)
        found = space.clients.get(client_id)
        if found is None:
            raise NotFound("Client")
        return jsonify(dto.client_dto(space, found))


@bp.get(f"{WS}/projects")
@needs("PROJECT_READ")
def projects(ws: str) -> Response:
    sort_column = query_enum("sort-column", ("ID", "NAME", "CLIENT_NAME", "DURATION", "BUDGET", "PROGRESS"), "NAME")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    archived = query_bool("archived")
    billable = query_bool("billable")
    name = (request.args.get("name") or "").lower()
    strict = query_bool("strict-name-search", False)
    client_ids = set(list_arg("clients"))
    contains_client = query_bool("contains-client", True)
    with world().lock:
        space = workspace(ws)
        found = []
        for project in space.projects.values():
            if name and ((project["name"].lower() != name) if strict else (name not in project["name"].lower())):
                continue
            if archived is not None and project["archived"] != archived:
                continue
            if billable is not None and project["billable"] != billable:
                continue
            if client_ids and ((project["clientId"] in client_ids) != contains_client):
                continue
            found.append(project)
        key: Callable[[dict[str, Any]], Any] = {
            "ID": lambda p: p["id"],
            "CLIENT_NAME": lambda p: space.clients.get(p["clientId"] or "", {}).get("name", ""),
        }.get(sort_column or "NAME", lambda p: p["name"].lower())
        found = sort_by(found, key, sort_order)
        return jsonify([dto.project_dto(space, p) for p in paged(found)])


@bp.get(f"{WS}/projects/<project_id>")
@needs("PROJECT_READ")
def project(ws: str, project_id: str) -> Response:
    with world().lock:
        space = workspace(ws)
        found = space.projects.get(project_id)
        if found is None:
            raise NotFound("Project")
        return jsonify(dto.project_dto(space, found))


# ---- approvals -----------------------------------------------------------------------------------


@bp.get(f"{WS}/approval-requests")
@needs("APPROVAL_READ")
def approval_requests(ws: str) -> Response:
    # The reference (and the live API, platform.md quirk 5) filter only on these three states.
    status = query_enum("status", ("PENDING", "APPROVED", "WITHDRAWN_APPROVAL"))
    sort_column = query_enum("sort-column", ("ID", "USER_ID", "START", "UPDATED_AT"), "ID")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    me = actor()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        visible = None if me.is_admin else space.managed_user_ids(me.user_id) | {me.user_id}
        found = [
            a
            for a in space.approvals.values()
            if (status is None or a["state"] == status) and (visible is None or a["userId"] in visible)
        ]
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ID": lambda a: a["id"],
            "USER_ID": lambda a: (a["userId"], a["start"]),
            "START": lambda a: (a["start"], a["id"]),
            "UPDATED_AT": lambda a: (a["updatedAt"], a["id"]),
        }
        found = paged(sort_by(found, keys[sort_column or "ID"], sort_order))
        now = the_world.now()
        return jsonify(
            [dto.approval_details_dto(space, a, the_world.approval_entries(ws, a["id"]), now) for a in found]
        )


def _period_request() -> tuple[datetime, str | None]:
    data = body_object()
    start = instant(required(data, "periodStart"), "periodStart")
    period = enum_value(data.get("period"), APPROVAL_PERIODS, "period")
    return start, period


@bp.post(f"{WS}/approval-requests")
@needs("APPROVAL_WRITE")
def submit_approval(ws: str) -> Response:
    start, period = _period_request()
    me = actor()
    request_ = world().submit_approval(ws, me.user_id, start, period, by_user_id=me.user_id)
    with world().lock:
        return json_status(dto.approval_dto(workspace(ws), request_), 201)


@bp.post(f"{WS}/approval-requests/users/<user_id>")
@needs("APPROVAL_WRITE")
def submit_approval_for(ws: str, user_id: str) -> Response:
    start, period = _period_request()
    me = actor()
    with world().lock:
        workspace(ws).user(user_id)
        if user_id != me.user_id and not me.can_manage(world(), user_id):
            raise WorldError(403, "Access denied: you cannot submit for this user", 403)
    request_ = world().submit_approval(ws, user_id, start, period, by_user_id=me.user_id)
    with world().lock:
        return json_status(dto.approval_dto(workspace(ws), request_), 201)


@bp.post(f"{WS}/approval-requests/resubmit-entries-for-approval")
@needs("APPROVAL_WRITE")
def resubmit_approval(ws: str) -> Response:
    start, _ = _period_request()
    me = actor()
    request_ = world().resubmit_approval(ws, me.user_id, start, by_user_id=me.user_id)
    with world().lock:
        return jsonify(dto.approval_dto(workspace(ws), request_))


@bp.post(f"{WS}/approval-requests/users/<user_id>/resubmit-entries-for-approval")
@needs("APPROVAL_WRITE")
def resubmit_approval_for(ws: str, user_id: str) -> Response:
    start, _ = _period_request()
    me = actor()
    with world().lock:
        workspace(ws).user(user_id)
        if user_id != me.user_id and not me.can_manage(world(), user_id):
            raise WorldError(403, "Access denied: you cannot submit for this user", 403)
    request_ = world().resubmit_approval(ws, user_id, start, by_user_id=me.user_id)
    with world().lock:
        return jsonify(dto.approval_dto(workspace(ws), request_))


@bp.patch(f"{WS}/approval-requests/<request_id>")
@needs("APPROVAL_WRITE")
def decide_approval(ws: str, request_id: str) -> Response:
    data = body_object()
    state = enum_value(required(data, "state"), APPROVAL_STATES, "state")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise bad("Field 'note' must be a string")
    me = actor()
    with world().lock:
        space = workspace(ws)
        found = space.approvals.get(request_id)
        if found is None:
            raise NotFound("Approval request")
        own = found["userId"] == me.user_id
        if state == "WITHDRAWN_SUBMISSION":
            allowed = own or me.can_manage(world(), found["userId"])
        else:
            # Deciding is for admins and the owner's team managers, never on one's own timesheet as a manager.
            allowed = me.is_admin or (not own and me.can_manage(world(), found["userId"]))
        if not allowed:
            raise WorldError(403, "Access denied: you cannot change this approval request", 403)
    updated = world().decide_approval(ws, request_id, state, note, by_user_id=me.user_id)
    with world().lock:
        return jsonify(dto.approval_dto(workspace(ws), updated))


# ---- time entries --------------------------------------------------------------------------------


@bp.get(f"{WS}/user/<user_id>/time-entries")
@needs("TIME_ENTRY_READ")
def user_time_entries(ws: str, user_id: str) -> Response:
    start = query_instant("start")
    end = query_instant("end")
    hydrated = query_bool("hydrated", False) or False
    in_progress = query_bool("in-progress")
    project_required = query_bool("project-required", False)
    project_id = request.args.get("project")
    description = (request.args.get("description") or "").lower()
    me = actor()
    with world().lock:
        space = workspace(ws)
        space.user(user_id)
        if not me.can_see(world(), user_id):
            raise WorldError(403, "Access denied: you cannot see this user's time entries", 403)
        found = []
        for entry in space.entries_of(user_id):
            if start and entry["start"] < start:
                continue
            if end and entry["start"] > end:
                continue
            if project_id and entry["projectId"] != project_id:
                continue
            if project_required and not entry["projectId"]:
                continue
            if description and description not in entry["description"].lower():
                continue
            if in_progress is not None and (entry["end"] is None) != in_progress:
                continue
            found.append(entry)
        # Newest first, as Clockify lists a user's entries.
        found.sort(key=lambda e: (e["start"], e["id"]), reverse=True)
        return jsonify([dto.time_entry_dto(space, e, hydrated=hydrated) for e in paged(found)])


@bp.get(f"{WS}/time-entries/status/in-progress")
@needs("TIME_ENTRY_READ")
def in_progress_time_entries(ws: str) -> Response:
    me = actor()
    with world().lock:
        space = workspace(ws)
        running = [e for e in space.time_entries.values() if e["end"] is None and me.can_see(world(), e["userId"])]
        running.sort(key=lambda e: (e["start"], e["id"]), reverse=True)
        # This list alone pages 10 by default, at most 1000 (API reference).
        return jsonify([dto.time_entry_dto(space, e) for e in paged(running, max_size=1000, default_size=10)])


def _entry_for(space: Workspace, entry_id: str, me: Actor) -> dict[str, Any]:
    entry = space.time_entries.get(entry_id)
    if entry is None:
        raise NotFound("Time entry")
    if not me.can_see(world(), entry["userId"]):
        raise WorldError(403, "Access denied: you cannot see this time entry", 403)
    return entry


@bp.get(f"{WS}/time-entries/<entry_id>")
@needs("TIME_ENTRY_READ")
def time_entry(ws: str, entry_id: str) -> Response:
    hydrated = query_bool("hydrated", False) or False
    with world().lock:
        space = workspace(ws)
        return jsonify(dto.time_entry_dto(space, _entry_for(space, entry_id, actor()), hydrated=hydrated))


def _entry_fields(data: dict[str, Any], *, start_required: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if start_required or data.get("start") is not None:
        fields["start"] = instant(required(data, "start"), "start")
    fields["end"] = instant(data["end"], "end") if data.get("end") is not None else None
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 3000:
        raise bad("Field 'description' must be a string of at most 3000 characters")
    fields["description"] = description
    fields["projectId"] = id_value(data, "projectId", needed=False)
    fields["taskId"] = id_value(data, "taskId", needed=False)
    fields["tagIds"] = str_list(data.get("tagIds"), "tagIds")
    fields["billable"] = bool(data.get("billable", False))
    fields["type"] = enum_value(data.get("type"), ("REGULAR", "BREAK"), "type") or "REGULAR"
    return fields


@bp.put(f"{WS}/time-entries/<entry_id>")
@needs("TIME_ENTRY_WRITE")
def update_time_entry(ws: str, entry_id: str) -> Response:
    fields = _entry_fields(body_object(), start_required=True)
    me = actor()
    with world().lock:
        space = workspace(ws)
        entry = _entry_for(space, entry_id, me)
        if entry["userId"] != me.user_id and not me.can_manage(world(), entry["userId"]):
            raise WorldError(403, "Access denied: you cannot edit this time entry", 403)
    updated = world().update_time_entry(ws, entry_id, fields)
    with world().lock:
        return jsonify(dto.time_entry_dto(workspace(ws), updated, rates=False))


@bp.delete(f"{WS}/time-entries/<entry_id>")
@needs("TIME_ENTRY_WRITE")
def delete_time_entry(ws: str, entry_id: str) -> Response:
    me = actor()
    with world().lock:
        entry = _entry_for(workspace(ws), entry_id, me)
        if entry["userId"] != me.user_id and not me.can_manage(world(), entry["userId"]):
            raise WorldError(403, "Access denied: you cannot delete this time entry", 403)
    world().delete_time_entry(ws, entry_id)
    return no_content(204)


def _create_entry(ws: str, user_id: str) -> Response:
    fields = _entry_fields(body_object(), start_required=False)
    start = fields.pop("start", None) or world().now()
    entry = world().add_time_entry(
        ws,
        user_id,
        start,
        fields["end"],
        project_id=fields["projectId"],
        task_id=fields["taskId"],
        description=fields["description"],
        billable=fields["billable"],
        tag_ids=fields["tagIds"],
        entry_type=fields["type"],
    )
    with world().lock:
        return json_status(dto.time_entry_dto(workspace(ws), entry, rates=False), 201)


@bp.post(f"{WS}/time-entries")
@needs("TIME_ENTRY_WRITE")
def create_time_entry(ws: str) -> Response:
    return _create_entry(ws, actor().user_id)


@bp.post(f"{WS}/user/<user_id>/time-entries")
@needs("TIME_ENTRY_WRITE")
def create_time_entry_for(ws: str, user_id: str) -> Response:
    me = actor()
    with world().lock:
        workspace(ws).user(user_id)
        if user_id != me.user_id and not me.can_manage(world(), user_id):
            raise WorldError(403, "Access denied: you cannot add time for this user", 403)
    return _create_entry(ws, user_id)


@bp.patch(f"{WS}/time-entries/invoiced")
@needs("TIME_ENTRY_WRITE")
def mark_invoiced(ws: str) -> Response:
    # The documented call; a `/invoiced/bulk` variant does not exist and 404s (platform.md quirk 6).
    data = body_object()
    invoiced = required(data, "invoiced")
    if not isinstance(invoiced, bool):
        raise bad("Field 'invoiced' must be a boolean")
    raw_ids = required(data, "timeEntryIds")
    if not isinstance(raw_ids, list) or not raw_ids:
        raise bad("Field 'timeEntryIds' must be a non-empty array")
    ids: list[str] = []
    for item in raw_ids:
        value = item.get("id") if isinstance(item, dict) else item
        if not isinstance(value, str) or not value:
            raise bad("Field 'timeEntryIds' must hold time entry ids")
        ids.append(value)
    if len(set(ids)) != len(ids):
        raise bad("Field 'timeEntryIds' must not repeat an id")
    actor().require_admin()
    world().mark_invoiced(ws, ids, invoiced)
    return no_content()


# ---- invoices ------------------------------------------------------------------------------------

INVOICE_SORTS: dict[str, Callable[[Workspace, dict[str, Any]], Any]] = {
    "ID": lambda ws, i: i["id"],
    "CLIENT": lambda ws, i: ws.clients.get(i["clientId"], {}).get("name", ""),
    "DUE_ON": lambda ws, i: i["dueDate"],
    "ISSUE_DATE": lambda ws, i: i["issuedDate"],
    "AMOUNT": lambda ws, i: dto.invoice_totals(i)["amount"],
    "BALANCE": lambda ws, i: dto.invoice_totals(i)["balance"],
}


@bp.get(f"{WS}/invoices")
@needs("INVOICE_READ")
def invoices(ws: str) -> Response:
    statuses = list_arg("statuses")
    for status in statuses:
        enum_value(status, INVOICE_STATUSES, "statuses")
    sort_column = query_enum("sort-column", tuple(INVOICE_SORTS), "ID")
    sort_order = query_enum("sort-order", SORT_ORDERS, "ASCENDING")
    actor().require_admin()
    with world().lock:
        space = workspace(ws)
        found = [i for i in space.invoices.values() if not statuses or i["status"] in statuses]
        found = sort_by(found, lambda i: INVOICE_SORTS[sort_column or "ID"](space, i), sort_order)
        return jsonify({"invoices": [dto.invoice_dto(space, i) for i in paged(found)], "total": len(found)})


@bp.post(f"{WS}/invoices/info")
@needs("INVOICE_READ")
def invoices_info(ws: str) -> Response:
    data = body_object()
    page = int_value(data.get("page"), "page", default=1)
    size = int_value(data.get("pageSize", data.get("page-size")), "pageSize", default=50)
    statuses = data.get("statuses") or []
    if not isinstance(statuses, list):
        raise bad("Field 'statuses' must be an array")
    for status in statuses:
        enum_value(status, INVOICE_STATUSES, "statuses")
    sort_column = enum_value(data.get("sortColumn"), tuple(INVOICE_SORTS), "sortColumn") or "ID"
    sort_order = enum_value(data.get("sortOrder"), SORT_ORDERS, "sortOrder") or "ASCENDING"
    client_filter = data.get("clients") or {}
    if not isinstance(client_filter, dict):
        raise bad("Field 'clients' must be an object")
    client_ids = set(str_list(client_filter.get("ids"), "clients.ids"))
    contains = client_filter.get("contains") or "CONTAINS"
    enum_value(contains, ("CONTAINS", "DOES_NOT_CONTAIN", "CONTAINS_ONLY"), "clients.contains")
    issue = data.get("issueDate") or {}
    if not isinstance(issue, dict):
        raise bad("Field 'issueDate' must be an object")
    issue_start = instant(issue["issue-date-start"], "issue-date-start") if issue.get("issue-date-start") else None
    issue_end = instant(issue["issue-date-end"], "issue-date-end") if issue.get("issue-date-end") else None
    number = data.get("invoiceNumber")
    actor().require_admin()
    the_world = world()
    with the_world.lock:
        space = workspace(ws)
        found = []
        for invoice in space.invoices.values():
            totals = dto.invoice_totals(invoice)
            if statuses and invoice["status"] not in statuses:
                continue
            if client_ids and ((invoice["clientId"] in client_ids) == (contains == "DOES_NOT_CONTAIN")):
                continue
            if issue_start and invoice["issuedDate"] < issue_start:
                continue
            if issue_end and invoice["issuedDate"] > issue_end:
                continue
            if number and str(number) not in invoice["number"]:
                continue
            if not _amount_filters(data, totals):
                continue
            found.append(invoice)
        found = sort_by(found, lambda i: INVOICE_SORTS[sort_column](space, i), sort_order)
        now = the_world.now()
        rows = [dto.invoice_dto(space, i, now) for i in page_of(found, page, size)]
        return jsonify({"invoices": rows, "total": len(found)})


def _amount_filters(data: dict[str, Any], totals: dict[str, int]) -> bool:
    checks = (
        ("exactAmount", "amount", lambda v, x: v == x),
        ("greaterThanAmount", "amount", lambda v, x: v > x),
        ("lessThanAmount", "amount", lambda v, x: v < x),
        ("exactBalance", "balance", lambda v, x: v == x),
        ("greaterThanBalance", "balance", lambda v, x: v > x),
        ("lessThanBalance", "balance", lambda v, x: v < x),
    )
    for name, field, test in checks:
        if data.get(name) is not None and not test(totals[field], int(data[name])):
            return False
    return True


@bp.post(f"{WS}/invoices")
@needs("INVOICE_WRITE")
def create_invoice(ws: str) -> Response:
    data = body_object()
    client_id = id_value(data, "clientId")
    assert client_id is not None
    currency = required(data, "currency")
    if not isinstance(currency, str):
        raise bad("Field 'currency' must be a currency code")
    number = str(required(data, "number"))
    issued = instant(required(data, "issuedDate"), "issuedDate")
    due = instant(required(data, "dueDate"), "dueDate")
    me = actor()
    me.require_admin()
    # `note` and `subject` in the body are dropped, as the live API does (platform.md quirk 4).
    invoice = world().create_invoice(ws, client_id, number, currency, issued, due, by_user_id=me.user_id)
    return json_status(
        {
            "id": invoice["id"],
            "billFrom": invoice["billFrom"],
            "clientId": invoice["clientId"],
            "currency": invoice["currency"],
            "dueDate": iso(invoice["dueDate"]),
            "issuedDate": iso(invoice["issuedDate"]),
            "number": invoice["number"],
        },
        201,
    )


@bp.get(f"{WS}/invoices/settings")
@needs("INVOICE_READ")
def invoice_settings(ws: str) -> Response:
    actor().require_admin()
    with world().lock:
        return jsonify(workspace(ws).invoice_settings)


@bp.put(f"{WS}/invoices/settings")
@needs("INVOICE_WRITE")
def update_invoice_settings(ws: str) -> Response:
    data = body_object()
    labels = required(data, "labels")
    if not isinstance(labels, dict):
        raise bad("Field 'labels' must be an object")
    for name, value in labels.items():
        if not isinstance(value, str) or len(value) > 20:
            raise bad(f"Label '{name}' must be a string of at most 20 characters")
    defaults = data.get("defaults")
    if defaults is not None:
        if not isinstance(defaults, dict):
            raise bad("Field 'defaults' must be an object")
        required(defaults, "notes")
        required(defaults, "subject")
        enum_value(defaults.get("taxType"), ("COMPOUND", "SIMPLE", "NONE"), "defaults.taxType")
    actor().require_admin()
    with world().lock:
        settings = workspace(ws).invoice_settings
        settings["labels"] = {**settings.get("labels", {}), **labels}
        if defaults is not None:
            settings["defaults"] = {**settings.get("defaults", {}), **defaults}
        if isinstance(data.get("exportFields"), dict):
            settings["exportFields"] = {**settings.get("exportFields", {}), **data["exportFields"]}
    return no_content()


def _invoice(ws: str, invoice_id: str) -> dict[str, Any]:
    actor().require_admin()
    return world().invoice(ws, invoice_id)


@bp.get(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_READ")
def invoice(ws: str, invoice_id: str) -> Response:
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), _invoice(ws, invoice_id)))


@bp.put(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_WRITE")
def update_invoice(ws: str, invoice_id: str) -> Response:
    data = body_object()
    fields: dict[str, Any] = {}
    for name in ("currency", "number"):
        fields[name] = str(required(data, name))
    for name in ("issuedDate", "dueDate"):
        fields[name] = instant(required(data, name), name)
    for name in ("taxPercent", "tax2Percent", "discountPercent"):
        value = data.get(name)
        if value is None:
            raise bad(f"Field '{name}' is required")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise bad(f"Field '{name}' must be a percent between 0 and 100")
        fields[name] = value
    for name in ("note", "subject"):
        if data.get(name) is not None:
            if not isinstance(data[name], str):
                raise bad(f"Field '{name}' must be a string")
            fields[name] = data[name]
    for name in ("clientId", "companyId"):
        if data.get(name) is not None:
            fields[name] = id_value(data, name)
    _invoice(ws, invoice_id)
    updated = world().update_invoice(ws, invoice_id, fields)
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), updated))


@bp.delete(f"{WS}/invoices/<invoice_id>")
@needs("INVOICE_WRITE")
def delete_invoice(ws: str, invoice_id: str) -> Response:
    _invoice(ws, invoice_id)
    world().delete_invoice(ws, invoice_id)
    return no_content()


@bp.patch(f"{WS}/invoices/<invoice_id>/status")
@needs("INVOICE_WRITE")
def invoice_status(ws: str, invoice_id: str) -> Response:
    data = body_object()
    status = enum_value(required(data, "invoiceStatus"), INVOICE_STATUSES, "invoiceStatus")
    _invoice(ws, invoice_id)
    world().set_invoice_status(ws, invoice_id, status)
    return no_content()


@bp.get(f"{WS}/invoices/<invoice_id>/payments")
@needs("INVOICE_READ")
def invoice_payments(ws: str, invoice_id: str) -> Response:
    with world().lock:
        found = _invoice(ws, invoice_id)
        payments = sorted(found["payments"], key=lambda p: p["date"])
        return jsonify([dto.payment_dto(p) for p in paged(payments)])


@bp.post(f"{WS}/invoices/<invoice_id>/payments")
@needs("INVOICE_WRITE")
def add_invoice_payment(ws: str, invoice_id: str) -> Response:
    data = body_object()
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise bad("Field 'amount' must be a positive integer (minor units)")
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > 1000:
        raise bad("Field 'note' must be a string of at most 1000 characters")
    paid_at = instant(data["paymentDate"], "paymentDate") if data.get("paymentDate") else world().now()
    _invoice(ws, invoice_id)
    updated = world().add_payment(ws, invoice_id, amount, paid_at, note, by_user_id=actor().user_id)
    with world().lock:
        # The live API answers with the invoice, not the payment (platform.md quirk 3).
        return json_status(dto.invoice_overview_dto(workspace(ws), updated), 201)


@bp.delete(f"{WS}/invoices/<invoice_id>/payments/<payment_id>")
@needs("INVOICE_WRITE")
def delete_invoice_payment(ws: str, invoice_id: str, payment_id: str) -> Response:
    _invoice(ws, invoice_id)
    updated = world().delete_payment(ws, invoice_id, payment_id)
    with world().lock:
        return jsonify(dto.invoice_overview_dto(workspace(ws), updated))


@bp.post(f"{WS}/invoices/<invoice_id>/duplicate")
@needs("INVOICE_WRITE")
def duplicate_invoice(ws: str, invoice_id: str) -> Response:
    _invoice(ws, invoice_id)
    copy = world().duplicate_invoice(ws, invoice_id, by_user_id=actor().user_id)
    with world().lock:
        return json_status(dto.invoice_overview_dto(workspace(ws), copy), 201)


@bp.get(f"{WS}/invoices/<invoice_id>/export")
@needs("INVOICE_READ")
def export_invoice(ws: str, invoice_id: str) -> Response:
    if not request.args.get("userLocale"):
        raise bad("Parameter 'userLocale' is required")
    with world().lock:
        found = _invoice(ws, invoice_id)
        totals = dto.invoice_totals(found)
        text = f"Invoice {found['number']} {found['currency']} {totals['amount'] / 100:.2f}"
    # A minimal one-page PDF: enough for a client to store or attach the export.
    pdf = (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
        f"4 0 obj<</Length {len(text) + 30}>>stream\nBT /F1 12 Tf 72 770 Td ({text}) Tj ET\nendstream endobj\n"
        "trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return Response(
        pdf.encode(),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{found["number"]}.pdf"'},
    )


# ---- scheduling ----------------------------------------------------------------------------------


def _range_args() -> tuple[date, date]:
    start = query_instant("start", needed=True)
    end = query_instant("end", needed=True)
    assert start is not None and end is not None
    if end < start:
        raise bad("Parameter 'end' must not be before 'start'")
    return start.date(), end.date()


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
    start, end = _range_args()
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


def _project_totals(space: Workspace, project: dict[str, Any], start: date, end: date, status: str) -> dict:
    per_day: dict[date, bool] = {}
    total = 0.0
    for assignment in _overlapping(space, start, end):
        if assignment["projectId"] != project["id"]:
            continue
        if status == "PUBLISHED" and not assignment["published"]:
            continue
        if status == "UNPUBLISHED" and assignment["published"]:
            continue
        days = dto.assignment_days(assignment, space.users.get(assignment["userId"], {}), start, end)
        total += assignment["hoursPerDay"] * len(days)
        for day in days:
            per_day[day] = True
    client = space.clients.get(project["clientId"] or "", {})
    return {
        "projectId": project["id"],
        "projectName": project["name"],
        "projectColor": project["color"],
        "projectArchived": project["archived"],
        "projectBillable": project["billable"],
        "clientName": client.get("name", ""),
        "workspaceId": space.id,
        "totalHours": total,
        "milestones": [],
        "assignments": [{"date": iso(day_start(d)), "hasAssignment": True} for d in sorted(per_day)],
    }


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
    start, end = _range_args()
    with world().lock:
        space = workspace(ws)
        found = paged(_projects_matching(space, request.args.get("search") or ""))
        return jsonify([_project_totals(space, p, start, end, "ALL") for p in found])


@bp.post(f"{WS}/scheduling/assignments/projects/totals")
@needs("SCHEDULING_READ")
def filtered_project_totals(ws: str) -> Response:
    # The all-projects call is a POST and ignores a `projectId` in its body (platform.md quirk 7).
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
    start, end = _range_args()
    with world().lock:
        space = workspace(ws)
        found = space.projects.get(project_id)
        if found is None:
            raise NotFound("Project")
        return jsonify(_project_totals(space, found, start, end, "ALL"))


def _user_totals(space: Workspace, user: dict[str, Any], start: date, end: date, status: str) -> dict[str, Any]:
    per_day: dict[date, float] = {}
    for assignment in _overlapping(space, start, end):
        if assignment["userId"] != user["id"]:
            continue
        if status == "PUBLISHED" and not assignment["published"]:
            continue
        if status == "UNPUBLISHED" and assignment["published"]:
            continue
        for day in dto.assignment_days(assignment, user, start, end):
            per_day[day] = per_day.get(day, 0.0) + assignment["hoursPerDay"]
    capacity = _capacity_hours(user["workCapacity"])
    return {
        "userId": user["id"],
        "userName": user["name"],
        "userImage": "",
        "userStatus": user["status"],
        "workspaceId": space.id,
        "capacityPerDay": capacity,
        "workingDays": list(user["workingDays"]),
        "totalHoursPerDay": [{"date": iso(day_start(d)), "totalHours": h} for d, h in sorted(per_day.items())],
    }


def _capacity_hours(text: str) -> float:
    hours = 0.0
    body = text[2:] if text.startswith("PT") else text
    if "H" in body:
        head, body = body.split("H", 1)
        hours += float(head)
    if "M" in body:
        head, body = body.split("M", 1)
        hours += float(head) / 60
    return hours


@bp.get(f"{WS}/scheduling/assignments/users/<user_id>/totals")
@needs("SCHEDULING_READ")
def single_user_totals(ws: str, user_id: str) -> Response:
    start, end = _range_args()
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
    # Publishing is range-scoped; there is no per-assignment publish (platform.md quirk 7).
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
        # Creating returns an array even for a single assignment (platform.md quirk 7).
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


# ---- holidays and time off -----------------------------------------------------------------------


def _holiday_applies(space: Workspace, holiday: dict[str, Any], user_id: str) -> bool:
    groups = {gid for gid, gr in space.groups.items() if user_id in gr["userIds"]}
    return bool(
        holiday["everyoneIncludingNew"] or user_id in holiday["userIds"] or groups & set(holiday["userGroupIds"])
    )


@bp.get(f"{WS}/holidays")
@needs("TIME_OFF_READ")
def holidays(ws: str) -> Response:
    user_id = request.args.get("assigned-to")
    with world().lock:
        space = workspace(ws)
        if user_id:
            space.user(user_id)
        found = [h for h in space.holidays.values() if not user_id or _holiday_applies(space, h, user_id)]
        found.sort(key=lambda h: h["start"])
        return jsonify([dto.holiday_dto(space, h) for h in found])


@bp.get(f"{WS}/holidays/in-period")
@needs("TIME_OFF_READ")
def holidays_in_period(ws: str) -> Response:
    user_id = request.args.get("assigned-to")
    if not user_id:
        raise bad("Parameter 'assigned-to' is required")
    start, end = _range_args()
    with world().lock:
        space = workspace(ws)
        space.user(user_id)
        found = [
            h
            for h in space.holidays.values()
            if h["start"] <= end and h["end"] >= start and _holiday_applies(space, h, user_id)
        ]
        found.sort(key=lambda h: h["start"])
        return jsonify([dto.holiday_dto(space, h) for h in found])


@bp.post(f"{WS}/time-off/requests")
@needs("TIME_OFF_READ")
def time_off_requests(ws: str) -> Response:
    # Listing is a POST; a GET answers 405 (platform.md quirk 10) because only POST is routed.
    data = body_object()
    page = int_value(data.get("page"), "page", maximum=1000, default=1)
    size = int_value(data.get("pageSize"), "pageSize", maximum=200, default=50)
    statuses = data.get("statuses") or ["ALL"]
    if not isinstance(statuses, list):
        raise bad("Field 'statuses' must be an array")
    for status in statuses:
        enum_value(status, ("PENDING", "APPROVED", "REJECTED", "ALL"), "statuses")
    start = instant(data["start"], "start") if data.get("start") else None
    end = instant(data["end"], "end") if data.get("end") else None
    users_wanted = set(str_list(data.get("users"), "users"))
    me = actor()
    with world().lock:
        space = workspace(ws)
        for group_id in str_list(data.get("userGroups"), "userGroups"):
            users_wanted.update(space.groups.get(group_id, {}).get("userIds", []))
        found = []
        for item in space.time_off.values():
            if "ALL" not in statuses and item["status"] not in statuses:
                continue
            if users_wanted and item["userId"] not in users_wanted:
                continue
            if start and item["end"] < start:
                continue
            if end and item["start"] > end:
                continue
            if not me.can_see(world(), item["userId"]):
                continue
            found.append(item)
        found.sort(key=lambda r: (r["start"], r["id"]))
        return jsonify(
            {"count": len(found), "requests": [dto.time_off_dto(space, r) for r in page_of(found, page, size)]}
        )


# ---- webhooks ------------------------------------------------------------------------------------


@bp.post(f"{WS}/webhooks")
def create_webhook(ws: str) -> Response:
    data = body_object()
    url = required(data, "url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad("Field 'url' must be an http(s) URL")
    event = enum_value(required(data, "webhookEvent"), WEBHOOK_EVENTS, "webhookEvent")
    source_type = enum_value(required(data, "triggerSourceType"), TRIGGER_SOURCE_TYPES, "triggerSourceType")
    if data.get("triggerSource") is None:
        raise bad("Field 'triggerSource' is required")
    sources = str_list(data.get("triggerSource"), "triggerSource")
    name = data.get("name") or event.lower()
    if not isinstance(name, str) or not 2 <= len(name) <= 30:
        raise bad("Field 'name' must be 2 to 30 characters")
    me = actor()
    me.require_admin()
    box = sandbox()
    the_world = world()
    with the_world.lock:
        installation = the_world.installations[ws]
        created = [h for h in installation.webhooks if h.get("source") == "api"] + workspace(ws).user_webhooks
        if len(created) >= MAX_WORKSPACE_WEBHOOKS:
            raise bad("Webhook limit reached for this workspace")
        # Manifest webhooks do not count; those created through this API do, per creating user.
        if sum(1 for h in created if h.get("userId") == me.user_id) >= MAX_WEBHOOKS_PER_USER:
            raise bad("Webhook limit reached: at most 10 webhooks per user")
        hook_id = the_world.new_id()
        # Same claims as the manifest webhooks' tokens (platform.md §3.2); fixed per webhook, no expiry.
        token = box.signer.mint({"workspaceId": ws, "addonId": installation.addon_id, "webhookId": hook_id})
        hook = {
            "id": hook_id,
            "event": event,
            "url": url,
            "token": token,
            "source": "api",
            "name": name,
            "triggerSource": list(sources) or [ws],
            "triggerSourceType": source_type,
            "enabled": True,
            "userId": me.user_id,
        }
        installation.webhooks.append(hook)
        return json_status(dto.webhook_dto(ws, hook), 201)


def _addon_hooks(ws: str) -> list[dict[str, Any]]:
    return list(world().installations[ws].webhooks)


@bp.get(f"{WS}/webhooks")
def webhooks(ws: str) -> Response:
    kind = query_enum("type", ("USER_CREATED", "SYSTEM", "ADDON"))
    actor().require_admin()
    with world().lock:
        hooks = [] if kind == "USER_CREATED" else _addon_hooks(ws)
        return jsonify({"webhooks": [dto.webhook_dto(ws, h) for h in hooks], "workspaceWebhookCount": len(hooks)})


@bp.get(f"{WS}/webhooks/<webhook_id>")
def webhook(ws: str, webhook_id: str) -> Response:
    actor().require_admin()
    with world().lock:
        for hook in _addon_hooks(ws):
            if hook["id"] == webhook_id:
                return jsonify(dto.webhook_dto(ws, hook))
    raise NotFound("Webhook")


@bp.delete(f"{WS}/webhooks/<webhook_id>")
def delete_webhook(ws: str, webhook_id: str) -> Response:
    actor().require_admin()
    with world().lock:
        installation = world().installations[ws]
        kept = [h for h in installation.webhooks if h["id"] != webhook_id]
        if len(kept) == len(installation.webhooks):
            raise NotFound("Webhook")
        installation.webhooks[:] = kept
    return no_content()


@bp.get(f"{WS}/addons/<addon_id>/webhooks")
def addon_webhooks(ws: str, addon_id: str) -> Response:
    me = actor()
    if addon_id != me.addon_id:
        raise WorldError(403, "Access denied: another addon's webhooks", 403)
    with world().lock:
        hooks = _addon_hooks(ws)
        return jsonify({"webhooks": [dto.webhook_dto(ws, h) for h in hooks], "workspaceWebhookCount": len(hooks)})


# ---- add-on settings -----------------------------------------------------------------------------


def _settings_index(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for tab in settings.get("tabs", []):
        for setting in tab.get("settings", []) or []:
            index[setting["id"]] = setting
        for group in tab.get("groups", []) or []:
            for setting in group.get("settings", []) or []:
                index[setting["id"]] = setting
    return index


@bp.get("/addon/workspaces/<ws>/settings")
def addon_settings(ws: str) -> Response:
    with world().lock:
        return jsonify(workspace(ws).addon_settings)


@bp.patch("/addon/workspaces/<ws>/settings")
def update_addon_settings(ws: str) -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, list) or not data:
        raise bad("Request body must be a non-empty array of {id, value}")
    actor().require_admin()
    with world().lock:
        space = workspace(ws)
        index = _settings_index(space.addon_settings)
        for item in data:
            if not isinstance(item, dict) or "id" not in item or "value" not in item:
                raise bad("Each setting needs 'id' and 'value'")
            if item["id"] not in index:
                raise bad(f"Unknown setting '{item['id']}'")
        for item in data:
            index[item["id"]]["value"] = item["value"]
        return jsonify(space.addon_settings)
