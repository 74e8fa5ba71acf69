"""The host shell: a Clockify-like page that installs, embeds and drives Closeout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request

from . import lifecycle
from .lifecycle import PlatformError
from .sandbox import current_sandbox
from .tokens import ROLE_CLAIMS

bp = Blueprint("shell", __name__)

ROLE_COOKIE = "sandbox_role"
THEME_COOKIE = "sandbox_theme"
ROLE_LABELS = {"OWNER": "Owner", "ADMIN": "Admin", "TEAM_MANAGER": "Team manager", "MEMBER": "Member"}
ADMIN_ROLES = ("OWNER", "ADMIN")

# Clockify's left sidebar: (endpoint, label, page key); the add-on's entry is appended under "Add-ons".
NAV = [
    ("shell.tracker", "Time tracker", "tracker"),
    ("shell.calendar", "Calendar", "calendar"),
    ("shell.timesheet", "Timesheet", "timesheet"),
    ("shell.schedule", "Schedule", "schedule"),
    ("shell.approvals", "Approvals", "approvals"),
    ("shell.invoices", "Invoices", "invoices"),
    ("shell.reports", "Reports", "reports"),
    ("shell.projects", "Projects", "projects"),
    ("shell.team", "Team", "team"),
]
# Where each tab-type component lives: the page's own tabs come first, add-on tabs after them.
NATIVE_TABS = {
    "approvals": [("pending", "Pending"), ("unsubmitted", "Unsubmitted"), ("archive", "Archive")],
    "schedule": [("projects", "Projects"), ("team", "Team")],
}


@dataclass(frozen=True)
class Frame:
    """One add-on iframe as the shell renders it."""

    component: str  # manifest component type, or "settings"
    label: str
    src: str
    origin: str

    @property
    def slug(self) -> str:
        return self.component.replace(".", "-")


def _role() -> str:
    role = request.cookies.get(ROLE_COOKIE, "OWNER").upper()
    return role if role in ROLE_CLAIMS else "OWNER"


def _theme() -> str:
    return "DARK" if request.cookies.get(THEME_COOKIE, "").upper() == "DARK" else "DEFAULT"


def _workspace_id() -> str:
    return current_sandbox().demo_workspace_id


def _manifest() -> dict[str, Any] | None:
    """The manifest Closeout was installed with on this workspace."""
    return current_sandbox().manifests.get(_workspace_id())


def _installation() -> Any:
    return current_sandbox().world.installations.get(_workspace_id())


def _visible(access_level: str | None) -> bool:
    """accessLevel ADMINS hides a component from everyone but owners and admins."""
    return access_level != "ADMINS" or _role() in ADMIN_ROLES


def _components(kind: str | None = None) -> list[dict[str, Any]]:
    """Components the current user may see, only while Closeout is installed and active."""
    installation, manifest = _installation(), _manifest()
    if installation is None or not installation.is_active or manifest is None:
        return []
    found = []
    for component in manifest.get("components") or []:
        if kind is not None and component.get("type") != kind:
            continue
        if _visible(component.get("accessLevel")):
            found.append(component)
    return found


def _frame(component: str, label: str, path: str) -> Frame:
    manifest = _manifest() or {}
    base = str(manifest.get("baseUrl", "")).rstrip("/")
    sandbox = current_sandbox()
    token = sandbox.user_token(_workspace_id(), _role(), theme=_theme())
    parts = urlsplit(base)
    return Frame(component, label, f"{base}{path}?auth_token={quote(token)}", f"{parts.scheme}://{parts.netloc}")


def _frame_for(component: dict[str, Any]) -> Frame:
    return _frame(component["type"], component.get("label", ""), component["path"])


def _current_user() -> dict[str, Any]:
    sandbox = current_sandbox()
    ws = sandbox.world.workspaces.get(_workspace_id())
    user_id = sandbox.user_id_for_role(_workspace_id(), _role()) if ws is not None else None
    user = ws.users.get(user_id) if ws is not None and user_id else None
    return {"id": user_id, "name": (user or {}).get("name") or ROLE_LABELS[_role()], "role": _role()}


def _page(template: str, page: str, **context: Any) -> Response:
    manifest = _manifest()
    sidebar = _components("sidebar")
    ws = current_sandbox().world.workspaces.get(_workspace_id())
    html = render_template(
        template,
        page=page,
        nav=NAV,
        role=_role(),
        roles=ROLE_LABELS,
        theme=_theme(),
        user=_current_user(),
        workspace_name=getattr(ws, "name", "Demo workspace"),
        addon_base=str((manifest or {}).get("baseUrl", "")).rstrip("/"),
        addon_key=(manifest or {}).get("key", "closeout"),
        sidebar_entry=sidebar[0] if sidebar else None,
        notice=request.args.get("notice"),
        error=request.args.get("error"),
        **context,
    )
    response = make_response(html)
    origin = context.get("frame_origin") or ""
    frames = origin or "'none'"
    # Like Clockify's page: scripts only from the shell itself; frames and icons only from the add-on's origin.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {origin}; "
        f"frame-src {frames}; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
    return response


def _addon_origin(manifest: dict[str, Any] | None = None) -> str:
    manifest = manifest or _manifest() or {}
    parts = urlsplit(str(manifest.get("baseUrl", "")))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


# ---------------------------------------------------------------------------------------------- pages


@bp.get("/")
def home() -> Response:
    return redirect("/tracker")  # type: ignore[return-value]


def _native(page: str, title: str) -> Response:
    return _page("shell/native.html", page, title=title, frame_origin=_addon_origin())


@bp.get("/tracker")
def tracker() -> Response:
    return _native("tracker", "Time tracker")


@bp.get("/calendar")
def calendar() -> Response:
    return _native("calendar", "Calendar")


@bp.get("/timesheet")
def timesheet() -> Response:
    return _native("timesheet", "Timesheet")


@bp.get("/reports")
def reports() -> Response:
    return _native("reports", "Reports")


@bp.get("/projects")
def projects() -> Response:
    return _native("projects", "Projects")


@bp.get("/team")
def team() -> Response:
    return _native("team", "Team")


def _tabbed(page: str, title: str, component_type: str) -> Response:
    """A page with its own tabs plus one tab per add-on component of `component_type`."""
    tab = request.args.get("tab", NATIVE_TABS[page][0][0])
    addon_tabs = _components(component_type)
    frame = next((_frame_for(c) for c in addon_tabs if tab == "addon-" + c["type"]), None)
    return _page(
        "shell/tabbed.html",
        page,
        title=title,
        tab=tab,
        native_tabs=NATIVE_TABS[page],
        addon_tabs=addon_tabs,
        frame=frame,
        frame_origin=_addon_origin(),
        rows=_native_rows(page),
    )


@bp.get("/approvals")
def approvals() -> Response:
    return _tabbed("approvals", "Approvals", "approvals.tab")


@bp.get("/schedule")
def schedule() -> Response:
    return _tabbed("schedule", "Schedule", "schedule.tab")


@bp.get("/invoices")
def invoices() -> Response:
    """Invoices with the "Add-on actions" menu; an action opens the add-on's iframe in a panel."""
    actions = _components("invoices.action")
    chosen = request.args.get("action")
    frame = next((_frame_for(c) for c in actions if chosen == c["type"]), None)
    return _page(
        "shell/invoices.html",
        "invoices",
        title="Invoices",
        actions=actions,
        frame=frame,
        frame_origin=_addon_origin(),
        rows=_native_rows("invoices"),
    )


