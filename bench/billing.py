"""Billing against the sandbox with 100 ms added to every Clockify call: calls to open the tab and to bill one
client (demo and large workspace) beside the minimum the page sizes allow, and billing 2,000 approved entries.

Closeout runs as in production (its views over HTTP, the invoice job as the worker runs it) on a temporary
SQLite database; the sandbox is installed with the real INSTALLED call. Every count comes from the sandbox's
request log; nothing here is asserted, only printed.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from flask import Flask
from flask_migrate import upgrade

from addon import create_app
from addon.billing import invoicing
from addon.billing.models import InvoiceJob
from addon.clockify import PAGE_SIZES
from addon.extensions import db
from addon.platform.clients import clients_for
from addon.tokens import verifier_for
from bench.client import max_in_any_second
from sandbox import create_sandbox
from tests.live import LiveServer

LATENCY_MS = 100
TAB = "/components/invoices"
BIG_INVOICE = 2_000
RATE_LIMIT = 50  # the sandbox's per-add-on, per-workspace limit per rolling second


class Stack:
    """The sandbox and Closeout, each on a loopback port, Closeout installed on the seeded workspace."""

    def __init__(self, size: str, tmp: str) -> None:
        self.sandbox_app = create_sandbox({"SANDBOX_INSTANCE": tmp, "SANDBOX_SIZE": size})
        self.sandbox_server = LiveServer(self.sandbox_app).start()
        self.state = self.sandbox_app.extensions["sandbox"]
        self.state.config["SANDBOX_BASE_URL"] = self.sandbox_server.url
        self.app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp}/closeout-{size}.sqlite3",
                "QUEUE_URL": f"sqlite:///{tmp}/queue-{size}.sqlite3",
                "SECRET_KEY": "bench-secret-key",
                "CLOCKIFY_PUBLIC_KEY": self.state.signer.public_pem,
            }
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)
        with self.app.app_context():
            upgrade()
        self.closeout = LiveServer(self.app).start()
        self.app.config.update(ADDON_BASE_URL=self.closeout.url, FRAME_ANCESTORS=self.sandbox_server.url)
        self.state.config["ADDON_URL"] = self.closeout.url
        self.workspace_id = self.state.demo_workspace_id
        self.control("POST", "/install", {"workspaceId": self.workspace_id})
        self.state.deliverer.drain(10)

    def control(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        url = f"{self.sandbox_server.url}/__sandbox{path}"
        response = requests.request(method, url, json=body, timeout=120, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def token(self) -> str:
        return str(self.control("POST", "/tokens/user", {"role": "OWNER"})["token"])

    def calls(self) -> list[dict[str, Any]]:
        return [r for r in self.control("GET", "/requests") if r["path"].startswith(("/api/", "/reports/"))]

    def stop(self) -> None:
        self.state.deliverer.drain(5)
        self.closeout.stop()
        self.sandbox_server.stop()


@contextmanager
def latency(stack: Stack) -> Iterator[None]:
    """Every Clockify call (API and reports) answered LATENCY_MS later, as a remote Clockify would."""
    for prefix in ("/api/", "/reports/"):
        stack.control("POST", "/faults", {"pattern": prefix, "latencyMs": LATENCY_MS})
    try:
        yield
    finally:
        stack.control("DELETE", "/faults")


def _tab(stack: Stack, token: str, path: str = "", method: str = "GET", **kwargs: Any) -> requests.Response:
    headers = {"X-Addon-Token": token, "HX-Request": "true"}
    response = requests.request(method, f"{stack.closeout.url}{TAB}{path}", headers=headers, timeout=600, **kwargs)
    response.raise_for_status()
    return response


def _summary(calls: list[dict[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for c in calls:
        key = f"{c['method']} {re.sub(r'/[0-9a-f]{24}', '/{id}', c['path'])}"
        kinds[key] = kinds.get(key, 0) + 1
    return "; ".join(f"{n} x {k}" for k, n in sorted(kinds.items()))


def _pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def _facts(stack: Stack) -> dict[str, int]:
    """What the page sizes allow for: approved billable uninvoiced entries, clients, invoices, expenses."""
    space = stack.state.world.workspaces[stack.workspace_id]
    with stack.state.world.lock:
        approved = [
            e
            for e in space.time_entries.values()
            if e["end"] is not None
            and e["billable"]
            and not e["invoiced"]
            and (space.approvals.get(e["approvalRequestId"] or "") or {}).get("state") == "APPROVED"
        ]
        return {
            "approved": len(approved),
            "clients": len(space.clients),
            "invoices": len(space.invoices),
            "expenses": len(space.expenses),
        }


def open_tab(stack: Stack, label: str) -> None:
    facts = _facts(stack)
    token = stack.token()
    with latency(stack):
        for which in ("first", "again"):
            stack.control("DELETE", "/requests")
            started = time.perf_counter()
            _tab(stack, token)
            wall = time.perf_counter() - started
            calls = stack.calls()
            print(f"    {label}: open the tab ({which}): {len(calls)} calls, {wall:.2f}s — {_summary(calls)}")
    detailed = _pages(facts["approved"], PAGE_SIZES["detailed_report"])
    minimum = (
        detailed
        + 1
        + 2 * _pages(facts["expenses"], PAGE_SIZES["detailed_report"])
        + _pages(facts["clients"], PAGE_SIZES["default"])
    )
    print(
        f"      minimum when open again: {minimum} = {detailed} detailed-report page(s) for {facts['approved']} "
        f"approved entries at {PAGE_SIZES['detailed_report']} + 1 summary (waiting) + 2 expense-report pages "
        f"(approved, waiting) + {_pages(facts['clients'], PAGE_SIZES['default'])} client page(s); the first "
        f"opening adds the workspace and the viewer (cached after) and "
        f"{_pages(facts['invoices'], PAGE_SIZES['default'])} invoice page(s) to fill receivables"
    )


def _biggest_client(stack: Stack, token: str) -> tuple[str, int]:
    html = _tab(stack, token, "/ready").text
    found = re.findall(r'data-client-id="([^"]+)" data-seconds="\d+" data-amount="(\d+)"', html)
    client_id = max(found, key=lambda kv: int(kv[1]))[0]
    space = stack.state.world.workspaces[stack.workspace_id]
    with stack.state.world.lock:
        projects = {p["id"] for p in space.projects.values() if p["clientId"] == client_id}
        entries = sum(
            1
            for e in space.time_entries.values()
            if e["projectId"] in projects
            and e["end"] is not None
            and e["billable"]
            and not e["invoiced"]
            and (space.approvals.get(e["approvalRequestId"] or "") or {}).get("state") == "APPROVED"
        )
    return client_id, entries


def _run_job(app: Flask, job_id: int) -> str:
    """The invoice job as the worker's task runs it (retried on a RetryLater, as huey would)."""
    with app.app_context():
        try:
            for _ in range(10):
                try:
                    return invoicing.run_invoice_job(job_id, clients_for(app), verifier_for(app))
                except invoicing.RetryLater:
                    time.sleep(0.5)
            return "gave up"
        finally:
            db.session.remove()


