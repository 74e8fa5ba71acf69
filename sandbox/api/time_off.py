"""Holidays and time-off requests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import dto
from ..gate import needs
from ..state import Workspace
from .common import (
    WS,
    actor,
    bad,
    body_object,
    enum_value,
    instant,
    int_value,
    page_of,
    range_args,
    str_list,
    workspace,
    world,
)

bp = Blueprint("time_off", __name__)


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
    start, end = range_args()
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
    # Listing is a POST; a GET answers 405 (docs/clockify.md#quirk-10) because only POST is routed.
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
