"""The sandbox in its own process for the benchmarks, so its threads never share the client's interpreter lock.

Prints one JSON line (url, token, workspace id, prepared data), then serves until stdin closes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from sandbox import create_sandbox
from sandbox.lifecycle import new_id
from sandbox.state import AddonInstallation

ROOT = Path(__file__).resolve().parent.parent
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


def install(state: Any, workspace_id: str) -> str:
    """Closeout's installation as INSTALLED leaves it, without running Closeout."""
    scopes = set(json.loads((ROOT / "manifest.json").read_text()).get("scopes") or [])
    with state.world.lock:
        owner = state.user_id_for_role(workspace_id, "OWNER")
        addon_id = new_id()
        token = str(state.signer.installation_token(workspace_id, addon_id, owner, state.urls))
        state.world.installations[workspace_id] = AddonInstallation(
            workspace_id=workspace_id,
            addon_id=addon_id,
            addon_url="http://127.0.0.1:9/closeout",
            installation_token=token,
            scopes=scopes,
        )
    return token


def fresh_pending(state: Any, workspace_id: str, count: int, *, emit: bool = False) -> list[str]:
    """Submit `count` new weekly requests in past weeks nobody submitted, and return their ids (`emit`: with
    their NEW_APPROVAL_REQUEST webhooks)."""
    world = state.world
    ws = world.workspace(workspace_id)
    users = [u["id"] for u in ws.users.values() if u.get("status", "ACTIVE") == "ACTIVE"]
    first = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday
    first += timedelta(days=WEEKDAYS.index(str(ws.settings.get("weekStart", "MONDAY"))))
    taken = {(a["userId"], a["start"]) for a in ws.approvals.values()}
    ids: list[str] = []
    week = 0
    while len(ids) < count:
        start = first + timedelta(weeks=week)
        for user_id in users:
            if len(ids) < count and (user_id, start) not in taken:
                ids.append(world.submit_approval(workspace_id, user_id, start, emit=emit)["id"])
        week += 1
    return ids


def main() -> None:
    size, pending = sys.argv[1], int(sys.argv[2])
    # "bare": no installation made here; the benchmark installs a running Closeout through the control API.
    bare = sys.argv[3:] == ["bare"]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="closeout-bench-") as tmp:
        # SANDBOX_PRIVATE_KEY: sign with the caller's key, so it can mint tokens for workspaces of its own.
        key = os.environ.get("SANDBOX_PRIVATE_KEY") or None
        app = create_sandbox(
            {"SANDBOX_INSTANCE": tmp, "SANDBOX_SIZE": size, "SANDBOX_RATE_LIMIT": 50, "SANDBOX_PRIVATE_KEY": key}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        state = app.extensions["sandbox"]
        state.config["SANDBOX_BASE_URL"] = url
        workspace_id = state.demo_workspace_id
        token = None if bare else install(state, workspace_id)
        ws = state.world.workspace(workspace_id)
        starts = [e["start"] for e in ws.time_entries.values() if e.get("start")]
        facts = {
            "url": url,
            "backend_url": state.backend_url,
            "reports_url": state.reports_url,
            "token": token,
            "public_pem": state.signer.public_pem,
            "workspace_id": workspace_id,
            "pending": [fresh_pending(state, workspace_id, pending) for _ in range(3)] if pending else [],
            "entries": len(ws.time_entries),
            "approvals": len(ws.approvals),
            "users": list(ws.users),
            "first_start": min(starts).isoformat() if starts else None,
            "last_start": max(starts).isoformat() if starts else None,
        }
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        print(json.dumps(facts), flush=True)
        sys.stdin.read()  # the parent closes stdin when it is done
        server.shutdown()


if __name__ == "__main__":
    main()