def bill_client(stack: Stack, label: str, chosen: tuple[str, int] | None = None) -> None:
    """Preview, confirm and the job for one client (`chosen`: its id and approved entries; else the biggest)."""
    token = stack.token()
    client_id, entries = chosen or _biggest_client(stack, token)
    with latency(stack):
        stack.control("DELETE", "/requests")
        started = time.perf_counter()
        html = _tab(stack, token, f"/clients/{client_id}/preview").text
        digest = re.search(r'name="digest" value="([0-9a-f]+)"', html)
        assert digest, html[:500]
        form = {"digest": digest.group(1)}
        confirmed = _tab(stack, token, f"/clients/{client_id}/invoice", method="POST", data=form)
        job_id = int(re.search(r'data-invoice-job="(\d+)"', confirmed.text).group(1))  # type: ignore[union-attr]
        web = time.perf_counter() - started
        web_calls = stack.calls()
        outcome = _run_job(stack.app, job_id)
        wall = time.perf_counter() - started
        calls = stack.calls()
    with stack.app.app_context():
        job = db.session.get(InvoiceJob, job_id)
        lines = len(invoicing.job_lines(job)) if job else 0
        db.session.remove()
    marks = [c for c in calls if c["path"].endswith("/time-entries/invoiced")]
    print(
        f"    {label}: bill one client ({lines} approved entries; job {outcome}): {len(calls)} calls, {wall:.2f}s "
        f"(preview + confirm {len(web_calls)} calls, {web:.2f}s; the job {len(calls) - len(web_calls)} calls, "
        f"{wall - web:.2f}s) — {_summary(calls)}"
    )
    report = _pages(entries or lines, PAGE_SIZES["detailed_report"])
    mark = _pages(lines, invoicing.MARK_CHUNK)
    print(
        f"      minimum: {2 * (report + 1) + 4 + mark} = preview and confirm each {report} detailed-report page(s) "
        f"+ 1 client list (the confirm re-reads what it bills) + number lookup, create, read and update + {mark} "
        f"mark call(s) of {invoicing.MARK_CHUNK}; marking: {len(marks)} PATCHes, busiest rolling second "
        f"{max_in_any_second(calls)} calls (limit {RATE_LIMIT})"
    )


def make_big_invoice(stack: Stack) -> tuple[str, int]:
    """One client with exactly BIG_INVOICE approved, billable, uninvoiced entries (the sandbox's state is edited
    directly: entries of its projects are approved or set aside until the count is right)."""
    world = stack.state.world
    space = world.workspaces[stack.workspace_id]
    with world.lock:
        by_client: dict[str, list[dict[str, Any]]] = {}
        for entry in space.time_entries.values():
            project = space.projects.get(entry["projectId"] or "")
            if project and project["clientId"] and entry["end"] is not None and not entry["invoiced"]:
                by_client.setdefault(project["clientId"], []).append(entry)
        client_id, entries = max(by_client.items(), key=lambda kv: len(kv[1]))
        approved = next(a for a in space.approvals.values() if a["state"] == "APPROVED")
        for n, entry in enumerate(sorted(entries, key=lambda e: e["id"])):
            if n < BIG_INVOICE:
                entry.update(billable=True, approvalRequestId=approved["id"])
            else:
                entry["billable"] = False
    return client_id, min(BIG_INVOICE, len(entries))


def main() -> bool:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("addon").setLevel(logging.ERROR)
    print(f"Clockify calls counted in the sandbox's request log; every call delayed {LATENCY_MS} ms by a latency fault")
    for size in ("demo", "large"):
        with tempfile.TemporaryDirectory(prefix="closeout-bench-billing-") as tmp:
            stack = Stack(size, tmp)
            try:
                facts = _facts(stack)
                print(
                    f"  {size} workspace: {facts['approved']} approved billable uninvoiced entries, "
                    f"{facts['clients']} clients, {facts['invoices']} invoices, {facts['expenses']} expenses"
                )
                open_tab(stack, size)
                bill_client(stack, size)
                if size == "large":
                    big = make_big_invoice(stack)
                    bill_client(stack, f"{size}, a client with {big[1]} approved entries", big)
            finally:
                stack.stop()
    return True


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
