"""Clockify's reports API (reportsUrl): detailed and summary reports under /reports/v1/…."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify

from .api.common import bad, body_object, enum_value, instant, int_value, required, world
from .gate import Actor, check_request, error, needs
from .state import Workspace, WorldError
from .wire import iso

bp = Blueprint("reports", __name__)
bp.before_request(check_request)

CONTAINS = ("CONTAINS", "DOES_NOT_CONTAIN", "CONTAINS_ONLY")
GROUPS = ("PROJECT", "CLIENT", "TAG", "TASK", "USER", "USER_GROUP", "DATE", "WEEK", "MONTH", "TIMEENTRY")


@bp.errorhandler(WorldError)
def world_error(exc: WorldError) -> Response:
    return error(exc.status, exc.message, exc.code)


def _id_filter(data: dict[str, Any], name: str) -> tuple[set[str], str] | None:
    """A {ids, contains} filter (ContainsArchivedFilterV1 / ContainsUsersFilterV1), None when it selects all."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"Field '{name}' must be an object")
    contains = enum_value(value.get("contains") or "CONTAINS", CONTAINS, f"{name}.contains")
    ids = value.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad(f"Field '{name}.ids' must be an array of ids")
    if not ids:
        return None
    return set(ids), contains


def _passes(value: str | None, rule: tuple[set[str], str] | None) -> bool:
    if rule is None:
        return True
    ids, contains = rule
    inside = value in ids
    return not inside if contains == "DOES_NOT_CONTAIN" else inside


def _matching_entries(space: Workspace, data: dict[str, Any], me: Actor) -> list[dict[str, Any]]:
    """Entries of the report's date range that pass every filter the body sets."""
    start = instant(required(data, "dateRangeStart"), "dateRangeStart")
    end = instant(required(data, "dateRangeEnd"), "dateRangeEnd")
    if end < start:
        raise bad("Field 'dateRangeEnd' must not be before 'dateRangeStart'")
    approval = enum_value(data.get("approvalState"), ("APPROVED", "UNAPPROVED", "ALL"), "approvalState") or "ALL"
    invoicing = enum_value(data.get("invoicingState"), ("INVOICED", "UNINVOICED", "ALL"), "invoicingState") or "ALL"
    billable = data.get("billable")
    if billable is not None and not isinstance(billable, bool):
        raise bad("Field 'billable' must be a boolean")
    clients = _id_filter(data, "clients")
    projects = _id_filter(data, "projects")
    users = _id_filter(data, "users")
    groups = _id_filter(data, "userGroups")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise bad("Field 'description' must be a string")
    group_members: set[str] | None = None
    if groups is not None:
        members: set[str] = set()
        for group_id in groups[0]:
            members.update(space.groups.get(group_id, {}).get("userIds", []))
        group_members = members if groups[1] != "DOES_NOT_CONTAIN" else set(space.users) - members
    # Members see their own time only; team managers their teams' and their own.
    visible = None
    if not me.is_admin:
        visible = space.managed_user_ids(me.user_id) | {me.user_id}
    found = []
    for entry in space.time_entries.values():
        if not start <= entry["start"] <= end:
            continue
        if visible is not None and entry["userId"] not in visible:
            continue
        approved = entry["approvalRequestId"] is not None and _approved(space, entry)
        if approval == "APPROVED" and not approved:
            continue
        if approval == "UNAPPROVED" and approved:
            continue
        if invoicing == "INVOICED" and not entry["invoiced"]:
            continue
        if invoicing == "UNINVOICED" and entry["invoiced"]:
            continue
        if billable is not None and entry["billable"] != billable:
            continue
        project = space.projects.get(entry["projectId"] or "")
        if not _passes(entry["projectId"], projects):
            continue
        if not _passes(project["clientId"] if project else None, clients):
            continue
        if not _passes(entry["userId"], users):
            continue
        if group_members is not None and entry["userId"] not in group_members:
            continue
        if description and description.lower() not in entry["description"].lower():
            continue
        found.append(entry)
    return found


