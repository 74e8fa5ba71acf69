"""What Clockify checks before an API call runs: the add-on token, its workspace, scopes, role and rate limit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from flask import Response, current_app, g, jsonify, request

from .sandbox import current_sandbox
from .state import ADMIN_ROLES, ROLE_MEMBER, ROLE_OWNER, ROLE_TEAM_MANAGER, AddonInstallation, WorldError
from .world import World

# endpoint name → the manifest scope it needs (None: any installed add-on may call it)
SCOPES: dict[str, str | None] = {}


def needs(scope: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the scope a view needs; the gate refuses calls outside the installation's scopes with 403."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view._sandbox_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


@dataclass
class Actor:
    """Who is calling: the add-on with its installation token, or a user through the add-on's user token."""

    workspace_id: str
    addon_id: str
    user_id: str
    role: str  # OWNER | WORKSPACE_ADMIN | TEAM_MANAGER | MEMBER
    is_installation: bool

    @property
    def is_admin(self) -> bool:
        return self.is_installation or self.role in ADMIN_ROLES

    def can_manage(self, world: World, user_id: str) -> bool:
        """May decide for or act on behalf of `user_id` (admins anyone; team managers their teams)."""
        if self.is_admin:
            return True
        if self.role == ROLE_TEAM_MANAGER:
            return user_id in world.workspace(self.workspace_id).managed_user_ids(self.user_id)
        return False

    def can_see(self, world: World, user_id: str) -> bool:
        return user_id == self.user_id or self.can_manage(world, user_id)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise WorldError(403, "Access denied: workspace admin role required", 403)


def error(status: int, message: str, code: int | None = None, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"message": message, "code": code if code is not None else status})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def check_request() -> Response | None:
    """before_request for /api and /reports: 401, 403 or 429 as Clockify answers them; sets g.actor."""
    token = request.headers.get("X-Addon-Token", "")
    if not token:
        return error(401, "Full authentication is required to access this resource")
    box = current_sandbox()
    try:
        claims = box.signer.decode(token)
    except jwt.InvalidTokenError:
        return error(401, "Invalid or expired token")
    workspace_id = str(claims.get("workspaceId") or "")
    addon_id = str(claims.get("addonId") or "")
    path_workspace = (request.view_args or {}).get("ws")
    world: World = box.world
    with world.lock:
        installation: AddonInstallation | None = world.installations.get(workspace_id)
        if installation is None or installation.addon_id != addon_id:
            return error(401, "Addon is not installed on this workspace")
        if path_workspace is not None and path_workspace != workspace_id:
            return error(403, "Access denied: the token belongs to another workspace")
        if not installation.is_active:
            return error(403, "API is not accessible: the addon is inactive")
        is_installation = token == installation.installation_token
        user_id = str(claims.get("user") or "")
        if not is_installation and (not user_id or "exp" not in claims):
            return error(401, "Token is not an installation or user token")
        ws = world.workspaces.get(workspace_id)
        if ws is None:
            return error(404, "Workspace not found")
        if not is_installation:
            user = ws.users.get(user_id)
            if user is None or user["status"] != "ACTIVE":
                return error(401, "User is not an active member of the workspace")
            role = user["role"] or ROLE_MEMBER
        else:
            role = ROLE_OWNER
            if not user_id or user_id not in ws.users:
                user_id = next((u["id"] for u in ws.users.values() if u["role"] == ROLE_OWNER), "")
        scopes = set(installation.scopes)
    retry = box.limiter().hit((workspace_id, addon_id))
    if retry is not None:
        # Clockify: 50 requests/second per add-on per workspace (API reference, "Rate limiting").
        return error(429, "Too many requests", 429, {"Retry-After": str(max(1, math.ceil(retry)))})
    view = current_app.view_functions.get(request.endpoint or "")
    scope = getattr(view, "_sandbox_scope", None)
    if scope and scope not in scopes:
        return error(403, f"Addon with id {addon_id} does not have permission {scope}")
    problem = request_problem()
    if problem:
        return error(400, problem)
    g.actor = Actor(workspace_id, addon_id, user_id, role, is_installation)
    return None


@cache
def _request_schemas() -> dict[str, Any]:
    """Request-body schemas derived from clockify-openapi.json (kept in step by tests/sandbox/test_contract.py)."""
    return json.loads((Path(__file__).with_name("request_schemas.json")).read_text())


def request_problem() -> str | None:
    """Why the query or JSON body breaks the reference for this endpoint (required, enum, type), or None."""
    rule = request.url_rule.rule if request.url_rule else ""
    template = re.sub(r"<[^>]+>", "{}", re.sub(r"^/(api|reports)", "", rule))
    spec = _request_schemas().get(f"{request.method} {template}")
    if spec is None:
        return None
    for name, param in spec["query"].items():
        problem = _query_problem(name, param)
        if problem:
            return problem
    body = request.get_json(silent=True)
    if spec["body"] is None or body is None:
        return None  # the view answers a missing or unparseable body itself
    found = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(spec["body"]).iter_errors(body))
    if found is None:
        return None
    where = ".".join(str(part) for part in found.absolute_path) or "body"
    detail = found.message if len(found.message) <= 160 else found.message[:157] + "..."
    return f"Invalid request body at {where}: {detail}"


def _query_problem(name: str, param: dict[str, Any]) -> str | None:
    values = [v for raw in request.args.getlist(name) for v in raw.split(",")]
    if not values or values == [""]:
        return f"Parameter '{name}' is required" if param["required"] else None
    for value in values:
        if "enum" in param and value not in param["enum"]:
            return f"Invalid value for '{name}': must be one of {', '.join(param['enum'])}"
        if param.get("boolean") and value.lower() not in ("true", "false"):
            return f"Invalid value for '{name}': must be true or false"
        if param.get("integer"):
            try:
                number = int(value)
            except ValueError:
                return f"Invalid value for '{name}': expected an integer"
            if number < param.get("minimum", number) or number > param.get("maximum", number):
                return f"Invalid value for '{name}': out of range"
    return None
