"""Opening the approvals tab on the large sandbox workspace (500 users), Clockify 100 ms away per call.

Closeout runs in this process on SQLite; the sandbox (SANDBOX_SIZE=large) in a child process, with a
fault rule adding 100 ms to every API and reports call. Figures: wall time of a first open (empty
mirror) and of a repeat open, each next to its floor — the same Clockify calls (from the sandbox's
request log) issued directly, one after another, on one keep-alive session — and the SQL statements
each open ran.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import sqlalchemy as sa

from bench.client import SandboxProcess
from bench.closeout_app import running_closeout

LATENCY_MS = 100
TARGET_RATIO = 1.3


def _floor(sandbox: SandboxProcess, calls: list[dict[str, Any]], token: str) -> float:
    """Seconds to issue `calls` directly, in order, on one keep-alive session."""
    session = requests.Session()
    session.headers["X-Addon-Token"] = token
    started = time.perf_counter()
    for call in calls:
        body = call.get("body") if isinstance(call.get("body"), dict | list) else None
        session.request(call["method"], sandbox.url + call["path"], params=call["query"], json=body, timeout=120)
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def _open(app: Any, url: str, token: str) -> tuple[float, int, int]:
    """(seconds, SQL statements, status) of one open of the tab."""
    from addon.extensions import db

    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        response = requests.get(f"{url}/components/approvals", params={"auth_token": token}, timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return elapsed, statements[0], response.status_code


def main() -> bool:
    sandbox = SandboxProcess("large", bare=True)
    try:
        with running_closeout(sandbox) as (app, url):
            workspace = sandbox.facts["workspace_id"]
            sandbox.control("POST", "/install", {"workspaceId": workspace, "addonUrl": url})
            for prefix in ("/api/*", "/reports/*"):
                sandbox.control("POST", "/faults", {"pattern": prefix, "latencyMs": LATENCY_MS})
            token = sandbox.control("POST", "/tokens/user", {"role": "OWNER"})["token"]
            figures = []
            for name in ("first open", "repeat open"):
                sandbox.control("DELETE", "/requests")
                elapsed, statements, status = _open(app, url, token)
                calls = sandbox.log()
                floor = _floor(sandbox, calls, token) if calls else 0.0
                figures.append((name, elapsed, statements, status, len(calls), floor))
    finally:
        sandbox.stop()

    print(
        f"(a) the approvals tab of the large workspace ({len(sandbox.facts['users'])} users), "
        f"{LATENCY_MS} ms added to every Clockify call"
    )
    ok = True
    for name, elapsed, statements, status, calls, floor in figures:
        ratio = elapsed / floor if floor else 0.0
        floor_text = f"floor {floor:.2f}s ({calls} Clockify calls issued directly), {ratio:.2f} x the floor"
        if not calls:
            floor_text = "floor 0 s: no Clockify call made while the viewer waited"
        print(f"    {name}: {elapsed:.2f}s, HTTP {status}, {statements} SQL statements; {floor_text}")
        ok &= status == 200
    first = figures[0]
    ok &= first[5] > 0 and first[1] <= TARGET_RATIO * first[5]
    print(f"    target first open ≤ {TARGET_RATIO} x its floor: {'met' if ok else 'NOT met'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
