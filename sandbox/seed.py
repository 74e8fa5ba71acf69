"""Deterministic seed data: the demo workspace (people, projects, time, approvals, schedule, invoices)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .state import ROLE_ADMIN, ROLE_OWNER, ROLE_TEAM_MANAGER, WEEKDAYS, Workspace, invoice_totals, new_user
from .wire import duration_hours
from .world import World

# What the demo holds (seed 42; `today` defaults to the real UTC date so the demo is always current):
# - 36 people: 1 OWNER, 1 WORKSPACE_ADMIN, 3 TEAM_MANAGERs (one per group: Design, Engineering, Delivery),
#   31 members of whom 2 are INACTIVE; time zones, date/time formats; capacity PT8H (every ninth PT6H, 4 days).
#   36 rather than ~25 so that the last closed week alone holds 30 PENDING requests (one per person and week).
# - 6 clients, 12 projects (10 billable with rates in cents and estimates, 2 internal non-billable).
# - 8 weeks of entries ending with the last full week: 2-4 a day, ~8% without project, some overlapping,
#   ~5% of days over 10 h.
# - Approvals: last closed week 30 PENDING and 3 people with time but no request; earlier weeks mostly
#   APPROVED (entries locked) with PENDING, REJECTED, WITHDRAWN_SUBMISSION, WITHDRAWN_APPROVAL and gaps.
# - Assignments for the last 4 and next 4 weeks (past and current week published): every 4th person over
#   107% of capacity, every 5th at 50%; 2 holidays; time-off requests APPROVED/PENDING/REJECTED.
# - 8 invoices: 2 PAID, PARTIALLY_PAID, 2 SENT, OVERDUE, UNSENT, VOID, with payments and invoiced entries.
# `size="large"`: 500 people, exactly 50,000 entries and 2,000 approval requests (about a second to build).
DEMO_WORKSPACE_ID = "64f0c0ffee00000000000de0"
DEMO_WORKSPACE_NAME = "Northwind Studio"

FIRST = [
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Emma",
    "Lucas",
    "Zoe",
    "Ethan",
    "Lena",
    "Omar",
    "Iris",
    "Jonas",
    "Nora",
    "Felix",
    "Maya",
    "Hugo",
    "Clara",
    "Leo",
    "Sara",
    "Ivan",
    "Elif",
    "Tomas",
    "Ines",
    "Ruben",
    "Hana",
    "Marco",
    "Yara",
    "Pavel",
    "Alma",
    "Theo",
    "Aiko",
    "Nils",
    "Rosa",
    "Dario",
    "Lea",
    "Kofi",
    "Vera",
    "Milan",
    "Ana",
    "Jakob",
]
LAST = [
    "Novak",
    "Berg",
    "Costa",
    "Meyer",
    "Silva",
    "Horvat",
    "Larsen",
    "Rossi",
    "Kowalski",
    "Jansen",
    "Dubois",
    "Fischer",
    "Moreau",
    "Nagy",
    "Popescu",
    "Santos",
    "Weber",
    "Ivanova",
    "Lund",
    "Kaya",
    "Bauer",
    "Marin",
    "Petrov",
    "Vidal",
    "Keller",
]
TIME_ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Europe/Belgrade", "Asia/Tokyo", "UTC")
CLIENTS = (
    ("Acme Robotics", "12 Forge Lane, Leeds"),
    ("Bluebird Foods", "4 Harbour Rd, Porto"),
    ("Cedar Health", "900 Market St, Denver"),
    ("Delta Logistics", "Hafenstr. 8, Hamburg"),
    ("Evergreen Energy", "77 Solar Way, Austin"),
    ("Fjord Media", "Kaigata 3, Bergen"),
)
PROJECT_KINDS = ("Website", "Mobile app", "Brand refresh", "Data platform", "Support retainer", "Research")
COLORS = ("#03A9F4", "#8BC34A", "#FF9800", "#9C27B0", "#E91E63", "#009688", "#3F51B5", "#795548")
DESCRIPTIONS = ("Design review", "Implementation", "Client call", "Bug fixing", "Planning", "Testing", "Docs", "")


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), UTC) + timedelta(hours=hour)


def seed_world(
    world: World,
    seed: int = 42,
    size: str = "demo",
    today: date | None = None,
    workspace_id: str = DEMO_WORKSPACE_ID,
) -> Workspace:
    """Build the demo (or `large`) workspace into `world`; the same seed and today give the same data."""
    if size not in ("demo", "large"):
        raise ValueError("size is demo or large")
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    world.today = today
    large = size == "large"
    with world.lock:
        ws = Workspace(id=workspace_id, name=DEMO_WORKSPACE_NAME if not large else "Northwind Enterprise")
        ws.settings = {
            "approvalPeriod": "WEEKLY",
            "approvalEnabled": True,
            "weekStart": "MONDAY",
            "currency": "USD",
            "plan": "PRO",
            "featureSubscriptionType": "PRO_2021",
            "features": ["APPROVAL", "INVOICING", "SCHEDULING", "TIME_OFF", "MANAGER_ROLE", "EXPENSES"],
        }
        ws.invoice_settings = default_invoice_settings()
        world.workspaces[workspace_id] = ws
        _seed_people(world, ws, rng, 500 if large else 36)
        _seed_clients_projects(world, ws, rng)
        last_monday = monday_of(today) - timedelta(days=7)  # the last full week
        weeks = [last_monday - timedelta(days=7 * i) for i in range(7, -1, -1)]
        _seed_time(world, ws, rng, weeks, entries_total=50_000 if large else None)
        _seed_approvals(world, ws, rng, weeks, target=2_000 if large else None)
        _seed_schedule(world, ws, rng, weeks, today)
        _seed_time_off(world, ws, rng, weeks, today)
        _seed_invoices(world, ws, rng, weeks, today)
        # Its own generator: adding expenses leaves every other seeded record as it was.
        _seed_expenses(world, ws, random.Random(seed + 1), weeks)
    return ws


def _seed_people(world: World, ws: Workspace, rng: random.Random, count: int) -> None:
    names = [(f, la) for la in LAST for f in FIRST]
    rng.shuffle(names)
    users = []
    for index in range(count):
        first, last = names[index % len(names)]
        suffix = "" if index < len(names) else str(index // len(names))
        user = new_user(
            world.new_id(),
            f"{first} {last}{suffix}",
            f"{first}.{last}{suffix}@northwind.example".lower(),
            timeZone=TIME_ZONES[index % len(TIME_ZONES)] if index else "Europe/Berlin",
            dateFormat=rng.choice(("DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD")),
            timeFormat=rng.choice(("HOUR24", "HOUR12")),
            hourlyRate=rng.choice((4500, 6000, 7500, 9000)),
            costRate=rng.choice((2500, 3500, 4500)),
        )
        # A few part-timers so capacity differs from person to person.
        if index % 9 == 8:
            user["workCapacity"] = "PT6H"
            user["workingDays"] = list(WEEKDAYS[:4])
        users.append(user)
        ws.users[user["id"]] = user
    users[0]["role"] = ROLE_OWNER
    users[1]["role"] = ROLE_ADMIN
    managers = users[2:5]
    for manager in managers:
        manager["role"] = ROLE_TEAM_MANAGER
    members = users[5:]
    # Two people have left: INACTIVE on the workspace, their history kept.
    for user in members[-2:]:
        user["status"] = "INACTIVE"
    team_names = ("Design", "Engineering", "Delivery")
    for index, manager in enumerate(managers):
        team = [u["id"] for u in members[index::3]]
        group_id = world.new_id()
        ws.groups[group_id] = {
            "id": group_id,
            "name": team_names[index] if index < 3 else f"Team {index}",
            "userIds": [manager["id"], *team],
            "teamManagerIds": [manager["id"]],
        }


def _seed_clients_projects(world: World, ws: Workspace, rng: random.Random) -> None:
    for name, address in CLIENTS:
        client_id = world.new_id()
        ws.clients[client_id] = {
            "id": client_id,
            "name": name,
            "address": address,
            "email": f"billing@{name.split()[0].lower()}.example",
            "archived": False,
            "note": "",
            "currencyCode": ws.currency,
        }
    client_ids = list(ws.clients)
    for index in range(12):
        client_id = client_ids[index % len(client_ids)]
        internal = index >= 10  # two internal, non-billable projects
        project_id = world.new_id()
        ws.projects[project_id] = {
            "id": project_id,
            "name": ("Internal " + ("ops", "training")[index - 10])
            if internal
            else f"{ws.clients[client_id]['name'].split()[0]} {PROJECT_KINDS[index % len(PROJECT_KINDS)]}",
            "clientId": None if internal else client_id,
            "billable": not internal,
            "hourlyRate": 0 if internal else rng.choice((8000, 9500, 11000, 12500, 15000)),
            "costRate": 0,
            "color": COLORS[index % len(COLORS)],
            "archived": False,
            "public": True,
            "note": "",
            "estimateHours": rng.choice((120, 200, 320, 480)),
        }


def _trackers(ws: Workspace) -> list[dict[str, Any]]:
    """Everyone who tracks time: all but the owner (inactive people tracked before they left)."""
    return [u for u in ws.users.values() if u["role"] != ROLE_OWNER]


def _seed_time(world: World, ws: Workspace, rng: random.Random, weeks: list[date], entries_total: int | None) -> None:
    projects = list(ws.projects.values())
    trackers = _trackers(ws)
    user_days = [
        (u, w + timedelta(days=d))
        for u in trackers
        for w in weeks
        for d in range(5)
        # Inactive people left halfway through the window; part-timers skip their day off.
        if not (u["status"] == "INACTIVE" and w >= weeks[4]) and WEEKDAYS[d] in u["workingDays"]
    ]
    for slot, (user, day) in enumerate(user_days):
        if entries_total is not None:
            # Exactly entries_total overall, spread evenly over the user-days.
            count = entries_total * (slot + 1) // len(user_days) - entries_total * slot // len(user_days)
        else:
            count = rng.choice((2, 2, 3, 3, 4))
        long_day = rng.random() < 0.06
        hours_total = rng.uniform(10.5, 12) if long_day else rng.uniform(6.5, 8.5)
        cursor = 8.0 + rng.choice((0, 0.5, 1))
        home = rng.sample(projects[:10], 2)
        for part in range(count):
            length = hours_total / count
            if rng.random() < 0.08:
                project = None  # forgot to pick a project
            elif rng.random() < 0.12:
                project = projects[10 + rng.randrange(2)]
            else:
                project = home[part % 2]
            start = cursor
            # Now and then an entry overlaps the previous one (a timer left running).
            if part and rng.random() < 0.03:
                start -= 0.5
            world.add_time_entry(
                ws.id,
                user["id"],
                at(day, start),
                at(day, start + length),
                project_id=project["id"] if project else None,
                description=rng.choice(DESCRIPTIONS),
                billable=bool(project and project["billable"] and rng.random() > 0.1),
                emit=False,
            )
            cursor = start + length + rng.choice((0, 0.25, 0.5))


def _seed_approvals(world: World, ws: Workspace, rng: random.Random, weeks: list[date], target: int | None) -> None:
    active = [u for u in _trackers(ws) if u["status"] == "ACTIVE"]
    approvers = [u for u in ws.users.values() if u["role"] in (ROLE_OWNER, ROLE_ADMIN)]
    last_week = weeks[-1]
    earlier = weeks[:-1]
    made = 0
    # Last closed week: all but three people submitted and wait for a decision (a bulk approve of 30+).
    missing_last = {u["id"] for u in active[-3:]}
    for user in active:
        if user["id"] in missing_last or (target is not None and made >= target):
            continue
        world.submit_approval(ws.id, user["id"], at(last_week, 0), "WEEKLY", emit=False)
        made += 1
    # Earlier weeks: mostly approved, with every other state represented and some gaps.
    states = ["APPROVED"] * 12 + ["PENDING", "REJECTED", "WITHDRAWN_SUBMISSION", "WITHDRAWN_APPROVAL", "MISSING"]
    for week in reversed(earlier):
        for user in _trackers(ws):
            if target is not None and made >= target:
                return
            if user["status"] == "INACTIVE" and week >= weeks[4]:
                continue
            state = rng.choice(states)
            if state == "MISSING":
                continue
            request = world.submit_approval(ws.id, user["id"], at(week, 0), "WEEKLY", emit=False)
            made += 1
            approver = rng.choice(approvers)["id"]
            if state == "APPROVED" or state == "WITHDRAWN_APPROVAL":
                world.decide_approval(ws.id, request["id"], "APPROVED", None, by_user_id=approver, emit=False)
            if state == "WITHDRAWN_APPROVAL":
                world.decide_approval(
                    ws.id, request["id"], "WITHDRAWN_APPROVAL", "Reopened to fix hours", by_user_id=approver, emit=False
                )
            elif state == "REJECTED":
                world.decide_approval(
                    ws.id, request["id"], "REJECTED", "Missing project on Tuesday", by_user_id=approver, emit=False
                )
            elif state == "WITHDRAWN_SUBMISSION":
                world.decide_approval(ws.id, request["id"], "WITHDRAWN_SUBMISSION", None, emit=False)
            # Seeded decisions happened a few days after the week ended, not at seed time.
            request["updatedAt"] = at(week + timedelta(days=8), 10 + rng.random() * 6)
            request["createdAt"] = at(week + timedelta(days=7), 9)


def _seed_schedule(world: World, ws: Workspace, rng: random.Random, weeks: list[date], today: date) -> None:
    projects = [p for p in ws.projects.values() if p["billable"]]
    this_monday = monday_of(today)
    future = [this_monday + timedelta(days=7 * i) for i in range(4)]
    people = [u for u in ws.users.values() if u["status"] == "ACTIVE" and u["role"] != ROLE_OWNER]
    if len(people) > 60:
        people = people[:60]  # a large workspace schedules a slice; enough for totals and heatmaps
    for index, user in enumerate(people):
        capacity = duration_hours(user["workCapacity"])
        # Every fourth person is over-booked (>107%), every fifth under-booked; the rest about full.
        plan: tuple[float, ...]
        if index % 4 == 0:
            plan = (capacity * 0.7, capacity * 0.45)
        elif index % 5 == 0:
            plan = (capacity * 0.5,)
        else:
            plan = (capacity * 0.6, capacity * 0.4)
        chosen = rng.sample(projects, len(plan))
        for week in [*weeks[-4:], *future]:
            for project, hours in zip(chosen, plan, strict=True):
                world.create_assignment(
                    ws.id,
                    user["id"],
                    project["id"],
                    week,
                    week + timedelta(days=4),
                    round(hours * 2) / 2,
                    published=week <= this_monday,
                    emit=False,
                )


def _seed_time_off(world: World, ws: Workspace, rng: random.Random, weeks: list[date], today: date) -> None:
    this_monday = monday_of(today)
    for name, day in (("Founders' Day", weeks[2] + timedelta(days=2)), ("Winter Break", this_monday + timedelta(14))):
        holiday_id = world.new_id()
        ws.holidays[holiday_id] = {
            "id": holiday_id,
            "name": name,
            "start": day,
            "end": day,
            "everyoneIncludingNew": True,
            "userIds": list(ws.users),
            "userGroupIds": [],
            "occursAnnually": True,
        }
    people = [u for u in ws.users.values() if u["status"] == "ACTIVE" and u["role"] != ROLE_OWNER]
    statuses = ("APPROVED", "APPROVED", "PENDING", "REJECTED")
    for index, user in enumerate(people[: max(6, len(people) // 5)]):
        start_day = (weeks[-2] if index % 2 else this_monday + timedelta(days=7)) + timedelta(days=index % 4)
        days = 1 + index % 3
        request_id = world.new_id()
        ws.time_off[request_id] = {
            "id": request_id,
            "userId": user["id"],
            "policyId": "5f00000000000000000000aa",
            "policyName": "Vacation",
            "start": at(start_day, 0),
            "end": at(start_day + timedelta(days=days - 1), 23.99),
            "days": days,
            "halfDay": False,
            "note": "Family trip" if index % 2 else "",
            "status": statuses[index % len(statuses)],
            "createdAt": at(start_day - timedelta(days=20), 9),
            "changedBy": None,
        }


def _seed_invoices(world: World, ws: Workspace, rng: random.Random, weeks: list[date], today: date) -> None:
    owner = next(u for u in ws.users.values() if u["role"] == ROLE_OWNER)
    clients = list(ws.clients.values())
    plan = ("PAID", "PAID", "PARTIALLY_PAID", "SENT", "OVERDUE", "UNSENT", "VOID", "SENT")
    number = 1000
    for index, status in enumerate(plan):
        client = clients[index % len(clients)]
        number += 1
        issued = at(weeks[min(index, len(weeks) - 1)] + timedelta(days=7), 9)
        due = issued + timedelta(days=30)
        if status == "OVERDUE":
            issued = at(weeks[0], 9)
            due = issued + timedelta(days=14)
        billed = _bill_entries(ws, client["id"], weeks[index % 3], limit=6)
        hours = sum((e["end"] - e["start"]).total_seconds() for e in billed) / 3600 or 10.0
        rate = next((p["hourlyRate"] for p in ws.projects.values() if p["clientId"] == client["id"]), 10000)
        quantity = round(hours, 2)
        items = [
            {
                "order": 1,
                "description": f"Services, week of {weeks[index % 3].isoformat()}",
                "quantity": round(quantity * 100),
                # unitPrice is minor units x100 on the live API (docs/clockify.md#quirk-2).
                "unitPrice": rate * 100,
                "amount": round(quantity * rate),
                "itemType": "Service",
                "timeEntryIds": [e["id"] for e in billed],
            }
        ]
        invoice = world.create_invoice(
            ws.id,
            client["id"],
            str(number),
            ws.currency,
            issued,
            due,
            by_user_id=owner["id"],
            items=items,
            emit=False,
        )
        invoice["taxPercent"] = (0.0, 10.0, 20.0)[index % 3]
        invoice["subject"] = f"Invoice {number}"
        invoice["note"] = "Thank you for your business."
        for entry in billed:
            entry["invoiced"] = True
        amount = invoice_amount(invoice)
        if status in ("SENT", "OVERDUE", "VOID"):
            invoice["status"] = status
        elif status == "PAID":
            world.add_payment(ws.id, invoice["id"], amount, due - timedelta(days=3), "Bank transfer", emit=False)
        elif status == "PARTIALLY_PAID":
            world.add_payment(ws.id, invoice["id"], amount // 3, due - timedelta(days=10), "First part", emit=False)


def invoice_amount(invoice: dict[str, Any]) -> int:
    return invoice_totals(invoice)["amount"]


def _bill_entries(ws: Workspace, client_id: str, week: date, limit: int) -> list[dict[str, Any]]:
    project_ids = {p["id"] for p in ws.projects.values() if p["clientId"] == client_id}
    start, end = at(week, 0), at(week + timedelta(days=7), 0)
    found = []
    for entry in ws.time_entries.values():
        billable = entry["projectId"] in project_ids and entry["billable"] and not entry["invoiced"]
        if billable and start <= entry["start"] < end and entry["isLocked"]:
            found.append(entry)
            if len(found) >= limit:
                break
    return found


def default_invoice_settings() -> dict[str, Any]:
    return {
        "defaults": {
            "companyId": None,
            "dueDays": 30,
            "itemType": "Service",
            "notes": "Thank you for your business.",
            "subject": "Invoice",
            "tax": 0,
            "tax2": 0,
            "taxPercent": 0.0,
            "tax2Percent": 0.0,
            "taxType": "SIMPLE",
        },
        "exportFields": {
            "itemType": True,
            "quantity": True,
            "rtl": False,
            "tax": True,
            "tax2": False,
            "unitPrice": True,
        },
        "labels": {
            "amount": "Amount",
            "billFrom": "Bill from",
            "billTo": "Bill to",
            "description": "Description",
            "discount": "Discount",
            "dueDate": "Due date",
            "issueDate": "Issue date",
            "itemType": "Item type",
            "notes": "Notes",
            "paid": "Paid",
            "quantity": "Quantity",
            "subtotal": "Subtotal",
            "tax": "Tax",
            "tax2": "Tax 2",
            "total": "Total",
            "totalAmount": "Total amount",
            "unitPrice": "Unit price",
        },
    }


def _seed_expenses(world: World, ws: Workspace, rng: random.Random, weeks: list[date]) -> None:
    """A few expenses a week on client projects (travel, hotels, licences), most of them billable."""
    projects = [p for p in ws.projects.values() if p["clientId"] and p["billable"]]
    people = _trackers(ws)[::4]
    for week in weeks:
        for user in people:
            if rng.random() < 0.5:
                continue
            category, amount = rng.choice((("Travel", 4200), ("Hotel", 12900), ("Licence", 2599), ("Meals", 1850)))
            world.add_expense(
                ws.id,
                user["id"],
                rng.choice(projects)["id"],
                at(week + timedelta(days=rng.randrange(5)), 12),
                amount,
                billable=rng.random() > 0.15,
                category=category,
            )
