"""How sandbox records look on the wire: Clockify's response shapes (clockify-openapi.json DTOs)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from .payloads import approval_event_payload, invoice_event_payload
from .state import WEEKDAYS, Workspace, invoice_totals
from .wire import day_start, duration_hours, iso, iso_duration


def user_dto(ws: Workspace, user: dict[str, Any], *, memberships: bool = False) -> dict[str, Any]:
    """UserDtoV1."""
    out: dict[str, Any] = {
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "status": user["accountStatus"],
        "activeWorkspace": ws.id,
        "defaultWorkspace": ws.id,
        "profilePicture": "",
        "customFields": [],
        "memberships": [],
        "settings": {
            "timeZone": user["timeZone"],
            "dateFormat": user["dateFormat"],
            "timeFormat": user["timeFormat"],
            "weekStart": user["weekStart"],
            "lang": user.get("lang", "EN"),
            "theme": user.get("theme", "DEFAULT"),
            "approval": True,
            "scheduling": True,
            "pto": True,
        },
    }
    if memberships:
        out["memberships"] = [membership_dto(ws, user)]
    return out


def membership_dto(ws: Workspace, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "userId": user["id"],
        "targetId": ws.id,
        "membershipType": "WORKSPACE",
        "membershipStatus": user["status"],
        "hourlyRate": {"amount": user["hourlyRate"], "currency": ws.currency},
        "costRate": {"amount": user["costRate"], "currency": ws.currency},
    }


def roles_dto(ws: Workspace, user: dict[str, Any]) -> list[dict[str, Any]]:
    """The `roles` list include-roles=true adds: RoleDetailsDtoV1 items."""
    if not user["role"]:
        return []
    names = {"OWNER": "Owner", "WORKSPACE_ADMIN": "Administrator", "TEAM_MANAGER": "Team manager"}
    return [
        {
            "userId": user["id"],
            "workspaceId": ws.id,
            "role": {"id": user["role"], "name": names.get(user["role"], user["role"])},
        }
    ]


def workspace_dto(ws: Workspace) -> dict[str, Any]:
    """WorkspaceDtoV1."""
    return {
        "id": ws.id,
        "name": ws.name,
        "imageUrl": "",
        "featureSubscriptionType": ws.settings.get("featureSubscriptionType", "PRO_2021"),
        "features": list(ws.settings.get("features", [])),
        "hourlyRate": {"amount": 0, "currency": ws.currency},
        "costRate": {"amount": 0, "currency": ws.currency},
        "currencies": [{"id": "5f00000000000000000000c1", "code": ws.currency, "isDefault": True}],
        "memberships": [membership_dto(ws, u) for u in ws.users.values()],
        "workspaceSettings": {
            "timeTrackingMode": "DEFAULT",
            "onlyAdminsSeeAllTimeEntries": False,
            "onlyAdminsSeeBillableRates": True,
            "durationFormat": "FULL",
            "numberFormat": "COMMA_PERIOD",
            "currencyFormat": "CURRENCY_SPACE_VALUE",
            "lockTimeEntries": None,
            "trackTimeDownToSecond": True,
        },
    }


def member_profile_dto(ws: Workspace, user: dict[str, Any]) -> dict[str, Any]:
    """MemberProfileDtoV1: capacity and working days for utilisation."""
    return {
        "email": user["email"],
        "name": user["name"],
        "imageUrl": "",
        "hasPassword": True,
        "hasPendingApprovalRequest": any(
            a["userId"] == user["id"] and a["state"] == "PENDING" for a in ws.approvals.values()
        ),
        "userCustomFieldValues": [],
        "weekStart": user["weekStart"],
        "workCapacity": user["workCapacity"],
        "workingDays": list(user["workingDays"]),
        "workspaceNumber": 1,
    }


def group_dto(ws: Workspace, group: dict[str, Any], *, managers: bool = False) -> dict[str, Any]:
    """UserGroupDtoV1."""
    out: dict[str, Any] = {
        "id": group["id"],
        "name": group["name"],
        "workspaceId": ws.id,
        "userIds": list(group["userIds"]),
    }
    if managers:
        out["teamManagers"] = [
            {"id": uid, "name": ws.users[uid]["name"]} for uid in group["teamManagerIds"] if uid in ws.users
        ]
    return out


def client_dto(ws: Workspace, client: dict[str, Any]) -> dict[str, Any]:
    """ClientWithCurrencyDtoV1."""
    return {
        "id": client["id"],
        "name": client["name"],
        "workspaceId": ws.id,
        "address": client["address"],
        "email": client["email"],
        "ccEmails": [],
        "archived": client["archived"],
        "note": client["note"],
        "currencyId": "5f00000000000000000000c1",
        "currencyCode": client["currencyCode"],
    }


def project_dto(ws: Workspace, project: dict[str, Any], *, spent_seconds: float | None = None) -> dict[str, Any]:
    """ProjectDtoImplV1 (the GET responses return its fields as well)."""
    client = ws.clients.get(project["clientId"] or "")
    budget = project.get("budgetEstimate")
    return {
        "id": project["id"],
        "name": project["name"],
        "workspaceId": ws.id,
        "clientId": project["clientId"] or "",
        "clientName": client["name"] if client else "",
        "billable": project["billable"],
        "hourlyRate": {"amount": project["hourlyRate"], "currency": ws.currency},
        "costRate": {"amount": project["costRate"], "currency": ws.currency},
        "color": project["color"],
        "archived": project["archived"],
        "public": project["public"],
        "isPublic": project["public"],
        "template": False,
        "isTemplate": False,
        "note": project["note"],
        "duration": iso_duration(spent_seconds or 0),
        "memberships": [],
        "estimate": {"estimate": f"PT{project['estimateHours']}H", "type": "MANUAL"},
        # A project has one active estimate: its budget (minor units) when the world gives it one, else time.
        "timeEstimate": {
            "active": budget is None,
            "estimate": f"PT{project['estimateHours']}H",
            "includeNonBillable": True,
            "resetOption": None,
            "type": "MANUAL",
        },
        "budgetEstimate": {
            "active": budget is not None,
            "estimate": budget or 0,
            "includeExpenses": False,
            "resetOption": None,
            "type": "MANUAL",
        },
    }


def interval_dto(entry: dict[str, Any]) -> dict[str, Any]:
    end = entry["end"]
    return {
        "start": iso(entry["start"]),
        "end": iso(end),
        "duration": iso_duration((end - entry["start"]).total_seconds()) if end else None,
    }


def entry_rate(ws: Workspace, entry: dict[str, Any]) -> int:
    """Billable rate in minor units: the project's rate, else the member's."""
    project = ws.projects.get(entry["projectId"] or "")
    if project and project["hourlyRate"]:
        return int(project["hourlyRate"])
    return int(ws.users.get(entry["userId"], {}).get("hourlyRate", 0))


def time_entry_dto(ws: Workspace, entry: dict[str, Any], *, rates: bool = True, hydrated: bool = False) -> dict:
    """TimeEntryWithRatesDtoV1 (rates) or TimeEntryDtoImplV1; hydrated adds project/task/tags objects."""
    out: dict[str, Any] = {
        "id": entry["id"],
        "workspaceId": ws.id,
        "userId": entry["userId"],
        "description": entry["description"],
        "projectId": entry["projectId"],
        "taskId": entry["taskId"],
        "tagIds": list(entry["tagIds"]),
        "billable": entry["billable"],
        "isLocked": entry["isLocked"],
        "type": entry["type"],
        "customFieldValues": [],
        "timeInterval": interval_dto(entry),
    }
    if rates:
        user = ws.users.get(entry["userId"], {})
        out["hourlyRate"] = {"amount": entry_rate(ws, entry), "currency": ws.currency}
        out["costRate"] = {"amount": user.get("costRate", 0), "currency": ws.currency}
    if hydrated:
        project = ws.projects.get(entry["projectId"] or "")
        out["project"] = project_dto(ws, project) if project else None
        out["task"] = None
        out["tags"] = []
    return out


def entry_info_dto(ws: Workspace, entry: dict[str, Any]) -> dict[str, Any]:
    """TimeEntryInfoDto: an entry as listed inside an approval request."""
    project = ws.projects.get(entry["projectId"] or "")
    client = ws.clients.get(project["clientId"] or "") if project else None
    user = ws.users.get(entry["userId"], {})
    interval = interval_dto(entry)
    return {
        "id": entry["id"],
        "description": entry["description"],
        "billable": entry["billable"],
        "isLocked": entry["isLocked"],
        "approvalRequestId": entry["approvalRequestId"],
        "type": entry["type"],
        "customFieldValues": [],
        "tags": [],
        "task": None,
        "hourlyRate": {"amount": entry_rate(ws, entry), "currency": ws.currency},
        "costRate": {"amount": user.get("costRate", 0), "currency": ws.currency},
        "project": (
            {
                "id": project["id"],
                "name": project["name"],
                "color": project["color"],
                "billable": project["billable"],
                "clientId": project["clientId"],
                "clientName": client["name"] if client else None,
            }
            if project
            else None
        ),
        "timeInterval": interval,
    }


def seconds(entry: dict[str, Any], now: datetime) -> float:
    return ((entry["end"] or now) - entry["start"]).total_seconds()


def approval_dto(ws: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    """ApprovalRequestDtoV1 (webhooks carry the same shape)."""
    return approval_event_payload(ws, request)


def approval_details_dto(
    ws: Workspace, request: dict[str, Any], entries: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """ApprovalDetailsDtoV1: the request with its period's entries and totals (amounts in minor units)."""
    tracked = sum(seconds(e, now) for e in entries if e["type"] != "BREAK")
    breaks = sum(seconds(e, now) for e in entries if e["type"] == "BREAK")
    billable = [e for e in entries if e["billable"]]
    billable_seconds = sum(seconds(e, now) for e in billable)
    amount = sum(seconds(e, now) / 3600 * entry_rate(ws, e) for e in billable)
    cost = sum(seconds(e, now) / 3600 * ws.users.get(e["userId"], {}).get("costRate", 0) for e in entries)
    approved = tracked if request["state"] == "APPROVED" else 0
    pending = tracked if request["state"] == "PENDING" else 0
    return {
        "approvalRequest": approval_dto(ws, request),
        "entries": [entry_info_dto(ws, e) for e in entries],
        "expenses": [],
        "trackedTime": iso_duration(tracked),
        "billableTime": iso_duration(billable_seconds),
        "breakTime": iso_duration(breaks),
        "approvedTime": iso_duration(approved),
        "pendingTime": iso_duration(pending),
        "billableAmount": round(amount, 2),
        "costAmount": round(cost, 2),
        "expenseTotal": 0.0,
    }