def _approved(space: Workspace, entry: dict[str, Any]) -> bool:
    request = space.approvals.get(entry["approvalRequestId"] or "")
    return bool(request and request["state"] == "APPROVED")


class Measures:
    """Each entry's seconds and earned amount, computed once per report (reports scan every entry)."""

    def __init__(self, space: Workspace, now: datetime) -> None:
        self.space = space
        self.now = now
        self._seconds: dict[str, int] = {}
        self._amounts: dict[str, int] = {}

    def seconds(self, entry: dict[str, Any]) -> int:
        found = self._seconds.get(entry["id"])
        if found is None:
            found = int(((entry["end"] or self.now) - entry["start"]).total_seconds())
            self._seconds[entry["id"]] = found
        return found

    def rate(self, entry: dict[str, Any]) -> int:
        project = self.space.projects.get(entry["projectId"] or "")
        if project and project["hourlyRate"]:
            return int(project["hourlyRate"])
        return int(self.space.users.get(entry["userId"], {}).get("hourlyRate", 0))

    def amount(self, entry: dict[str, Any]) -> int:
        """Earned amount in minor units: billable time x rate."""
        found = self._amounts.get(entry["id"])
        if found is None:
            found = round(self.seconds(entry) / 3600 * self.rate(entry)) if entry["billable"] else 0
            self._amounts[entry["id"]] = found
        return found


def _totals(entries: list[dict[str, Any]], m: Measures) -> list[dict[str, Any] | None]:
    if not entries:
        # Clockify answers [null] when nothing matches (docs/clockify.md#reports).
        return [None]
    return [
        {
            "_id": "",
            "totalTime": sum(m.seconds(e) for e in entries),
            "totalBillableTime": sum(m.seconds(e) for e in entries if e["billable"]),
            "entriesCount": len(entries),
            "totalAmount": sum(m.amount(e) for e in entries),
        }
    ]


def _detailed_row(entry: dict[str, Any], m: Measures) -> dict[str, Any]:
    space = m.space
    project = space.projects.get(entry["projectId"] or "")
    client = space.clients.get(project["clientId"] or "") if project else None
    user = space.users.get(entry["userId"], {})
    end = entry["end"]
    return {
        "_id": entry["id"],
        "description": entry["description"],
        "userId": entry["userId"],
        "userName": user.get("name"),
        "userEmail": user.get("email"),
        "billable": entry["billable"],
        "projectId": entry["projectId"] or "",
        "projectName": project["name"] if project else "",
        "projectColor": project["color"] if project else "",
        "clientId": client["id"] if client else "",
        "clientName": client["name"] if client else "",
        "taskId": entry["taskId"] or "",
        "tags": [],
        "isLocked": entry["isLocked"],
        "approvalRequestId": entry["approvalRequestId"],
        "invoicingInfo": {"invoiced": entry["invoiced"]},
        "customFields": [],
        "rate": m.rate(entry),
        "amount": m.amount(entry),
        "timeInterval": {
            "start": iso(entry["start"]),
            "end": iso(end),
            # Seconds here, unlike the PT… durations of the time-entry endpoints (docs/clockify.md#reports).
            "duration": m.seconds(entry),
        },
    }


