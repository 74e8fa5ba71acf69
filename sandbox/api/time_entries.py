"""Time entries: a user's entries, running timers, one entry, create, edit, delete, mark invoiced."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import dto
from ..gate import Actor, needs
from ..state import NotFound, Workspace, WorldError
from .common import (
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    id_value,
    instant,
    json_status,
    no_content,
    paged,
    query_bool,
    query_instant,
    required,
    str_list,
    workspace,
    world,
)

bp = Blueprint("time_entries", __name__)


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
    # The documented call; a `/invoiced/bulk` variant does not exist and 404s (docs/clockify.md#quirk-6).
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
