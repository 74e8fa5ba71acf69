"""Scale on the `make prod` stack (gunicorn 2 workers x 4 threads, 2 consumers, PostgreSQL, Redis) on this machine.

Figures, printed and never asserted:
1. webhook intake throughput, p50 and p99 with 1, 10 and 100 installed workspaces receiving at once
   (closed loop, 8 keep-alive connections from a separate process), and how fast the consumers drained it;
2. the approvals tab's p95 (page and queue fragment, a 500-person sandbox workspace) while webhooks
   arrive at 500 a second (open loop: sent on schedule, whatever the answers);
3. four processes calling Clockify for one workspace through one Redis-backed limiter at 50 req/s: the
   busiest rolling second the sandbox saw, and its 429s.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from huey import RedisHuey

from bench.client import SandboxProcess, max_in_any_second
from bench.webhooks import PG_ADMIN_URL, REDIS_URL, free_port, machine_ticks, percentile, run_load
from sandbox.prod import Stack
from sandbox.tokens import Signer

ROOT = Path(__file__).resolve().parent.parent
EVENT = "NEW_APPROVAL_REQUEST"
WORKSPACE_COUNTS = (1, 10, 100)
INTAKE_DELIVERIES = 2_000
PACED_RATE = 500
PACED_SECONDS = 20
PACED_THREADS = 64  # enough that a slow answer never holds back the schedule
UI_TAB = "/components/approvals"
LIMIT = 50
LIMITER_PROCESSES = 4
LIMITER_CALLS = 200  # per process
DRAIN_TIMEOUT = 180


def body(workspace_id: str, n: int) -> bytes:
    return json.dumps(
        {
            "id": f"scale-{uuid.uuid4().hex[:12]}-{n}",
            "workspaceId": workspace_id,
            "dateRange": {"start": "2026-10-26T00:00:00Z", "end": "2026-11-01T23:59:59Z"},
            "owner": {"userId": f"u-{n % 40}", "userName": "Someone", "timezone": "UTC", "startOfWeek": "MONDAY"},
            "status": {"state": "PENDING", "updatedBy": "u-0", "updatedAt": "2026-11-02T09:00:00Z", "note": ""},
        }
    ).encode()


def _paced(port: int, plan: list[tuple[str, str, bytes]], headers: dict[str, dict[str, str]], rate: float, out: Any):
    """Runs in its own process: send plan[i] at start + i/rate from a pool of keep-alive connections."""
    latencies = [0.0] * len(plan)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    cursor = iter(range(len(plan)))
    started = time.perf_counter() + 0.2

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: Counter[int] = Counter()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            key, path, payload = plan[i]
            sent = time.perf_counter()
            try:
                conn.request("POST", path, body=payload, headers=headers[key])
                response = conn.getresponse()
                response.read()
                local[response.status] += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                local[0] += 1
            latencies[i] = time.perf_counter() - sent
        with lock:
            statuses.update(local)

    threads = [threading.Thread(target=worker) for _ in range(PACED_THREADS)]
    before = machine_ticks()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    total, idle = (a - b for a, b in zip(machine_ticks(), before, strict=True))
    out.send({"latencies": latencies, "statuses": dict(statuses), "wall": wall, "busy": 1 - idle / total})
    out.close()


def run_paced(port: int, plan: list[Any], headers: dict[str, Any], rate: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_paced, args=(port, plan, headers, rate, send), name="paced-load")
    process.start()
    send.close()
    result = dict(receive.recv())
    process.join()
    return result


def _limited_calls(options: dict[str, Any]) -> int:
    """One of the four processes: GET workspace `count` times through the shared Redis limiter."""
    from addon.clockify import ClockifyClient, limiter_for

    limiter = limiter_for(LIMIT, options["redis_url"], prefix=options["prefix"])
    client = ClockifyClient(options["api_url"], None, options["token"], options["workspace_id"], limiter=limiter)
    try:
        for _ in range(options["count"]):
            client.get_workspace()
    finally:
        client.close()
    return options["count"]


class Scale:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="closeout-bench-scale-"))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        (self.tmp / "private.pem").write_text(pem)
        self.signer = Signer.from_pem(pem)
        (self.tmp / "public.pem").write_text(self.signer.public_pem)
        self.sandbox = SandboxProcess("large", env={**os.environ, "SANDBOX_PRIVATE_KEY": str(self.tmp / "private.pem")})
        facts = self.sandbox.facts
        self.demo = str(facts["workspace_id"])
        claims = jwt.decode(facts["token"], options={"verify_signature": False})
        self.demo_addon, self.owner = str(claims["addonId"]), str(claims["user"])
        self.urls = {"backendUrl": facts["backend_url"], "reportsUrl": facts["reports_url"]}
        self.db_name = f"closeout_bench_scale_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
        self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.db_name
        self.engine = sa.create_engine(self.database_url)
        self.queue_name = f"closeout-bench-scale-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.stack = Stack.build(
            self.port,
            {
                "DATABASE_URL": self.database_url,
                "QUEUE_URL": REDIS_URL,
                "QUEUE_NAME": self.queue_name,
                "REDIS_URL": REDIS_URL,
                "SECRET_KEY": "bench-scale-" + uuid.uuid4().hex,
                "CLOCKIFY_PUBLIC_KEY": str(self.tmp / "public.pem"),
                "CLOCKIFY_API_HOSTS": self.sandbox.url,
                "LOG_LEVEL": "WARNING",
            },
            log_dir=self.tmp / "logs",
        )
        self.webhook_tokens: dict[str, str] = {}
        self.keep_logs = True

    def install(self, workspace_id: str, addon_id: str, api_url: str) -> None:
        """INSTALLED as Clockify sends it, signed with the sandbox's key; the webhook token kept for the load."""
        manifest = json.loads((ROOT / "manifest.json").read_text())
        hooks = []
        for hook in manifest["webhooks"]:
            token = self.signer.webhook_token(workspace_id, addon_id, uuid.uuid4().hex[:24])
            hooks.append({"path": self.stack.url + hook["path"], "webhookType": "ADDON", "authToken": token})
            if hook["event"] == EVENT:
                self.webhook_tokens[workspace_id] = token
        urls = self.urls
        body = {
            "addonId": addon_id,
            "workspaceId": workspace_id,
            "authToken": self.signer.installation_token(workspace_id, addon_id, self.owner, urls),
            "apiUrl": api_url,
            "asUser": self.owner,
            "webhooks": hooks,
        }
        headers = {"X-Addon-Lifecycle-Token": self.signer.lifecycle_token(workspace_id, addon_id)}
        response = requests.post(self.stack.url + "/lifecycle/installed", json=body, headers=headers, timeout=30)
        response.raise_for_status()

    def headers(self) -> dict[str, dict[str, str]]:
        return {
            ws: {"Content-Type": "application/json", "Clockify-Signature": token, "Clockify-Webhook-Event-Type": EVENT}
            for ws, token in self.webhook_tokens.items()
        }

    def plan(self, workspaces: list[str], count: int) -> list[tuple[str, str, bytes]]:
        hooks = json.loads((ROOT / "manifest.json").read_text())["webhooks"]
        path = next(h["path"] for h in hooks if h["event"] == EVENT)
        return [(workspaces[n % len(workspaces)], path, body(workspaces[n % len(workspaces)], n)) for n in range(count)]

    def backlog(self) -> int:
        """Events not yet taken up (a failed one waits for its retry and is not counted)."""
        with self.engine.connect() as conn:
            sql = "SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')"
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    def statuses(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM inbox_events GROUP BY status")).all()
        return {str(s): int(n) for s, n in rows}

    def drain(self) -> float:
        started = time.perf_counter()
        while self.backlog() and time.perf_counter() - started < DRAIN_TIMEOUT:
            time.sleep(0.2)
        return time.perf_counter() - started

    def cleanup(self) -> None:
        self.stack.stop()
        self.sandbox.stop()
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin.dispose()
        RedisHuey(self.queue_name, url=REDIS_URL).flush()
        if self.keep_logs:
            print(f"   (logs kept in {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> bool:
    run = Scale()
    out: list[str] = []
    try:
        run.stack.start()
        run.install(run.demo, run.demo_addon, run.urls["backendUrl"])
        others = [f"scale-ws-{n:03d}" for n in range(1, max(WORKSPACE_COUNTS))]
        installed = [run.demo]
        # 1. Intake with 1, 10 and 100 installed workspaces receiving at once.
        for count in WORKSPACE_COUNTS:
            for workspace_id in others[: count - 1]:
                if workspace_id not in installed:
                    # The sandbox knows only its own workspace: Clockify calls for these are refused at once (403),
                    # as for a workspace whose plan lacks a feature, and never hold a consumer thread.
                    run.install(workspace_id, uuid.uuid4().hex[:24], run.urls["backendUrl"])
                    installed.append(workspace_id)
            run.drain()
            result = run_load(run.port, run.plan(installed[:count], INTAKE_DELIVERIES), run.headers())
            drained = run.drain() + result["wall"]
            latencies = [v for v in result["latencies"] if v > 0]
            accepted = result["statuses"].get(202, 0)
            out.append(
                f"intake, {count:>3} workspaces:  {len(latencies) / result['wall']:.0f} answers/s "
                f"({accepted / result['wall']:.0f}/s accepted; a token past WEBHOOK_RATE_PER_SECOND gets 429), "
                f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
                f"answers {result['statuses']}, CPUs {result['busy']:.0%} busy; all {accepted} accepted processed "
                f"{drained:.1f}s after the first was sent ({accepted / drained:.0f}/s end to end); "
                f"inbox so far {run.statuses()}"
            )
            print("   " + out[-1], flush=True)

        # 2. The approvals tab while 500 webhooks a second arrive (over all 100 workspaces).
        token = run.signer.user_token(run.demo, run.demo_addon, run.owner, "OWNER", run.urls)
        ui = {"X-Addon-Token": token}
        requests.get(run.stack.url + UI_TAB + "/queue", params={"refresh": "1"}, headers={**ui, "HX-Request": "true"})
        page_times: list[float] = []
        queue_times: list[float] = []
        statuses: Counter[int] = Counter()
        holder: dict[str, Any] = {}
        plan = run.plan(installed, PACED_RATE * PACED_SECONDS)
        load = threading.Thread(target=lambda: holder.update(run_paced(run.port, plan, run.headers(), PACED_RATE)))
        load.start()
        session = requests.Session()
        time.sleep(1.0)
        while load.is_alive():
            calls = ((page_times, UI_TAB, {}), (queue_times, UI_TAB + "/queue", {"HX-Request": "true"}))
            for times, path, extra in calls:
                started = time.perf_counter()
                response = session.get(run.stack.url + path, headers={**ui, **extra}, timeout=30)
                times.append(time.perf_counter() - started)
                statuses[response.status_code] += 1
            time.sleep(0.1)
        load.join()
        paced = holder
        sent = [v for v in paced["latencies"] if v > 0]
        out.append(
            f"tab under {PACED_RATE}/s webhooks: page p50 {percentile(page_times, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(page_times, 0.95) * 1000:.0f} ms ({len(page_times)} loads); queue fragment p50 "
            f"{percentile(queue_times, 0.5) * 1000:.0f} ms, p95 {percentile(queue_times, 0.95) * 1000:.0f} ms; "
            f"answers {dict(statuses)}; webhooks sent {len(sent) / paced['wall']:.0f}/s, their p99 "
            f"{percentile(sent, 0.99) * 1000:.0f} ms, answers {paced['statuses']}, CPUs {paced['busy']:.0%} busy"
        )
        print("   " + out[-1], flush=True)
        run.drain()

        # 3. Four processes, one workspace, one Redis limiter at 50 req/s.
        run.sandbox.control("DELETE", "/requests")
        options = {
            "redis_url": REDIS_URL,
            "prefix": f"bench-scale-{uuid.uuid4().hex[:8]}:",
            "api_url": run.urls["backendUrl"],
            "token": run.sandbox.facts["token"],
            "workspace_id": run.demo,
            "count": LIMITER_CALLS,
        }
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(LIMITER_PROCESSES) as pool:
            done = sum(pool.map(_limited_calls, [options] * LIMITER_PROCESSES))
        calls = [e for e in run.sandbox.log(method="GET") if e["path"] == f"/api/v1/workspaces/{run.demo}"]
        refused = sum(1 for e in calls if e["status"] == 429)
        stamps = sorted(datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() for e in calls)
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        out.append(
            f"shared limiter:         {LIMITER_PROCESSES} processes x {LIMITER_CALLS} calls for one workspace: "
            f"{done} done, {(len(stamps) - 1) / span if span else 0:.1f} req/s at the sandbox from first to last, "
            f"busiest rolling second {max_in_any_second(calls)} (limit {LIMIT}), 429 answers {refused}"
        )
        print("   " + out[-1], flush=True)
        out.append(
            f"setup:                  gunicorn {run.stack.web_workers} workers x 4 threads, "
            f"{run.stack.consumers} consumers x {run.stack.consumer_threads} threads, PostgreSQL, Redis, "
            "sandbox ('large' workspace) in its own process; "
            f"{os.cpu_count()} CPUs shared, load average {os.getloadavg()[0]:.1f}"
        )
        print("   " + out[-1], flush=True)
        run.keep_logs = False
        return True
    finally:
        run.cleanup()


if __name__ == "__main__":
    main()
