"""The workspace itself, its clients and its projects."""

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
    list_arg,
    paged,
    query_bool,
    query_enum,
    sort_by,
    workspace,
    world,
)

bp = Blueprint("workspace", __name__)


@bp.get(WS)
@needs("WORKSPACE_READ")
def workspace_info(ws: str) -> Response:
    with world().lock:
        return jsonify(dto.workspace_dto(workspace(ws)))


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