@bp.get("/addons/<key>")
def addon_page(key: str) -> Response:
    """The add-on's sidebar component, full page."""
    sidebar = _components("sidebar")
    frame = _frame_for(sidebar[0]) if sidebar and key == (_manifest() or {}).get("key") else None
    return _page(
        "shell/addon.html",
        "addon",
        title=sidebar[0].get("label") if sidebar else "Add-on",
        frame=frame,
        frame_origin=_addon_origin(),
    )


@bp.get("/settings/addons")
def addon_settings() -> Response:
    """Workspace settings → Add-ons: install, pause/resume, uninstall and the add-on's settings iframe."""
    is_admin = _role() in ADMIN_ROLES
    installation, manifest = _installation(), _manifest()
    listing = manifest
    if listing is None:
        try:
            listing = lifecycle.fetch_manifest(current_sandbox().addon_url)
        except PlatformError as exc:
            listing = {"name": "Closeout", "description": exc.message, "unreachable": True}
    frame = None
    settings_path = (manifest or {}).get("settings")
    if (
        is_admin
        and installation is not None
        and installation.is_active
        and isinstance(settings_path, str)
        and request.args.get("open") == "settings"
    ):
        frame = _frame("settings", "Settings", settings_path)
    recent = [d.as_json() for d in current_sandbox().deliverer.list()[-15:]][::-1] if is_admin else []
    return _page(
        "shell/settings.html",
        "settings",
        title="Workspace settings",
        is_admin=is_admin,
        installation=installation,
        listing=listing,
        frame=frame,
        frame_origin=_addon_origin(listing),
        recent_deliveries=recent,
        has_settings=isinstance(settings_path, str),
    )


