"""Webhook intake under load: 5,000 deliveries against gunicorn on PostgreSQL and Redis, a worker killed mid-run.

Figures: every distinct event processed exactly once (counted by a benchmark-only handler that writes
one row per processing), the final state of every object correct despite out-of-order deliveries,
intake p50/p99 latency and throughput, and that throughput as a ratio of a bare Flask endpoint
served by the same gunicorn configuration and driven by the same load process.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("CLOSEOUT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CLOSEOUT_BENCH_REDIS", "redis://127.0.0.1:6379/0")

DELIVERIES = 5_000
DUPLICATE_SHARE = 0.20
OUT_OF_ORDER_SHARE = 0.05
CLIENT_THREADS = int(os.environ.get("BENCH_CLIENT_THREADS", "8"))
GUNICORN_WORKERS = 2
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
WORKER_THREADS = 4
KILL_AFTER_SHARE = 0.4  # the worker is killed once this share of distinct events is stored
LEASE_SECONDS = 5
DRAIN_TIMEOUT = 300

WORKSPACE_ID = "bench-ws-0001"
ADDON_ID = "bench-addon-0001"
ADDON_KEY = "closeout"
CREATED, UPDATED = "NEW_APPROVAL_REQUEST", "APPROVAL_REQUEST_STATUS_UPDATED"
PATHS = {CREATED: "/webhooks/new-approval-request", UPDATED: "/webhooks/approval-request-status-updated"}


# --- the plan: which deliveries, in which order -------------------------------------------------------


def _body(n: int, state: str, at: str) -> dict[str, Any]:
    return {
        "id": f"req-{n:05d}",
        "workspaceId": WORKSPACE_ID,
        "dateRange": {"start": "2026-10-26T00:00:00Z", "end": "2026-11-01T23:59:59Z"},
        "owner": {"userId": f"user-{n % 50}", "userName": f"User {n % 50}", "timezone": "UTC", "startOfWeek": "MONDAY"},
        "creator": {"userId": f"user-{n % 50}", "userName": f"User {n % 50}", "userEmail": "u@example.test"},
        "status": {
            "state": state,
            "updatedBy": "user-admin",
            "updatedByUserName": "Admin",
            "updatedAt": at,
            "note": "",
        },
    }


def _at(hour: int, n: int) -> str:
    return f"2026-11-02T{hour:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


def make_plan(seed: int = 5) -> tuple[list[tuple[str, bytes]], dict[str, int]]:
    """5,000 deliveries: each request created (PENDING) then approved; 5% swapped, 20% duplicates."""
    rng = random.Random(seed)
    total_distinct = round(DELIVERIES * (1 - DUPLICATE_SHARE))
    entities = total_distinct // 2
    created = [(CREATED, _body(n, "PENDING", _at(8, n))) for n in range(entities)]
    approved = [(UPDATED, _body(n, "APPROVED", _at(10, n))) for n in range(entities)]
    # Natural order: each approval a little after its creation.
    order: list[tuple[str, dict[str, Any]]] = []
    lag = 20
    for n in range(entities + lag):
        if n < entities:
            order.append(created[n])
        if n >= lag:
            order.append(approved[n - lag])
    # Out of order: for 5% of deliveries, the approval arrives before the creation.
    swapped = rng.sample(range(entities), round(DELIVERIES * OUT_OF_ORDER_SHARE / 2))
    for n in swapped:
        i, j = order.index(created[n]), order.index(approved[n])
        order[i], order[j] = order[j], order[i]
    # Duplicates: redeliveries of random events, each some time after the original.
    deliveries = [(event, json.dumps(body).encode()) for event, body in order]
    for _ in range(DELIVERIES - len(deliveries)):
        k = rng.randrange(len(order))
        event, body = order[k]
        deliveries.insert(min(len(deliveries), k + rng.randrange(1, 400)), (event, json.dumps(body).encode()))
    return deliveries, {"entities": entities, "distinct": len(order), "swapped": len(swapped) * 2}


# --- the load process ----------------------------------------------------------------------------


def _load(port: int, plan: list[tuple[str, str, bytes]], headers: dict[str, dict[str, str]], out: Any) -> None:
    """Runs in its own process: send the plan in order from CLIENT_THREADS keep-alive connections."""
    latencies = [0.0] * len(plan)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    cursor = iter(range(len(plan)))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: Counter[int] = Counter()
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            event, path, body = plan[i]
            started = time.perf_counter()
            for attempt in range(2):
                try:
                    conn.request("POST", path, body=body, headers=headers[event])
                    response = conn.getresponse()
                    response.read()
                    break
                except (ConnectionError, http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    if attempt:
                        raise
            latencies[i] = time.perf_counter() - started
            local[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            statuses.update(local)

    threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
    machine_before, own_before = machine_ticks(), time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    total, idle = (after - before for after, before in zip(machine_ticks(), machine_before, strict=True))
    out.send(
        {
            "latencies": latencies,
            "statuses": dict(statuses),
            "wall": wall,
            "busy": 1 - idle / total if total else 0.0,
            "load_cpu": time.process_time() - own_before,
        }
    )
    out.close()


def machine_ticks() -> tuple[int, int]:
    """All CPU ticks of the machine and its idle ones (Linux /proc/stat), to tell a saturated run."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]  # idle + iowait


