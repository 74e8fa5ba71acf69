"""Timesheet approval requests: list them, submit or resubmit a period, decide one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from .. import dto
from ..gate import needs
from ..state import APPROVAL_PERIODS, APPROVAL_STATES, NotFound, WorldError
from .common import (
    SORT_ORDERS,
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    instant,
    json_status,
    paged,
    query_enum,
    required,
    sort_by,
    workspace,
    world,
)

bp = Blueprint("approvals", __name__)


@bp.get(f"{WS}/approval-requests")
@needs("APPROVAL_READ")
def approval_requests(ws: str) -> Response:
    # The reference (and the live API, docs/clockify.md#quirk-5) filter only on these three states.
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