def _native_rows(page: str) -> list[dict[str, Any]]:
    """A few rows of the world's own data so the native part of a page is not empty."""
    ws = current_sandbox().world.workspaces.get(_workspace_id())
    if ws is None:
        return []
    users = getattr(ws, "users", {})
    if page == "approvals":
        items = [a for a in getattr(ws, "approvals", {}).values() if a.get("state", "PENDING") == "PENDING"][:15]
        return [
            {
                "cells": [
                    users.get(a.get("ownerId") or a.get("userId"), {}).get("name", "—"),
                    str(a.get("periodStart") or a.get("start") or "")[:10],
                    a.get("state", ""),
                ]
            }
            for a in items
        ]
    if page == "invoices":
        return [
            {"cells": [i.get("number", ""), _client_name(ws, i), i.get("status", "")]}
            for i in list(getattr(ws, "invoices", {}).values())[:15]
        ]
    if page == "schedule":
        return [
            {"cells": [u.get("name", ""), u.get("email", ""), u.get("status", "")]} for u in list(users.values())[:15]
        ]
    return []


def _client_name(ws: Any, invoice: dict[str, Any]) -> str:
    client = getattr(ws, "clients", {}).get(invoice.get("clientId"), {})
    return str(invoice.get("clientName") or client.get("name") or invoice.get("clientId") or "")


# ---------------------------------------------------------------------------------------------- actions


def _back(default: str = "/tracker") -> str:
    target = request.form.get("next") or request.args.get("next") or default
    # Only paths on this host: the shell never redirects elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else default


@bp.post("/shell/role")
def set_role() -> Response:
    """Act as owner, admin, team manager or member from now on."""
    role = request.form.get("role", "OWNER").upper()
    response = redirect(_back())
    if role in ROLE_CLAIMS:
        response.set_cookie(ROLE_COOKIE, role, samesite="Lax", httponly=True)
    return response  # type: ignore[return-value]


@bp.post("/shell/theme")
def toggle_theme() -> Response:
    """Switch between Clockify's light (DEFAULT) and dark theme."""
    response = redirect(_back())
    response.set_cookie(THEME_COOKIE, "DEFAULT" if _theme() == "DARK" else "DARK", samesite="Lax", httponly=True)
    return response  # type: ignore[return-value]


@bp.post("/shell/addon/<action>")
def addon_action(action: str) -> Response:
    """Install, pause, resume or uninstall Closeout as an admin would in Workspace settings → Add-ons."""
    if _role() not in ADMIN_ROLES:
        return redirect("/settings/addons?error=" + quote("Only owners and admins manage add-ons."))  # type: ignore[return-value]
    sandbox, ws = current_sandbox(), _workspace_id()
    steps = {
        "install": (lambda: lifecycle.install(sandbox, ws), "Closeout installed."),
        "pause": (lambda: lifecycle.set_active(sandbox, ws, False), "Closeout paused."),
        "resume": (lambda: lifecycle.set_active(sandbox, ws, True), "Closeout resumed."),
        "uninstall": (lambda: lifecycle.uninstall(sandbox, ws), "Closeout uninstalled."),
    }
    if action not in steps:
        return redirect("/settings/addons?error=" + quote(f"Unknown action {action}."))  # type: ignore[return-value]
    run, message = steps[action]
    try:
        run()
    except PlatformError as exc:
        return redirect("/settings/addons?error=" + quote(exc.message))  # type: ignore[return-value]
    return redirect("/settings/addons?notice=" + quote(message))  # type: ignore[return-value]


@bp.post("/shell/token")
def fresh_token() -> tuple[Response, int]:
    """A fresh user token for the current role: the shell's answer to refreshAddonToken."""
    installation = _installation()
    if installation is None or not installation.is_active:
        return jsonify({"message": "Closeout is not active on this workspace", "code": 409}), 409
    token = current_sandbox().user_token(_workspace_id(), _role(), theme=_theme())
    return jsonify({"token": token}), 200
