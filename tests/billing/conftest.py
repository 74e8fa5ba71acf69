"""Fixtures for billing tests: Closeout installed on the sandbox's demo workspace, an admin's htmx calls, the
worker, and sums the tests compute themselves from the sandbox's raw entries."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from addon.jobs import jobs_for, start_consumer

TAB = "/components/invoices"


@pytest.fixture
def as_user(client: Any, user_token: Any, installed: Any) -> Callable[..., Any]:
    """as_user(role)(method, path, **kw): an htmx call to the Invoices action carrying that role's token."""

    def role(name: str = "OWNER", **token_options: Any) -> Any:
        token = user_token(name, **token_options)

        def call(method: str, path: str = "", **kwargs: Any) -> Any:
            headers = {"HX-Request": "true", "X-Addon-Token": token, **kwargs.pop("headers", {})}
            return client.open(TAB + path, method=method, headers=headers, **kwargs)

        call.token = token  # type: ignore[attr-defined]
        return call

    return role


@pytest.fixture
def worker(app: Any, installed: Any) -> Iterator[Any]:
    """Closeout's worker, as in production: invoice jobs run as the named huey task."""
    app.config["INVOICE_RETRY_SECONDS"] = 0.2
    consumer = start_consumer(app, workers=2, max_delay=0.1)
    yield consumer
    consumer.stop(graceful=True)
    jobs_for(app).huey.flush()


def poll(condition: Callable[[], Any], timeout: float = 20.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def attr(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


def rows(html: str) -> dict[str, dict[str, int]]:
    """Ready-to-bill rows by client id: seconds, amount and waiting seconds as the page carries them."""
    found = {}
    pattern = r'data-client-id="([^"]+)" data-seconds="(\d+)" data-amount="(\d+)" data-waiting-seconds="(\d+)"'
    for client_id, seconds, amount, waiting in re.findall(pattern, html):
        found[client_id] = {"seconds": int(seconds), "amount": int(amount), "waiting": int(waiting)}
    return found


class Raw:
    """The sandbox's own entries, read directly, and the figures billing must show (computed here)."""

    def __init__(self, sandbox: Any, workspace_id: str) -> None:
        self.sandbox = sandbox
        self.workspace_id = workspace_id

    def space(self) -> Any:
        return self.sandbox.world.workspaces[self.workspace_id]

    def client_of(self, entry: dict[str, Any]) -> str | None:
        project = self.space().projects.get(entry["projectId"] or "")
        return project["clientId"] if project else None

    def approved(self, entry: dict[str, Any]) -> bool:
        request = self.space().approvals.get(entry["approvalRequestId"] or "")
        return bool(request and request["state"] == "APPROVED")

    def seconds(self, entry: dict[str, Any]) -> int:
        return int((entry["end"] - entry["start"]).total_seconds())

    def amount(self, entry: dict[str, Any]) -> int:
        space = self.space()
        project = space.projects.get(entry["projectId"] or "")
        rate = int(project["hourlyRate"]) if project and project["hourlyRate"] else 0
        if not rate:
            rate = int(space.users.get(entry["userId"], {}).get("hourlyRate", 0))
        return round(self.seconds(entry) / 3600 * rate)

    def billable(self, *, approved: bool = True) -> list[dict[str, Any]]:
        with self.sandbox.world.lock:
            return [
                dict(e)
                for e in self.space().time_entries.values()
                if e["end"] is not None
                and e["billable"]
                and not e["invoiced"]
                and self.client_of(e)
                and self.approved(e) == approved
            ]

    def by_client(self, *, approved: bool = True) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for e in self.billable(approved=approved):
            row = out.setdefault(self.client_of(e) or "", {"seconds": 0, "amount": 0, "entries": 0})
            row["seconds"] += self.seconds(e)
            row["amount"] += self.amount(e)
            row["entries"] += 1
        return out

    def expenses_by_client(self, *, approved: bool = True) -> dict[str, int]:
        """Billable, uninvoiced expense amounts per client, approved (or not) by a request covering their day."""
        out: dict[str, int] = {}
        with self.sandbox.world.lock:
            space = self.space()
            for e in space.expenses.values():
                project = space.projects.get(e["projectId"] or "")
                covered = any(
                    a["userId"] == e["userId"] and a["state"] == "APPROVED" and a["start"] <= e["date"] < a["end"]
                    for a in space.approvals.values()
                )
                if e["billable"] and not e["invoiced"] and project and project["clientId"] and covered == approved:
                    out[project["clientId"]] = out.get(project["clientId"], 0) + e["amount"]
        return out

    def entry(self, entry_id: str) -> dict[str, Any]:
        with self.sandbox.world.lock:
            return dict(self.space().time_entries[entry_id])

    def invoices(self) -> list[dict[str, Any]]:
        with self.sandbox.world.lock:
            return [dict(i) for i in self.space().invoices.values()]


@pytest.fixture
def raw(sandbox: Any, installed: Any) -> Raw:
    return Raw(sandbox, installed.workspace_id)
