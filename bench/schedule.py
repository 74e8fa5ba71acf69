"""The schedule tab on the large sandbox workspace (500 people, 8 weeks) with 100 ms added to every Clockify call.

Prints the Clockify calls one render makes (and the formula they follow), the server time to render the tab cold
and warm, and the floor: the same calls issued directly, one after another, with nothing else done.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from addon import create_app
from addon.extensions import db
from sandbox import create_sandbox

ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 100
WEEKS = 8


def serve(size: str, key_path: str) -> None:
    """Child process: the sandbox with a key pair the parent chose, until stdin closes."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="closeout-bench-") as tmp:
        app = create_sandbox(
            {"SANDBOX_INSTANCE": tmp, "SANDBOX_SIZE": size, "SANDBOX_RATE_LIMIT": 50, "SANDBOX_PRIVATE_KEY": key_path}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        state = app.extensions["sandbox"]
        state.config["SANDBOX_BASE_URL"] = url
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(json.dumps({"url": url, "workspace_id": state.demo_workspace_id}), flush=True)
        sys.stdin.read()
        server.shutdown()


class Run:
    """The sandbox in a child process and Closeout in this one, installed through the real INSTALLED call."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="closeout-bench-schedule-")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_path = Path(self.tmp.name) / "key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.schedule", "serve", "large", str(key_path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        facts = json.loads(self.proc.stdout.readline())
        self.sandbox_url, self.workspace_id = facts["url"], facts["workspace_id"]

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{self.tmp.name}/closeout.sqlite3",
                "QUEUE_URL": f"sqlite:///{self.tmp.name}/queue.sqlite3",
                "SECRET_KEY": "bench-secret",
                "CLOCKIFY_PUBLIC_KEY": public.decode(),
            }
        )
        with self.app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            db.engine.dispose()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.addon_url = f"http://127.0.0.1:{self.server.server_port}"
        self.app.config["ADDON_BASE_URL"] = self.addon_url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        answer = self.control("POST", "/install", {"workspaceId": self.workspace_id, "addonUrl": self.addon_url})
        assert answer is not None

    def control(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.sandbox_url}/__sandbox{path}", json=body, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def user_token(self) -> str:
        return str(self.control("POST", "/tokens/user", {"role": "OWNER"})["token"])

    def installation_token(self) -> str:
        state = self.control("GET", "/state")
        found = next(i for i in state["installations"] if i.get("workspaceId") == self.workspace_id)
        return str(found.get("installationToken") or found.get("token") or "")

    def stop(self) -> None:
        self.server.shutdown()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.tmp.cleanup()


def _render(run: Run, token: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = requests.get(f"{run.addon_url}/components/schedule", params={"auth_token": token}, timeout=120)
    elapsed = time.perf_counter() - started
    return elapsed, response.status_code, response.text.count("data-user-id=")


PLAN_READS = (
    "/scheduling/assignments/user-filter",
    "/holidays",
    "/time-off/",
    "/scheduling/assignments/all",
    "/reports/",
)


def _send(run: Run, calls: list[dict[str, Any]], token: str) -> None:
    session = requests.Session()
    headers = {"X-Addon-Token": token, "Accept": "application/json"}
    for call in calls:
        body = call.get("body")
        session.request(
            call["method"],
            run.sandbox_url + call["path"],
            params=call.get("query") or None,
            json=body if body not in (None, "") else None,
            headers=headers,
            timeout=60,
        ).raise_for_status()
    session.close()


def _replay(run: Run, calls: list[dict[str, Any]], token: str, *, side_by_side: bool) -> float:
    """The same calls straight to the sandbox: one after another, or with the plan's five reads side by side as
    the render issues them (each read's pages still one after another)."""
    started = time.perf_counter()
    if not side_by_side:
        _send(run, calls, token)
        return time.perf_counter() - started
    streams = [[c for c in calls if kind in c["path"]] for kind in PLAN_READS]
    before = [c for c in calls if not any(kind in c["path"] for kind in PLAN_READS)]
    _send(run, before, token)
    threads = [threading.Thread(target=_send, args=(run, stream, token)) for stream in streams if stream]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def main() -> bool:
    logging.getLogger("addon").setLevel(logging.ERROR)
    run = Run()
    ok = True
    try:
        for pattern in ("/api/*", "/reports/*"):
            run.control("POST", "/faults", {"pattern": pattern, "latencyMs": LATENCY_MS})
        token = run.user_token()
        run.control("DELETE", "/requests")
        cold, status, cells = _render(run, token)
        calls = [c for c in run.control("GET", "/requests") if c["path"].startswith(("/api/", "/reports/"))]
        run.control("DELETE", "/requests")
        warm, status_warm, _ = _render(run, token)
        warm_calls = len(run.control("GET", "/requests"))
        people = cells // WEEKS
        by_path: dict[str, int] = {}
        for call in calls:
            tail = call["path"].split("/workspaces/")[-1]
            key = call["method"] + " " + (tail.split("/", 1)[1] if "/" in tail else "(workspace)")
            by_path[key] = by_path.get(key, 0) + 1
        floor = _replay(run, calls, token, side_by_side=False)
        floor_parallel = _replay(run, calls, token, side_by_side=True)
        print(f"(a) schedule tab, large workspace: {people} people x {WEEKS} weeks, +{LATENCY_MS} ms per Clockify call")
        print(f"    Clockify calls for a cold render: {len(calls)}")
        for key, count in sorted(by_path.items()):
            print(f"      {count:3d}  {key}")
        print(
            "    formula: 2*ceil(users/200) [users, totals] + 1 groups + 1 holidays + ceil(approved time off/200)"
            " + ceil(assignments/200) + ceil(entries/1000) + 3 cached facts (user, workspace, period probe);"
            f" for 500 users: {2 * math.ceil(500 / 200)} + ... (pages, never people or weeks)"
        )
        print(f"    cold render: {cold * 1000:.0f} ms (status {status})")
        print(f"    floor, the same calls issued directly one after another: {floor * 1000:.0f} ms")
        print(
            f"    floor, the same calls with the plan's five reads side by side, as the render sends them: "
            f"{floor_parallel * 1000:.0f} ms"
        )
        print(f"    warm render: {warm * 1000:.0f} ms (status {status_warm}, {warm_calls} Clockify calls)")
        ok = status == 200 and status_warm == 200 and people >= 400
    finally:
        run.stop()
    return ok


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(0 if main() else 1)