def invoice_dto(ws: Workspace, invoice: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """InvoiceDtoV1 (list rows); with `now`, InvoiceInfoV1 (adds daysOverdue and billFrom)."""
    totals = invoice_totals(invoice)
    client = ws.clients.get(invoice["clientId"], {})
    out: dict[str, Any] = {
        "id": invoice["id"],
        "number": invoice["number"],
        "clientId": invoice["clientId"],
        "clientName": client.get("name"),
        "currency": invoice["currency"],
        "issuedDate": iso(invoice["issuedDate"]),
        "dueDate": iso(invoice["dueDate"]),
        "status": invoice["status"],
        "amount": totals["amount"],
        "paid": totals["paid"],
        "balance": totals["balance"],
    }
    if now is not None:
        overdue = (now - invoice["dueDate"]).days
        out["daysOverdue"] = max(overdue, 0) if invoice["status"] not in ("PAID", "VOID") else 0
        out["billFrom"] = invoice["billFrom"]
    return out


def created_invoice_dto(invoice: dict[str, Any]) -> dict[str, Any]:
    """CreateInvoiceDtoV1: what creating an invoice answers (less than the invoice itself)."""
    return {
        "id": invoice["id"],
        "billFrom": invoice["billFrom"],
        "clientId": invoice["clientId"],
        "currency": invoice["currency"],
        "dueDate": iso(invoice["dueDate"]),
        "issuedDate": iso(invoice["issuedDate"]),
        "number": invoice["number"],
    }


def invoice_overview_dto(ws: Workspace, invoice: dict[str, Any]) -> dict[str, Any]:
    """InvoiceOverviewDtoV1: tax/tax2/discount read back x100 (docs/clockify.md#quirk-1)."""
    out = invoice_event_payload(ws, invoice)
    totals = invoice_totals(invoice)
    out.update(
        paid=totals["paid"],
        balance=totals["balance"],
        billFrom=invoice["billFrom"],
        companyId=invoice["companyId"],
        containsImportedExpenses=False,
        containsImportedTimes=bool(any(i.get("timeEntryIds") for i in invoice["items"])),
    )
    out.pop("workspaceId", None)
    return out


def payment_dto(payment: dict[str, Any]) -> dict[str, Any]:
    """InvoicePaymentDtoV1."""
    return {
        "id": payment["id"],
        "amount": payment["amount"],
        "date": iso(payment["date"]),
        "note": payment["note"],
        "author": payment["author"],
    }


def assignment_dto(ws: Workspace, assignment: dict[str, Any]) -> dict[str, Any]:
    """AssignmentDtoV1."""
    return {
        "id": assignment["id"],
        "workspaceId": ws.id,
        "userId": assignment["userId"],
        "projectId": assignment["projectId"],
        "hoursPerDay": assignment["hoursPerDay"],
        "billable": assignment["billable"],
        "note": assignment["note"],
        "includeNonWorkingDays": assignment["includeNonWorkingDays"],
        "startTime": assignment["startTime"],
        "published": assignment["published"],
        "excludeDays": [],
        "period": {"start": iso(day_start(assignment["start"])), "end": iso(day_start(assignment["end"]))},
        "recurring": {
            "repeat": assignment["repeat"],
            "weeks": assignment["weeks"] or 0,
            "seriesId": assignment["seriesId"],
        },
    }


def assignment_hydrated_dto(ws: Workspace, assignment: dict[str, Any]) -> dict[str, Any]:
    """AssignmentHydratedDtoV1 (plus `published`, which the schedule needs to tell drafts apart)."""
    project = ws.projects.get(assignment["projectId"], {})
    client = ws.clients.get(project.get("clientId") or "", {})
    user = ws.users.get(assignment["userId"], {})
    return {
        "id": assignment["id"],
        "workspaceId": ws.id,
        "userId": assignment["userId"],
        "userName": user.get("name"),
        "projectId": assignment["projectId"],
        "projectName": project.get("name"),
        "projectColor": project.get("color"),
        "projectArchived": project.get("archived", False),
        "projectBillable": project.get("billable", False),
        "clientId": project.get("clientId") or "",
        "clientName": client.get("name", ""),
        "billable": assignment["billable"],
        "hoursPerDay": assignment["hoursPerDay"],
        "note": assignment["note"],
        "startTime": assignment["startTime"],
        "published": assignment["published"],
        "period": {"start": iso(day_start(assignment["start"])), "end": iso(day_start(assignment["end"]))},
    }


def assignment_days(assignment: dict[str, Any], user: dict[str, Any], start: date, end: date) -> list[date]:
    """The days in [start, end] an assignment books (working days only unless includeNonWorkingDays)."""
    first = max(start, assignment["start"])
    last = min(end, assignment["end"])
    days = []
    day = first
    while day <= last:
        if assignment["includeNonWorkingDays"] or WEEKDAYS[day.weekday()] in user.get("workingDays", WEEKDAYS[:5]):
            days.append(day)
        day += timedelta(days=1)
    return days


def project_totals_dto(
    ws: Workspace, project: dict[str, Any], assignments: list[dict[str, Any]], start: date, end: date
) -> dict[str, Any]:
    """SchedulingProjectsTotalsDtoV1: the hours `assignments` book on the project in [start, end], and the days."""
    per_day: dict[date, bool] = {}
    total = 0.0
    for assignment in assignments:
        days = assignment_days(assignment, ws.users.get(assignment["userId"], {}), start, end)
        total += assignment["hoursPerDay"] * len(days)
        for day in days:
            per_day[day] = True
    client = ws.clients.get(project["clientId"] or "", {})
    return {
        "projectId": project["id"],
        "projectName": project["name"],
        "projectColor": project["color"],
        "projectArchived": project["archived"],
        "projectBillable": project["billable"],
        "clientName": client.get("name", ""),
        "workspaceId": ws.id,
        "totalHours": total,
        "milestones": [],
        "assignments": [{"date": iso(day_start(d)), "hasAssignment": True} for d in sorted(per_day)],
    }


def user_totals_dto(
    ws: Workspace, user: dict[str, Any], assignments: list[dict[str, Any]], start: date, end: date
) -> dict[str, Any]:
    """SchedulingUsersTotalsDtoV1: the hours `assignments` book the user for on each day of [start, end]."""
    per_day: dict[date, float] = {}
    for assignment in assignments:
        for day in assignment_days(assignment, user, start, end):
            per_day[day] = per_day.get(day, 0.0) + assignment["hoursPerDay"]
    return {
        "userId": user["id"],
        "userName": user["name"],
        "userImage": "",
        "userStatus": user["status"],
        "workspaceId": ws.id,
        "capacityPerDay": duration_hours(user["workCapacity"]),
        "workingDays": list(user["workingDays"]),
        "totalHoursPerDay": [{"date": iso(day_start(d)), "totalHours": h} for d, h in sorted(per_day.items())],
    }


def holiday_dto(ws: Workspace, holiday: dict[str, Any]) -> dict[str, Any]:
    """HolidayDtoV1."""
    return {
        "id": holiday["id"],
        "name": holiday["name"],
        "workspaceId": ws.id,
        "datePeriod": {"startDate": holiday["start"].isoformat(), "endDate": holiday["end"].isoformat()},
        "everyoneIncludingNew": holiday["everyoneIncludingNew"],
        "occursAnnually": holiday["occursAnnually"],
        "automaticTimeEntryCreation": False,
        "userIds": list(holiday["userIds"]),
        "userGroupIds": list(holiday["userGroupIds"]),
    }


def time_off_dto(ws: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    """TimeOffRequestFullV1Dto."""
    user = ws.users.get(request["userId"], {})
    changer = ws.users.get(request["changedBy"] or "", {})
    return {
        "id": request["id"],
        "workspaceId": ws.id,
        "userId": request["userId"],
        "userName": user.get("name"),
        "userEmail": user.get("email"),
        "userTimeZone": user.get("timeZone"),
        "requesterUserId": request["userId"],
        "requesterUserName": user.get("name"),
        "policyId": request["policyId"],
        "policyName": request["policyName"],
        "timeUnit": "DAYS",
        "balance": 20.0,
        "balanceDiff": float(request["days"]),
        "note": request["note"],
        "createdAt": iso(request["createdAt"]),
        "status": {
            "statusType": request["status"],
            "changedAt": iso(request["createdAt"]),
            "changedByUserId": request["changedBy"],
            "changedByUserName": changer.get("name"),
            "note": "",
        },
        "timeOffPeriod": {
            "halfDay": request["halfDay"],
            "period": {"start": iso(request["start"]), "end": iso(request["end"])},
        },
    }


def webhook_dto(ws_id: str, hook: dict[str, Any]) -> dict[str, Any]:
    """WebhookDtoV1 (authToken included, as Clockify returns it to the webhook's owner)."""
    return {
        "id": hook["id"],
        "name": hook.get("name") or hook["event"].lower(),
        "url": hook["url"],
        "webhookEvent": hook["event"],
        "triggerSource": list(hook.get("triggerSource") or [ws_id]),
        "triggerSourceType": hook.get("triggerSourceType") or "WORKSPACE_ID",
        "authToken": hook["token"],
        "enabled": hook.get("enabled", True),
        "userId": hook.get("userId"),
        "workspaceId": ws_id,
    }


def webhooks_dto(ws_id: str, hooks: list[dict[str, Any]]) -> dict[str, Any]:
    """WebhooksDtoV1: a list of webhooks and how many there are."""
    return {"webhooks": [webhook_dto(ws_id, h) for h in hooks], "workspaceWebhookCount": len(hooks)}
