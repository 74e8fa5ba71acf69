"""What webhooks carry: the payload of each event the world emits (docs/clockify.md#webhooks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .state import Workspace, invoice_totals
from .wire import iso, iso_duration


def approval_event_payload(ws: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    owner = ws.users.get(request["userId"], {})
    updater = ws.users.get(request["updatedBy"], {})
    creator = ws.users.get(request["creatorId"], {})
    return {
        "id": request["id"],
        "workspaceId": ws.id,
        "dateRange": {"start": iso(request["start"]), "end": iso(request["end"] - timedelta(milliseconds=1))},
        "owner": {
            "userId": request["userId"],
            "userName": owner.get("name"),
            "timeZone": owner.get("timeZone"),
            "startOfWeek": owner.get("weekStart", "MONDAY"),
        },
        "creator": {
            "userId": request["creatorId"],
            "userName": creator.get("name"),
            "userEmail": creator.get("email"),
        },
        "status": {
            "state": request["state"],
            "updatedBy": request["updatedBy"],
            "updatedByUserName": updater.get("name"),
            "updatedAt": iso(request["updatedAt"]),
            "note": request["note"],
        },
    }


def time_entry_event_payload(ws: Workspace, entry: dict[str, Any]) -> dict[str, Any]:
    user = ws.users.get(entry["userId"], {})
    project = ws.projects.get(entry["projectId"] or "")
    rate = project["hourlyRate"] if project else user.get("hourlyRate", 0)
    end = entry["end"]
    return {
        "id": entry["id"],
        "description": entry["description"],
        "tagIds": entry["tagIds"],
        "userId": entry["userId"],
        "billable": entry["billable"],
        "taskId": entry["taskId"],
        "projectId": entry["projectId"],
        "timeInterval": {
            "start": iso(entry["start"]),
            "end": iso(end),
            "duration": iso_duration((end - entry["start"]).total_seconds()) if end else None,
        },
        "workspaceId": ws.id,
        "isLocked": entry["isLocked"],
        "hourlyRate": {"amount": rate, "currency": ws.currency},
        "costRate": {"amount": user.get("costRate", 0), "currency": ws.currency},
        "customFieldValues": [],
        "project": (
            {
                "id": project["id"],
                "name": project["name"],
                "clientId": project["clientId"],
                "clientName": ws.clients.get(project["clientId"] or "", {}).get("name"),
                "billable": project["billable"],
                "color": project["color"],
            }
            if project
            else None
        ),
        "task": None,
        "user": {"id": entry["userId"], "name": user.get("name"), "status": user.get("status")},
        "tags": [],
    }


def invoice_event_payload(ws: Workspace, invoice: dict[str, Any]) -> dict[str, Any]:
    client = ws.clients.get(invoice["clientId"], {})
    totals = invoice_totals(invoice)
    return {
        "id": invoice["id"],
        "number": invoice["number"],
        "status": invoice["status"],
        "issuedDate": iso(invoice["issuedDate"]),
        "dueDate": iso(invoice["dueDate"]),
        "subtotal": totals["subtotal"],
        # Read side scales percents x100 (docs/clockify.md#quirk-1).
        "discount": invoice["discountPercent"] * 100,
        "tax": invoice["taxPercent"] * 100,
        "tax2": invoice["tax2Percent"] * 100,
        "discountAmount": totals["discountAmount"],
        "taxAmount": totals["taxAmount"],
        "tax2Amount": totals["tax2Amount"],
        "amount": totals["amount"],
        "currency": invoice["currency"],
        "subject": invoice["subject"],
        "note": invoice["note"],
        "clientId": invoice["clientId"],
        "clientName": client.get("name"),
        "clientAddress": client.get("address"),
        "userId": invoice["userId"],
        "workspaceId": ws.id,
        "items": [dict(item) for item in invoice["items"]],
    }


def assignment_event_payload(assignment: dict[str, Any]) -> dict[str, Any]:
    return {
        "workspaceId": assignment["workspaceId"],
        "userId": assignment["userId"],
        "projectId": assignment["projectId"],
        "assignmentId": assignment["id"],
    }


def user_event_payload(ws: Workspace, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "workspaceId": ws.id,
        "status": user["status"],
    }
