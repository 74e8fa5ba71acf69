"""What the world holds: workspaces and installations as plain records, Clockify's enums, the refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Clockify's role names (GET users?include-roles) and the coarse roles the host shell acts as.
ROLE_OWNER = "OWNER"
ROLE_ADMIN = "WORKSPACE_ADMIN"
ROLE_TEAM_MANAGER = "TEAM_MANAGER"
ROLE_MEMBER = "MEMBER"
ADMIN_ROLES = frozenset({ROLE_OWNER, ROLE_ADMIN})

APPROVAL_STATES = ("PENDING", "APPROVED", "WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL", "REJECTED")
APPROVAL_PERIODS = ("WEEKLY", "SEMI_MONTHLY", "MONTHLY")
INVOICE_STATUSES = ("UNSENT", "SENT", "PAID", "PARTIALLY_PAID", "VOID", "OVERDUE")
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class WorldError(Exception):
    """A change the sandbox refuses as Clockify would: carries the HTTP status and message."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else status


class NotFound(WorldError):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found")


@dataclass
class Workspace:
    """One Clockify workspace. Records are plain dicts keyed by id; the API shapes them on the way out."""

    id: str
    name: str
    currency: str = "USD"
    # Workspace-level settings Clockify keeps: approval period, week start, plan and features.
    settings: dict[str, Any] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries_by_user: dict[str, list[str]] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    holidays: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_off: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Expenses: approved when an APPROVED request of their user covers their day, as time entries are.
    expenses: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_settings: dict[str, Any] = field(default_factory=dict)
    # Structured add-on settings ({"tabs": [...]}) as GET /addon/workspaces/{ws}/settings returns them.
    addon_settings: dict[str, Any] = field(default_factory=lambda: {"tabs": []})
    # Webhooks created by users (not by an add-on) through the Webhooks API.
    user_webhooks: list[dict[str, Any]] = field(default_factory=list)

    def user(self, user_id: str) -> dict[str, Any]:
        found = self.users.get(user_id)
        if found is None:
            raise NotFound("User")
        return found

    def managed_user_ids(self, manager_id: str) -> set[str]:
        """Users in the groups `manager_id` manages as a team manager."""
        ids: set[str] = set()
        for group in self.groups.values():
            if manager_id in group["teamManagerIds"]:
                ids.update(group["userIds"])
        return ids

    def entries_of(self, user_id: str) -> list[dict[str, Any]]:
        return [self.time_entries[i] for i in self.entries_by_user.get(user_id, []) if i in self.time_entries]


@dataclass
class AddonInstallation:
    """Closeout as installed on one sandbox workspace: what the API checks tokens and scopes against."""

    workspace_id: str
    addon_id: str
    addon_url: str  # Closeout's baseUrl from its manifest
    installation_token: str
    scopes: set[str]
    is_active: bool = True
    # Every webhook that delivers to Closeout: {"id", "event", "url", "token", "source": "manifest"|"api"}
    webhooks: list[dict[str, Any]] = field(default_factory=list)


def new_user(user_id: str, name: str, email: str, **extra: Any) -> dict[str, Any]:
    """A user record with Clockify's defaults; `extra` overrides any field."""
    user = {
        "id": user_id,
        "name": name,
        "email": email,
        "status": "ACTIVE",  # membership status on the workspace
        "accountStatus": "ACTIVE",
        "role": None,  # OWNER | WORKSPACE_ADMIN | TEAM_MANAGER | None (member)
        "timeZone": "Europe/Berlin",
        "dateFormat": "DD/MM/YYYY",
        "timeFormat": "HOUR24",
        "weekStart": "MONDAY",
        "workCapacity": "PT8H",
        "workingDays": list(WEEKDAYS[:5]),
        "hourlyRate": 5000,
        "costRate": 3000,
        "lang": "EN",
        "theme": "DEFAULT",
    }
    user.update(extra)
    return user


def invoice_totals(invoice: dict[str, Any]) -> dict[str, int]:
    """Money of an invoice in minor units: subtotal, discount, taxes, amount, paid, balance."""
    subtotal = sum(int(item.get("amount", 0)) for item in invoice["items"])
    discount_amount = round(subtotal * invoice["discountPercent"] / 100)
    taxable = subtotal - discount_amount
    tax_amount = round(taxable * invoice["taxPercent"] / 100)
    tax2_amount = round(taxable * invoice["tax2Percent"] / 100)
    amount = taxable + tax_amount + tax2_amount
    paid = sum(int(p["amount"]) for p in invoice["payments"])
    return {
        "subtotal": subtotal,
        "discountAmount": discount_amount,
        "taxAmount": tax_amount,
        "tax2Amount": tax2_amount,
        "amount": amount,
        "paid": paid,
        "balance": amount - paid,
    }
