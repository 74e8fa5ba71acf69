"""Users and user groups: the calling user, the member list, managers, member profiles, groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import dto
from ..gate import needs
from ..state import NotFound
from .common import (
    SORT_ORDERS,
    WS,
    actor,
    paged,
    query_bool,
    query_enum,
    sort_by,
    workspace,
    world,
)

bp = Blueprint("users", __name__)


MEMBERSHIP_STATUSES = ("PENDING", "ACTIVE", "DECLINED", "INACTIVE", "ALL")


@bp.get("/v1/user")
@needs("USER_READ")
def current_user() -> Response:
    me = actor()
    with world().lock:
        ws = workspace(me.workspace_id)
        return jsonify(
            dto.user_dto(ws, ws.user(me.user_id), memberships=query_bool("include-memberships", False) or False)
        )


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