@bp.post("/v1/workspaces/<ws>/reports/detailed")
@needs("REPORTS_READ")
def detailed(ws: str) -> Response:
    data = body_object()
    detailed_filter = required(data, "detailedFilter")
    if not isinstance(detailed_filter, dict):
        raise bad("Field 'detailedFilter' must be an object")
    page = int_value(detailed_filter.get("page"), "detailedFilter.page", default=1)
    # No documented maximum; 1000 is the largest page clients report the live API accepting.
    size = int_value(detailed_filter.get("pageSize"), "detailedFilter.pageSize", maximum=1000, default=50)
    sort_column = enum_value(
        detailed_filter.get("sortColumn"),
        ("ID", "DESCRIPTION", "USER", "DURATION", "DATE", "ZONED_DATE", "NATURAL", "USER_DATE"),
        "detailedFilter.sortColumn",
    )
    sort_order = enum_value(data.get("sortOrder"), ("ASCENDING", "DESCENDING"), "sortOrder") or "DESCENDING"
    the_world = world()
    with the_world.lock:
        space = the_world.workspace(ws)
        m = Measures(space, the_world.now())
        entries = _matching_entries(space, data, g.actor)
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ID": lambda e: e["id"],
            "DESCRIPTION": lambda e: (e["description"], e["id"]),
            "USER": lambda e: (space.users.get(e["userId"], {}).get("name", ""), e["start"], e["id"]),
            "DURATION": lambda e: (m.seconds(e), e["id"]),
        }
        key = keys.get(sort_column or "DATE", lambda e: (e["start"], e["id"]))
        entries.sort(key=key, reverse=sort_order == "DESCENDING")
        rows = entries[(page - 1) * size : page * size]
        return jsonify({"totals": _totals(entries, m), "timeentries": [_detailed_row(e, m) for e in rows]})


def _group_key(space: Workspace, entry: dict[str, Any], group: str) -> tuple[str, str]:
    """(_id, name) of the group an entry falls in."""
    project = space.projects.get(entry["projectId"] or "")
    if group == "PROJECT":
        return (project["id"], project["name"]) if project else ("", "Without project")
    if group == "CLIENT":
        client = space.clients.get(project["clientId"] or "") if project else None
        return (client["id"], client["name"]) if client else ("", "Without client")
    if group == "USER":
        user = space.users.get(entry["userId"], {})
        return entry["userId"], user.get("name", "")
    if group == "USER_GROUP":
        for group_id, found in space.groups.items():
            if entry["userId"] in found["userIds"]:
                return group_id, found["name"]
        return "", "Without group"
    if group in ("DATE", "WEEK", "MONTH"):
        day = entry["start"].date()
        if group == "WEEK":
            day = day.fromordinal(day.toordinal() - day.weekday())
        if group == "MONTH":
            day = day.replace(day=1)
        return day.isoformat(), day.isoformat()
    if group == "TIMEENTRY":
        return entry["id"], entry["description"]
    return "", "Without " + group.lower()


def _summary_groups(entries: list[dict[str, Any]], groups: list[str], m: Measures) -> list[dict[str, Any]]:
    space = m.space
    if not groups:
        return []
    buckets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        buckets.setdefault(_group_key(space, entry, groups[0]), []).append(entry)
    out = []
    for (group_id, name), members in sorted(buckets.items(), key=lambda kv: kv[0][1]):
        item: dict[str, Any] = {
            "_id": group_id,
            "name": name,
            "duration": sum(m.seconds(e) for e in members),
            "amount": sum(m.amount(e) for e in members),
            "billableDuration": sum(m.seconds(e) for e in members if e["billable"]),
        }
        children = _summary_groups(members, groups[1:], m)
        if children:
            item["children"] = children
        out.append(item)
    return out


@bp.post("/v1/workspaces/<ws>/reports/summary")
@needs("REPORTS_READ")
def summary(ws: str) -> Response:
    data = body_object()
    summary_filter = required(data, "summaryFilter")
    if not isinstance(summary_filter, dict):
        raise bad("Field 'summaryFilter' must be an object")
    groups = summary_filter.get("groups") or ["PROJECT", "TIMEENTRY"]
    if not isinstance(groups, list) or len(groups) > 3:
        raise bad("Field 'summaryFilter.groups' must be an array of at most 3 groups")
    for group in groups:
        enum_value(group, GROUPS, "summaryFilter.groups")
    enum_value(
        summary_filter.get("sortColumn"),
        ("GROUP", "DURATION", "AMOUNT", "EARNED", "COST", "PROFIT"),
        "summaryFilter.sortColumn",
    )
    the_world = world()
    with the_world.lock:
        space = the_world.workspace(ws)
        m = Measures(space, the_world.now())
        entries = _matching_entries(space, data, g.actor)
        return jsonify({"totals": _totals(entries, m), "groupOne": _summary_groups(entries, groups, m)})


