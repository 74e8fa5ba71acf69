"""The world: every workspace behind one lock; each change applies Clockify's rules and announces itself."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .payloads import (
    approval_event_payload,
    assignment_event_payload,
    invoice_event_payload,
    time_entry_event_payload,
    user_event_payload,
)
from .state import (
    APPROVAL_PERIODS,
    APPROVAL_STATES,
    INVOICE_STATUSES,
    ROLE_ADMIN,
    ROLE_MEMBER,
    ROLE_OWNER,
    WEEKDAYS,
    AddonInstallation,
    NotFound,
    Workspace,
    WorldError,
    invoice_totals,
    new_user,
)

Listener = Callable[[str, str, dict[str, Any]], None]

# Which decisions a request in a given state can take (Clockify's approval flow).
APPROVAL_TRANSITIONS: dict[str, frozenset[str]] = {
    "PENDING": frozenset({"APPROVED", "REJECTED", "WITHDRAWN_SUBMISSION"}),
    "APPROVED": frozenset({"WITHDRAWN_APPROVAL"}),
    "REJECTED": frozenset(),
    "WITHDRAWN_SUBMISSION": frozenset(),
    "WITHDRAWN_APPROVAL": frozenset(),
}


def period_day(moment: datetime, time_zone: str | None) -> date:
    """The calendar day a periodStart names: a UTC midnight is that day; any other instant is read in the
    owner's time zone (clients send either form: midnight UTC, or midnight where the owner lives)."""
    moment = moment.astimezone(UTC)
    if moment.time() == datetime.min.time() or not time_zone:
        return moment.date()
    try:
        return moment.astimezone(ZoneInfo(time_zone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.date()


def period_bounds(period: str, start: datetime | date, week_start: str = "MONDAY") -> tuple[datetime, datetime]:
    """[start, end) of the approval period of kind `period` containing `start`'s day, as UTC midnights."""
    day = start.astimezone(UTC).date() if isinstance(start, datetime) else start
    if period == "WEEKLY":
        offset = (day.weekday() - WEEKDAYS.index(week_start)) % 7
        first = day - timedelta(days=offset)
        last = first + timedelta(days=7)
    elif period == "SEMI_MONTHLY":
        if day.day <= 15:
            first, last = day.replace(day=1), day.replace(day=16)
        else:
            first = day.replace(day=16)
            last = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        first = day.replace(day=1)
        last = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        datetime.combine(first, datetime.min.time(), UTC),
        datetime.combine(last, datetime.min.time(), UTC),
    )


class World:
    """All sandbox state. Mutations happen under `lock` and announce themselves through `emit`."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, Any] = {}
        # workspace id → Closeout's installation there (absent when not installed)
        self.installations: dict[str, AddonInstallation] = {}
        self._listeners: list[Listener] = []
        # The clock every timestamp comes from; seed_world fixes `today` so generated data is stable.
        self._now = now or (lambda: datetime.now(UTC))
        self.today: date | None = None
        self._ids = itertools.count(1)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(workspace_id, event_type, payload)` on every change (webhook delivery hooks in)."""
        self._listeners.append(listener)

    def emit(self, workspace_id: str, event_type: str, payload: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(workspace_id, event_type, payload)

    # ---- plumbing ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._now()

    def set_clock(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def new_id(self) -> str:
        """A 24-hex id like Clockify's ObjectIds; sequential so a seeded world is reproducible."""
        return f"5f{next(self._ids):022x}"

    def workspace(self, workspace_id: str) -> Workspace:
        found = self.workspaces.get(workspace_id)
        if not isinstance(found, Workspace):
            raise NotFound("Workspace")
        return found

    def user_for_role(self, workspace_id: str, role: str) -> str:
        """A user id to act as: OWNER, ADMIN (WORKSPACE_ADMIN), TEAM_MANAGER or MEMBER."""
        wanted = {"ADMIN": ROLE_ADMIN}.get(role.upper(), role.upper())
        with self.lock:
            ws = self.workspace(workspace_id)
            for user in ws.users.values():
                if user["status"] != "ACTIVE":
                    continue
                if (user["role"] or ROLE_MEMBER) == wanted:
                    return str(user["id"])
        raise NotFound(f"A user with role {role}")

    def role_of(self, workspace_id: str, user_id: str) -> str:
        """OWNER, WORKSPACE_ADMIN, TEAM_MANAGER or MEMBER."""
        with self.lock:
            user = self.workspace(workspace_id).users.get(user_id)
            return (user["role"] or ROLE_MEMBER) if user else ROLE_MEMBER

    # ---- users ------------------------------------------------------------------------------------

    def add_user(self, workspace_id: str, name: str, email: str, **extra: Any) -> dict[str, Any]:
        """A user joins the workspace (USER_JOINED_WORKSPACE)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            user = new_user(self.new_id(), name, email, **extra)
            ws.users[user["id"]] = user
            payload = user_event_payload(ws, user)
        self.emit(workspace_id, "USER_JOINED_WORKSPACE", payload)
        return user

    def set_user_status(self, workspace_id: str, user_id: str, status: str) -> dict[str, Any]:
        """Deactivate (INACTIVE) or reactivate (ACTIVE) a member."""
        if status not in ("ACTIVE", "INACTIVE"):
            raise WorldError(400, "status must be ACTIVE or INACTIVE")
        with self.lock:
            ws = self.workspace(workspace_id)
            user = ws.user(user_id)
            changed = user["status"] != status
            user["status"] = status
            payload = user_event_payload(ws, user)
        if changed:
            event = "USER_DEACTIVATED_ON_WORKSPACE" if status == "INACTIVE" else "USER_ACTIVATED_ON_WORKSPACE"
            self.emit(workspace_id, event, payload)
        return user

    def remove_user(self, workspace_id: str, user_id: str) -> dict[str, Any]:
        """Remove a member from the workspace (USER_DELETED_FROM_WORKSPACE); their history stays."""
        with self.lock:
            ws = self.workspace(workspace_id)
            user = ws.user(user_id)
            if user["role"] == ROLE_OWNER:
                raise WorldError(400, "The workspace owner cannot be removed")
            payload = user_event_payload(ws, user)
            del ws.users[user_id]
            for group in ws.groups.values():
                group["userIds"] = [u for u in group["userIds"] if u != user_id]
                group["teamManagerIds"] = [u for u in group["teamManagerIds"] if u != user_id]
        self.emit(workspace_id, "USER_DELETED_FROM_WORKSPACE", payload)
        return user

    # ---- time entries -----------------------------------------------------------------------------

    def add_time_entry(
        self,
        workspace_id: str,
        user_id: str,
        start: datetime,
        end: datetime | None,
        *,
        project_id: str | None = None,
        task_id: str | None = None,
        description: str = "",
        billable: bool | None = None,
        tag_ids: list[str] | None = None,
        entry_type: str = "REGULAR",
        emit: bool = True,
    ) -> dict[str, Any]:
        """Track time for a user (NEW_TIME_ENTRY)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            ws.user(user_id)
            project = None
            if project_id:
                project = ws.projects.get(project_id)
                if project is None:
                    raise NotFound("Project")
            if end is not None and end < start:
                raise WorldError(400, "End time must be after start time")
            entry: dict[str, Any] = {
                "id": self.new_id(),
                "workspaceId": workspace_id,
                "userId": user_id,
                "description": description,
                "projectId": project_id,
                "taskId": task_id,
                "tagIds": list(tag_ids or []),
                "billable": bool(project["billable"]) if billable is None and project else bool(billable),
                "start": start,
                "end": end,
                "type": entry_type,
                "isLocked": False,
                "invoiced": False,
                "approvalRequestId": None,
            }
            ws.time_entries[entry["id"]] = entry
            ws.entries_by_user.setdefault(user_id, []).append(entry["id"])
            payload = time_entry_event_payload(ws, entry) if emit else None
        if payload is not None:
            self.emit(workspace_id, "NEW_TIME_ENTRY", payload)
        return entry

    def update_time_entry(self, workspace_id: str, entry_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Replace an entry's editable fields (TIME_ENTRY_UPDATED); approved (locked) entries refuse."""
        with self.lock:
            ws = self.workspace(workspace_id)
            entry = ws.time_entries.get(entry_id)
            if entry is None:
                raise NotFound("Time entry")
            if entry["isLocked"]:
                raise WorldError(400, "Time entry is locked", 501)
            if "projectId" in changes and changes["projectId"] and changes["projectId"] not in ws.projects:
                raise NotFound("Project")
            start = changes.get("start", entry["start"])
            end = changes.get("end", entry["end"])
            if end is not None and end < start:
                raise WorldError(400, "End time must be after start time")
            entry.update(changes)
            payload = time_entry_event_payload(ws, entry)
        self.emit(workspace_id, "TIME_ENTRY_UPDATED", payload)
        return entry

    def delete_time_entry(self, workspace_id: str, entry_id: str) -> dict[str, Any]:
        """Remove an entry (TIME_ENTRY_DELETED)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            entry = ws.time_entries.get(entry_id)
            if entry is None:
                raise NotFound("Time entry")
            if entry["isLocked"]:
                raise WorldError(400, "Time entry is locked", 501)
            del ws.time_entries[entry_id]
            ws.entries_by_user[entry["userId"]].remove(entry_id)
            payload = time_entry_event_payload(ws, entry)
        self.emit(workspace_id, "TIME_ENTRY_DELETED", payload)
        return entry

    def mark_invoiced(self, workspace_id: str, entry_ids: list[str], invoiced: bool) -> None:
        """PATCH …/time-entries/invoiced: all ids must exist, else nothing changes."""
        with self.lock:
            ws = self.workspace(workspace_id)
            missing = [i for i in entry_ids if i not in ws.time_entries]
            if missing:
                raise NotFound("Time entry")
            for entry_id in entry_ids:
                ws.time_entries[entry_id]["invoiced"] = invoiced

    # ---- approvals --------------------------------------------------------------------------------

    def submit_approval(
        self,
        workspace_id: str,
        user_id: str,
        period_start: datetime,
        period: str | None = None,
        *,
        by_user_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Submit `user_id`'s timesheet for the period starting at `period_start` (NEW_APPROVAL_REQUEST)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            owner = ws.user(user_id)
            configured = ws.settings.get("approvalPeriod", "WEEKLY")
            period = period or configured
            if period not in APPROVAL_PERIODS:
                raise WorldError(400, f"period must be one of {', '.join(APPROVAL_PERIODS)}")
            if period != configured:
                raise WorldError(400, "Approval period does not match the workspace approval period setting")
            day = period_day(period_start, owner.get("timeZone"))
            start, end = period_bounds(period, day, ws.settings.get("weekStart", "MONDAY"))
            for other in ws.approvals.values():
                if other["userId"] == user_id and other["start"] == start and other["state"] in ("PENDING", "APPROVED"):
                    raise WorldError(400, "Approval request for this period already exists", 501)
            now = self.now()
            creator = by_user_id or user_id
            request: dict[str, Any] = {
                "id": self.new_id(),
                "workspaceId": workspace_id,
                "userId": user_id,
                "creatorId": creator,
                "period": period,
                "start": start,
                "end": end,
                "state": "PENDING",
                "note": None,
                "updatedAt": now,
                "updatedBy": creator,
                "createdAt": now,
            }
            ws.approvals[request["id"]] = request
            self._attach_entries(ws, request)
            payload = approval_event_payload(ws, request)
        if emit:
            self.emit(workspace_id, "NEW_APPROVAL_REQUEST", payload)
        return request

    def resubmit_approval(
        self, workspace_id: str, user_id: str, period_start: datetime, *, by_user_id: str | None = None
    ) -> dict[str, Any]:
        """Re-submit a rejected or withdrawn period: it goes back to PENDING (APPROVAL_REQUEST_STATUS_UPDATED)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            owner = ws.user(user_id)
            start, _ = period_bounds(
                ws.settings.get("approvalPeriod", "WEEKLY"),
                period_day(period_start, owner.get("timeZone")),
                ws.settings.get("weekStart", "MONDAY"),
            )
            candidates = [a for a in ws.approvals.values() if a["userId"] == user_id and a["start"] == start]
            if any(a["state"] in ("PENDING", "APPROVED") for a in candidates):
                pending = [a for a in candidates if a["state"] in ("PENDING", "APPROVED")]
                return pending[0]
            reopenable = [
                a for a in candidates if a["state"] in ("REJECTED", "WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL")
            ]
            if not reopenable:
                raise NotFound("Approval request")
            request = max(reopenable, key=lambda a: a["updatedAt"])
            request.update(state="PENDING", note=None, updatedAt=self.now(), updatedBy=by_user_id or user_id)
            self._attach_entries(ws, request)
            payload = approval_event_payload(ws, request)
        self.emit(workspace_id, "APPROVAL_REQUEST_STATUS_UPDATED", payload)
        return request

    def decide_approval(
        self,
        workspace_id: str,
        request_id: str,
        state: str,
        note: str | None = None,
        *,
        by_user_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Move a request along Clockify's flow (APPROVAL_REQUEST_STATUS_UPDATED); other moves are a 400."""
        if state not in APPROVAL_STATES:
            raise WorldError(400, f"state must be one of {', '.join(APPROVAL_STATES)}")
        with self.lock:
            ws = self.workspace(workspace_id)
            request = ws.approvals.get(request_id)
            if request is None:
                raise NotFound("Approval request")
            if state not in APPROVAL_TRANSITIONS[request["state"]]:
                raise WorldError(400, f"Approval request in state {request['state']} cannot become {state}", 501)
            request.update(state=state, note=note, updatedAt=self.now(), updatedBy=by_user_id or request["userId"])
            locked = state == "APPROVED"
            for entry in self._period_entries(ws, request):
                entry["isLocked"] = locked
                if state in ("WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL", "REJECTED"):
                    entry["approvalRequestId"] = None
            payload = approval_event_payload(ws, request)
        if emit:
            self.emit(workspace_id, "APPROVAL_REQUEST_STATUS_UPDATED", payload)
        return request

    def _period_entries(self, ws: Workspace, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for e in ws.entries_of(request["userId"]) if request["start"] <= e["start"] < request["end"]]

    def _attach_entries(self, ws: Workspace, request: dict[str, Any]) -> None:
        for entry in self._period_entries(ws, request):
            entry["approvalRequestId"] = request["id"]

    def approval_entries(self, workspace_id: str, request_id: str) -> list[dict[str, Any]]:
        with self.lock:
            ws = self.workspace(workspace_id)
            request = ws.approvals.get(request_id)
            if request is None:
                raise NotFound("Approval request")
            return self._period_entries(ws, request)

    # ---- invoices ---------------------------------------------------------------------------------

    def create_invoice(
        self,
        workspace_id: str,
        client_id: str,
        number: str,
        currency: str,
        issued: datetime,
        due: datetime,
        *,
        by_user_id: str | None = None,
        items: list[dict[str, Any]] | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """A new UNSENT invoice for a client (NEW_INVOICE)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            client = ws.clients.get(client_id)
            if client is None:
                raise NotFound("Client")
            invoice: dict[str, Any] = {
                "id": self.new_id(),
                "workspaceId": workspace_id,
                "number": number,
                "clientId": client_id,
                "currency": currency,
                "issuedDate": issued,
                "dueDate": due,
                "status": "UNSENT",
                "items": list(items or []),
                "taxPercent": 0.0,
                "tax2Percent": 0.0,
                "discountPercent": 0.0,
                "note": "",
                "subject": "",
                "billFrom": ws.name,
                "companyId": None,
                "userId": by_user_id,
                "payments": [],
            }
            ws.invoices[invoice["id"]] = invoice
            payload = invoice_event_payload(ws, invoice)
        if emit:
            self.emit(workspace_id, "NEW_INVOICE", payload)
        return invoice

    def invoice(self, workspace_id: str, invoice_id: str) -> dict[str, Any]:
        ws = self.workspace(workspace_id)
        invoice = ws.invoices.get(invoice_id)
        if invoice is None:
            raise NotFound("Invoice")
        return invoice

    def update_invoice(self, workspace_id: str, invoice_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """PUT: the whole editable document is replaced (fields left out are reset)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            invoice = self.invoice(workspace_id, invoice_id)
            if fields.get("clientId") and fields["clientId"] not in ws.clients:
                raise NotFound("Client")
            invoice.update(
                {
                    "number": fields["number"],
                    "currency": fields["currency"],
                    "issuedDate": fields["issuedDate"],
                    "dueDate": fields["dueDate"],
                    "taxPercent": float(fields["taxPercent"]),
                    "tax2Percent": float(fields["tax2Percent"]),
                    "discountPercent": float(fields["discountPercent"]),
                    # Full replacement (docs/clockify.md#quirk-1): absent optional fields are cleared.
                    "note": fields.get("note") or "",
                    "subject": fields.get("subject") or "",
                    "clientId": fields.get("clientId") or invoice["clientId"],
                    "companyId": fields.get("companyId"),
                }
            )
            payload = invoice_event_payload(ws, invoice)
        self.emit(workspace_id, "INVOICE_UPDATED", payload)
        return invoice

    def set_invoice_status(self, workspace_id: str, invoice_id: str, status: str) -> dict[str, Any]:
        if status not in INVOICE_STATUSES:
            raise WorldError(400, f"invoiceStatus must be one of {', '.join(INVOICE_STATUSES)}")
        with self.lock:
            ws = self.workspace(workspace_id)
            invoice = self.invoice(workspace_id, invoice_id)
            invoice["status"] = status
            payload = invoice_event_payload(ws, invoice)
        self.emit(workspace_id, "INVOICE_UPDATED", payload)
        return invoice

    def add_payment(
        self,
        workspace_id: str,
        invoice_id: str,
        amount: int,
        paid_at: datetime,
        note: str = "",
        *,
        by_user_id: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Record a payment; the status follows the balance (PAID / PARTIALLY_PAID)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            invoice = self.invoice(workspace_id, invoice_id)
            if invoice["status"] == "VOID":
                raise WorldError(400, "Cannot add a payment to a void invoice", 501)
            totals = invoice_totals(invoice)
            if amount > totals["balance"]:
                raise WorldError(400, "Payment amount exceeds the invoice balance", 501)
            invoice["payments"].append(
                {"id": self.new_id(), "amount": amount, "date": paid_at, "note": note, "author": by_user_id}
            )
            self._status_from_balance(invoice)
            payload = invoice_event_payload(ws, invoice)
        if emit:
            self.emit(workspace_id, "INVOICE_UPDATED", payload)
        return invoice

    def delete_payment(self, workspace_id: str, invoice_id: str, payment_id: str) -> dict[str, Any]:
        with self.lock:
            ws = self.workspace(workspace_id)
            invoice = self.invoice(workspace_id, invoice_id)
            kept = [p for p in invoice["payments"] if p["id"] != payment_id]
            if len(kept) == len(invoice["payments"]):
                raise NotFound("Payment")
            invoice["payments"] = kept
            self._status_from_balance(invoice)
            payload = invoice_event_payload(ws, invoice)
        self.emit(workspace_id, "INVOICE_UPDATED", payload)
        return invoice

    def _status_from_balance(self, invoice: dict[str, Any]) -> None:
        totals = invoice_totals(invoice)
        if totals["paid"] and totals["balance"] <= 0:
            invoice["status"] = "PAID"
        elif totals["paid"]:
            invoice["status"] = "PARTIALLY_PAID"
        elif invoice["status"] in ("PAID", "PARTIALLY_PAID"):
            invoice["status"] = "SENT"

    def duplicate_invoice(self, workspace_id: str, invoice_id: str, *, by_user_id: str | None = None) -> dict:
        with self.lock:
            ws = self.workspace(workspace_id)
            source = self.invoice(workspace_id, invoice_id)
            copy: dict[str, Any] = {
                **source,
                "id": self.new_id(),
                "number": _next_invoice_number(ws),
                "status": "UNSENT",
                "payments": [],
                "items": [dict(i, timeEntryIds=[]) for i in source["items"]],
                "userId": by_user_id or source["userId"],
            }
            ws.invoices[copy["id"]] = copy
            payload = invoice_event_payload(ws, copy)
        self.emit(workspace_id, "NEW_INVOICE", payload)
        return copy

    def add_invoice_item(
        self,
        workspace_id: str,
        invoice_id: str,
        description: str,
        amount: int,
        *,
        quantity: int = 100,
        time_entry_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """An item added in Clockify's own invoice editor (the API has no call for it): `amount` in minor
        units, `quantity` x100 and `unitPrice` minor x100 as the live API reads them (docs/clockify.md#quirk-2)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            invoice = self.invoice(workspace_id, invoice_id)
            invoice["items"].append(
                {
                    "order": len(invoice["items"]) + 1,
                    "description": description,
                    "quantity": quantity,
                    "unitPrice": amount * 100 * 100 // max(quantity, 1),
                    "amount": int(amount),
                    "itemType": "Service",
                    "timeEntryIds": list(time_entry_ids or []),
                }
            )
            payload = invoice_event_payload(ws, invoice)
        self.emit(workspace_id, "INVOICE_UPDATED", payload)
        return invoice

    def add_expense(
        self,
        workspace_id: str,
        user_id: str,
        project_id: str,
        spent_at: datetime,
        amount: int,
        *,
        billable: bool = True,
        category: str = "Travel",
        notes: str = "",
    ) -> dict[str, Any]:
        """An expense of `amount` minor units on a project (the seed's and the tests'; Closeout only reads them)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            ws.user(user_id)
            if project_id not in ws.projects:
                raise NotFound("Project")
            expense: dict[str, Any] = {
                "id": self.new_id(),
                "userId": user_id,
                "projectId": project_id,
                "date": spent_at,
                "amount": int(amount),
                "billable": bool(billable),
                "invoiced": False,
                "category": category,
                "notes": notes,
            }
            ws.expenses[expense["id"]] = expense
            return expense

    def delete_invoice(self, workspace_id: str, invoice_id: str) -> None:
        with self.lock:
            ws = self.workspace(workspace_id)
            self.invoice(workspace_id, invoice_id)
            del ws.invoices[invoice_id]

    # ---- scheduling -------------------------------------------------------------------------------

    def create_assignment(
        self,
        workspace_id: str,
        user_id: str,
        project_id: str,
        start: date,
        end: date,
        hours_per_day: float,
        *,
        billable: bool | None = None,
        note: str = "",
        include_non_working_days: bool = False,
        start_time: str | None = None,
        published: bool = False,
        series_id: str | None = None,
        repeat: bool = False,
        weeks: int | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        """Schedule a user on a project for a date range (ASSIGNMENT_CREATED)."""
        with self.lock:
            ws = self.workspace(workspace_id)
            ws.user(user_id)
            project = ws.projects.get(project_id)
            if project is None:
                raise NotFound("Project")
            if end < start:
                raise WorldError(400, "End date must not be before start date")
            assignment: dict[str, Any] = {
                "id": self.new_id(),
                "workspaceId": workspace_id,
                "userId": user_id,
                "projectId": project_id,
                "start": start,
                "end": end,
                "hoursPerDay": float(hours_per_day),
                "billable": project["billable"] if billable is None else bool(billable),
                "note": note,
                "includeNonWorkingDays": include_non_working_days,
                "startTime": start_time or "09:00",
                "published": published,
                "seriesId": series_id,
                "repeat": repeat,
                "weeks": weeks,
            }
            ws.assignments[assignment["id"]] = assignment
            payload = assignment_event_payload(assignment)
        if emit:
            self.emit(workspace_id, "ASSIGNMENT_CREATED", payload)
        return assignment

    def update_assignment(self, workspace_id: str, assignment_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ws = self.workspace(workspace_id)
            assignment = ws.assignments.get(assignment_id)
            if assignment is None:
                raise NotFound("Assignment")
            start = changes.get("start", assignment["start"])
            end = changes.get("end", assignment["end"])
            if end < start:
                raise WorldError(400, "End date must not be before start date")
            assignment.update(changes)
            assignment["published"] = False
            payload = assignment_event_payload(assignment)
        self.emit(workspace_id, "ASSIGNMENT_UPDATED", payload)
        return assignment

    def delete_assignment(self, workspace_id: str, assignment_id: str) -> dict[str, Any]:
        with self.lock:
            ws = self.workspace(workspace_id)
            assignment = ws.assignments.pop(assignment_id, None)
            if assignment is None:
                raise NotFound("Assignment")
            payload = assignment_event_payload(assignment)
        self.emit(workspace_id, "ASSIGNMENT_DELETED", payload)
        return assignment

    def publish_assignments(
        self, workspace_id: str, start: date, end: date, user_ids: set[str] | None = None
    ) -> list[dict[str, Any]]:
        """Publish every assignment overlapping [start, end] (optionally of some users): ASSIGNMENT_PUBLISHED each."""
        with self.lock:
            ws = self.workspace(workspace_id)
            published = []
            for assignment in ws.assignments.values():
                if assignment["end"] < start or assignment["start"] > end:
                    continue
                if user_ids is not None and assignment["userId"] not in user_ids:
                    continue
                if not assignment["published"]:
                    assignment["published"] = True
                    published.append(assignment)
            payloads = [assignment_event_payload(a) for a in published]
        for payload in payloads:
            self.emit(workspace_id, "ASSIGNMENT_PUBLISHED", payload)
        return published


def _next_invoice_number(ws: Workspace) -> str:
    numbers = [int(i["number"]) for i in ws.invoices.values() if str(i["number"]).isdigit()]
    return str(max(numbers, default=0) + 1)