def run_load(port: int, plan: list[tuple[str, str, bytes]], headers: dict[str, dict[str, str]]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_load, args=(port, plan, headers, send), name="webhook-load")
    process.start()
    send.close()
    result = receive.recv()
    process.join()
    return dict(result)


def load_in_background(port: int, plan: list[Any], headers: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    holder: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: holder.update(run_load(port, plan, headers)), daemon=True)
    thread.start()
    return thread, holder


# --- processes under test --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(port: int, path: str = "/healthz", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log_file = log_path.open("ab")
    # A process group of its own, so a kill reaches gunicorn's workers or the consumer's threads at once.
    return subprocess.Popen(args, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def gunicorn(app_spec: str, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    args = [
        str(BIN / "gunicorn"),
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(GUNICORN_THREADS),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app_spec,
    ]
    return start(args, env, log_path)


def cpu_seconds(counted: Any) -> float:
    """CPU seconds used so far by the processes for which counted(pid, parent pid, name) is true (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                name, rest = stat.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue  # ended meanwhile
        fields = rest.split()
        if counted(int(entry), int(fields[1]), name):
            total += int(fields[11]) + int(fields[12])  # user and system time
    return total / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (gunicorn's master and workers)."""
    return cpu_seconds(lambda own, parent, _name: pid in (own, parent))


def service_cpu(command: str) -> float:
    """CPU seconds used so far by every process of that name (PostgreSQL's backends, Redis)."""
    return cpu_seconds(lambda _own, _parent, name: name == command or name.startswith(command + ":"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the run ---------------------------------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="closeout-bench-webhooks-"))
        self.db_name = f"closeout_bench_{uuid.uuid4().hex[:10]}"
        self.queue_name = f"closeout-bench-{uuid.uuid4().hex[:10]}"
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self.tmp / "clockify.pem").write_bytes(pem)
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.db_name
        self.processes: list[subprocess.Popen[bytes]] = []
        self.engine: sa.Engine | None = None
        self.keep_logs = True  # until the run has proved itself

    def token(self, **claims: Any) -> str:
        base = {"iss": "clockify", "sub": ADDON_KEY, "type": "addon", "workspaceId": WORKSPACE_ID, "addonId": ADDON_ID}
        return jwt.encode({**base, **claims}, self.private, algorithm="RS256")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "CLOSEOUT_EXTRA_CAPABILITIES")}
        env.update(
            DATABASE_URL=self.database_url,
            QUEUE_URL=REDIS_URL,
            SECRET_KEY="bench-" + self.queue_name,
            CLOCKIFY_PUBLIC_KEY=str(self.tmp / "clockify.pem"),
            ADDON_BASE_URL="http://127.0.0.1:9",
            ADDON_KEY=ADDON_KEY,
            # The fake Clockify of the benchmark, and no per-webhook limit: the run measures intake itself.
            CLOCKIFY_API_HOSTS="http://127.0.0.1:9",
            WEBHOOK_RATE_PER_SECOND="1000000",
            PYTHONPATH=str(ROOT),
        )
        return env

    @property
    def app_spec(self) -> str:
        overrides = {"QUEUE_NAME": self.queue_name, "INBOX_LEASE_SECONDS": LEASE_SECONDS, "INBOX_STALE_SECONDS": 10}
        return f"addon:create_app({overrides!r})"

    def setup_database(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
        migrate = subprocess.run(
            [str(BIN / "flask"), "--app", "addon", "db", "upgrade"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError("migrations failed: " + migrate.stderr[-500:])
        from bench.webhook_effects import CREATE_TABLE

        self.engine = sa.create_engine(self.database_url)
        with self.engine.begin() as conn:
            conn.execute(sa.text(CREATE_TABLE))

    def install(self, port: int) -> dict[str, str]:
        """INSTALLED over HTTP, with a token per webhook; returns event → that webhook's token."""
        tokens = {event: self.token(webhook=event) for event in PATHS}
        manifest = json.loads((ROOT / "manifest.json").read_text())
        hooks = [
            {
                "path": "http://127.0.0.1:9" + h["path"],
                "webhookType": "ADDON",
                "authToken": tokens.get(h["event"]) or self.token(webhook=h["event"]),
            }
            for h in manifest["webhooks"]
        ]
        body = {
            "addonId": ADDON_ID,
            "workspaceId": WORKSPACE_ID,
            "authToken": self.token(user="bench-owner", backendUrl="http://127.0.0.1:9/api"),
            # Nothing listens there: the ASSIGNMENT registration fails and waits for reconciliation.
            "apiUrl": "http://127.0.0.1:9/api",
            "asUser": "bench-owner",
            "webhooks": hooks,
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/lifecycle/installed",
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "X-Addon-Lifecycle-Token": self.token()},
        )
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"INSTALLED answered {response.status}: {response.read()[:300]!r}")
        return tokens

    def worker(self) -> subprocess.Popen[bytes]:
        env = dict(self.env, CLOSEOUT_EXTRA_CAPABILITIES="bench.webhook_effects")
        args = [str(BIN / "flask"), "--app", self.app_spec, "worker", "--workers", str(WORKER_THREADS)]
        process = start(args, env, self.tmp / "worker.log")
        self.processes.append(process)
        return process

    def scalar(self, sql: str) -> int:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    def commits(self) -> int:
        """Transactions committed in the bench database so far (intake writes autocommitted batches)."""
        return self.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")

    def status_counts(self) -> dict[str, int]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM inbox_events GROUP BY status")).all()
        return {str(s): int(n) for s, n in rows}

    def cleanup(self) -> None:
        for process in self.processes:
            stop(process, signal.SIGKILL)
        if self.engine is not None:
            self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin.dispose()
        try:
            from huey import RedisHuey

            RedisHuey(self.queue_name, url=REDIS_URL).flush()
        except Exception as exc:
            print(f"   (could not empty the bench queue: {type(exc).__name__})")
        if self.keep_logs:
            print(f"   (server and worker logs kept in {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def pooled_rate(results: list[dict[str, Any]]) -> float:
    """Requests per second over several load runs taken together."""
    return sum(len([v for v in r["latencies"] if v > 0]) for r in results) / sum(r["wall"] for r in results)


def figures(result: dict[str, Any]) -> tuple[float, float, float]:
    latencies = [v for v in result["latencies"] if v > 0]
    return len(latencies) / result["wall"], percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


# The shared machine's speed drifts within seconds (the bare endpoint alone ranged 1,700-3,200/s in one
# run), so the two are measured in many short rounds whose order flips every round (intake first, then
# bare first: a drift favours neither), and the ratio is taken over all requests of all rounds.
RATIO_ROUNDS = 8
RATIO_REQUESTS = 1_000


def ratio_plan(round_no: int) -> list[tuple[str, str, bytes]]:
    """Fresh, distinct events for a ratio round (so intake does its full work: verify, insert, enqueue)."""
    base = 100_000 * (round_no + 1)
    return [
        (CREATED, PATHS[CREATED], json.dumps(_body(base + n, "PENDING", _at(9, n))).encode())
        for n in range(RATIO_REQUESTS)
    ]


def main() -> bool:
    deliveries, shape = make_plan()
    run = Run()
    try:
        run.setup_database()
        port = free_port()
        server = gunicorn(run.app_spec, port, run.env, run.tmp / "gunicorn.log")
        run.processes.append(server)
        wait_http(port)
        tokens = run.install(port)
        headers = {
            event: {
                "Content-Type": "application/json",
                "Clockify-Signature": tokens[event],
                "Clockify-Webhook-Event-Type": event,
            }
            for event in PATHS
        }
        plan = [(event, PATHS[event], body) for event, body in deliveries]
        worker = run.worker()

        # 1. Exactly once: load from a separate process; SIGKILL the worker once 40% of events are stored.
        load_thread, intake = load_in_background(port, plan, headers)
        kill_at = shape["distinct"] * KILL_AFTER_SHARE
        while run.scalar("SELECT count(*) FROM inbox_events") < kill_at and load_thread.is_alive():
            time.sleep(0.05)
        at_kill = run.status_counts()
        stop(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        # Restart once the dead worker's claims are past their lease, so its start-up sweep recovers them.
        while time.monotonic() - killed_at < LEASE_SECONDS + 1:
            time.sleep(0.1)
        worker = run.worker()
        load_thread.join()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        drained = False
        while time.monotonic() < deadline and not drained:
            counts = run.status_counts()
            drained = sum(counts.values()) == sum(counts.get(s, 0) for s in ("done", "dead", "skipped"))
            time.sleep(0.25)
        stop(worker)

        counts = run.status_counts()
        effects = run.scalar("SELECT count(*) FROM bench_effects")
        distinct_effects = run.scalar("SELECT count(DISTINCT inbox_id) FROM bench_effects")
        twice = run.scalar(
            "SELECT count(*) FROM (SELECT inbox_id FROM bench_effects GROUP BY inbox_id HAVING count(*) > 1) t"
        )
        approved = run.scalar(
            "SELECT count(*) FROM entity_versions WHERE entity_type = 'bench_request' AND state = 'APPROVED'"
        )
        mirrored = (
            run.scalar("SELECT count(*) FROM approval_requests WHERE state = 'APPROVED'")
            if _has_table(run, "approval_requests")
            else None
        )

        # 2. Intake against a bare endpoint: same gunicorn settings, same load process, short rounds in
        # flipping order (see RATIO_ROUNDS); worker stopped.
        bare_port = free_port()
        bare = gunicorn("bench.bare:app", bare_port, run.env, run.tmp / "bare.log")
        run.processes.append(bare)
        wait_http(bare_port)
        rounds = []
        web_cpu = {"intake": 0.0, "bare": 0.0, "load": 0.0, "postgres": 0.0, "redis-server": 0.0}
        servers = {"intake": (server, port), "bare": (bare, bare_port)}
        commits_before = run.commits()
        for n in range(RATIO_ROUNDS):
            round_plan = ratio_plan(n)
            results = {}
            for kind in ("intake", "bare") if n % 2 == 0 else ("bare", "intake"):
                process, kind_port = servers[kind]
                before = process_tree_cpu(process.pid)
                services = {name: service_cpu(name) for name in ("postgres", "redis-server")}
                results[kind] = run_load(kind_port, round_plan, headers)
                web_cpu[kind] += process_tree_cpu(process.pid) - before
                web_cpu["load"] += results[kind]["load_cpu"]
                if kind == "intake":
                    for name, used in services.items():
                        web_cpu[name] += service_cpu(name) - used
            rounds.append((results["intake"], results["bare"]))
        commits = run.commits() - commits_before
        sent = RATIO_ROUNDS * RATIO_REQUESTS
        stop(bare)
        stop(server)

        stored = sum(counts.values())
        rate, p50, p99 = figures(intake)
        ok = (
            drained
            and stored == shape["distinct"]
            and counts.get("done", 0) == stored
            and effects == distinct_effects == shape["distinct"]
            and twice == 0
            and approved == shape["entities"]
        )
        out = [
            f"deliveries sent:        {len(plan)}: {shape['distinct']} distinct events on {shape['entities']} "
            f"approval requests, {len(plan) - shape['distinct']} duplicates, {shape['swapped']} out of order",
            f"intake answers:         {dict(sorted(intake['statuses'].items()))} (202 accepted, 200 duplicate)",
            f"worker SIGKILLed at:    {sum(at_kill.values())} events stored, {at_kill.get('processing', 0)} of them "
            f"mid-processing; restarted {LEASE_SECONDS + 1}s later (claim lease {LEASE_SECONDS}s)",
            f"inbox rows:             {stored} (expected {shape['distinct']}), "
            f"by status {dict(sorted(counts.items()))}",
            f"handler effects:        {effects} rows for {distinct_effects} events: processed twice {twice}, "
            f"lost {shape['distinct'] - distinct_effects}",
            f"final state:            {approved}/{shape['entities']} requests APPROVED, none regressed by a late "
            "PENDING" + (f" (approvals mirror: {mirrored} APPROVED)" if mirrored is not None else ""),
            f"exactly once:           {'yes' if ok else 'NO'}" + ("" if drained else " (did not drain in time)"),
            f"intake during that run: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {rate:.0f} deliveries/s "
            "(worker processing on the same 2 cores)",
        ]
        for n, (ours, theirs) in enumerate(rounds, 1):
            (o_rate, o_p50, o_p99), (b_rate, b_p50, b_p99) = figures(ours), figures(theirs)
            out.append(
                f"ratio round {n}:          intake {o_rate:.0f}/s (p50 {o_p50:.1f} ms, p99 {o_p99:.1f} ms, "
                f"answers {ours['statuses']}, CPUs {ours['busy']:.0%} busy) vs "
                f"bare {b_rate:.0f}/s (p50 {b_p50:.1f} ms, p99 {b_p99:.1f} ms, CPUs {theirs['busy']:.0%} busy) "
                f"= {o_rate / b_rate:.2f}" + ("" if n % 2 else " (bare first)")
            )
        intake_rate, bare_rate = pooled_rate([r[0] for r in rounds]), pooled_rate([r[1] for r in rounds])
        single = sorted(figures(ours)[0] / figures(theirs)[0] for ours, theirs in rounds)
        intake_ms, bare_ms = (web_cpu[k] / sent * 1000 for k in ("intake", "bare"))
        out += [
            f"intake / bare:          {intake_rate / bare_rate:.2f}: {intake_rate:.0f}/s against {bare_rate:.0f}/s "
            f"over all {RATIO_ROUNDS} rounds (single rounds {single[0]:.2f} to {single[-1]:.2f}); target >= 0.5",
            f"web server CPU:         intake {intake_ms:.2f} ms per delivery, bare {bare_ms:.2f} ms "
            f"(= {bare_ms / intake_ms:.2f}), load process {web_cpu['load'] / sent / 2 * 1000:.2f} ms per request; "
            f"{sent / commits:.1f} deliveries per database commit"
            if commits
            else "web server CPU:         not measured",
            f"services CPU:           PostgreSQL {web_cpu['postgres'] / sent * 1000:.2f} ms, Redis "
            f"{web_cpu['redis-server'] / sent * 1000:.2f} ms per intake delivery (all their processes)",
            f"setup:                  gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads (gthread), "
            f"PostgreSQL, Redis queue, worker {WORKER_THREADS} threads; load from a separate process over "
            f"{CLIENT_THREADS} keep-alive connections; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        ]
        for line in out:
            print("   " + line)
        run.keep_logs = not ok
        return ok
    finally:
        run.cleanup()


def _has_table(run: Run, name: str) -> bool:
    assert run.engine is not None
    return name in sa.inspect(run.engine).get_table_names()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