def _expense_approved(space: Workspace, expense: dict[str, Any]) -> bool:
    return any(
        a["userId"] == expense["userId"] and a["state"] == "APPROVED" and a["start"] <= expense["date"] < a["end"]
        for a in space.approvals.values()
    )


def _expense_row(space: Workspace, expense: dict[str, Any]) -> dict[str, Any]:
    project = space.projects.get(expense["projectId"] or "")
    client = space.clients.get(project["clientId"] or "") if project else None
    user = space.users.get(expense["userId"], {})
    return {
        "id": expense["id"],
        "userId": expense["userId"],
        "userName": user.get("name"),
        "projectId": expense["projectId"] or "",
        "projectName": project["name"] if project else "",
        "clientId": client["id"] if client else "",
        "clientName": client["name"] if client else "",
        "categoryName": expense["category"],
        "date": iso(expense["date"]),
        # Minor units, as the other reports' amounts (docs/clockify.md#reports); the reference shows no schema.
        "amount": expense["amount"],
        "billable": expense["billable"],
        "invoiced": expense["invoiced"],
        "approvalState": "APPROVED" if _expense_approved(space, expense) else "UNAPPROVED",
        "notes": expense["notes"],
    }


@bp.post("/v1/workspaces/<ws>/reports/expenses/detailed")
@needs("REPORTS_READ")
def expenses_detailed(ws: str) -> Response:
    """Expense report (JSON): the expenses of the range that pass the body's filters, paged in the body."""
    data = body_object()
    start = instant(required(data, "dateRangeStart"), "dateRangeStart")
    end = instant(required(data, "dateRangeEnd"), "dateRangeEnd")
    approval = enum_value(data.get("approvalState"), ("APPROVED", "UNAPPROVED", "ALL"), "approvalState") or "ALL"
    invoicing = enum_value(data.get("invoicingState"), ("INVOICED", "UNINVOICED", "ALL"), "invoicingState") or "ALL"
    billable = data.get("billable")
    if billable is not None and not isinstance(billable, bool):
        raise bad("Field 'billable' must be a boolean")
    clients, projects, users = (_id_filter(data, n) for n in ("clients", "projects", "users"))
    page = int_value(data.get("page"), "page", default=1)
    size = int_value(data.get("pageSize"), "pageSize", maximum=1000, default=50)
    sort_order = enum_value(data.get("sortOrder"), ("ASCENDING", "DESCENDING"), "sortOrder") or "DESCENDING"
    the_world = world()
    with the_world.lock:
        space = the_world.workspace(ws)
        visible = None if g.actor.is_admin else space.managed_user_ids(g.actor.user_id) | {g.actor.user_id}
        found = []
        for expense in space.expenses.values():
            project = space.projects.get(expense["projectId"] or "")
            approved = _expense_approved(space, expense)
            if (
                not start <= expense["date"] <= end
                or (visible is not None and expense["userId"] not in visible)
                or (approval != "ALL" and approved != (approval == "APPROVED"))
                or (invoicing != "ALL" and expense["invoiced"] != (invoicing == "INVOICED"))
                or (billable is not None and expense["billable"] != billable)
                or not _passes(expense["projectId"], projects)
                or not _passes(project["clientId"] if project else None, clients)
                or not _passes(expense["userId"], users)
            ):
                continue
            found.append(expense)
        found.sort(key=lambda e: (e["date"], e["id"]), reverse=sort_order == "DESCENDING")
        rows = found[(page - 1) * size : page * size]
        return jsonify(
            {
                "expenses": [_expense_row(space, e) for e in rows],
                "totals": {
                    "expensesCount": len(found),
                    "totalAmount": sum(e["amount"] for e in found),
                    "totalAmountBillable": sum(e["amount"] for e in found if e["billable"]),
                },
            }
        )
