"""Clockify client benchmarks against the sandbox: pacing at the limit, exactly-once under 5xx, calls per read."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from addon.clockify import PAGE_SIZES, ClockifyClient, LocalLimiter, pacing_for

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 50
PATCHES = 1_000
WORKERS = 16


class SandboxProcess:
    """The sandbox in a child process (its own interpreter lock, like a remote Clockify) on a free port."""

    def __init__(self, size: str, pending: int = 0, env: dict[str, str] | None = None, *, bare: bool = False) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sandbox_server", size, str(pending), *(["bare"] if bare else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the sandbox process did not start")
        self.facts: dict[str, Any] = json.loads(line)
        self.url = str(self.facts["url"])

    def client(self, **options: Any) -> ClockifyClient:
        options.setdefault("limiter", LocalLimiter(*pacing_for(LIMIT)))
        f = self.facts
        return ClockifyClient(f["backend_url"], f["reports_url"], f["token"], f["workspace_id"], **options)

    def control(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/__sandbox{path}", json=body, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def log(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.control("GET", "/requests", params=filters))

    def stop(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()


def _approve_all(run: SandboxProcess, ids: list[str]) -> tuple[float, ClockifyClient, list[Any]]:
    client = run.client(max_retries=6)
    run.control("DELETE", "/requests")
    started = time.perf_counter()
    results = client.bulk(
        lambda rid: client.update_approval_request(rid, "APPROVED", "Closed by Closeout"), ids, workers=WORKERS
    )
    return time.perf_counter() - started, client, results


def max_in_any_second(entries: list[dict[str, Any]]) -> int:
    stamps = sorted(datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() for e in entries)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def bench_pacing(run: SandboxProcess) -> bool:
    ids = run.facts["pending"][0]
    elapsed, client, results = _approve_all(run, ids)
    patches = [r for r in run.log(method="PATCH") if r["method"] == "PATCH"]
    too_many = sum(1 for r in patches if r["status"] == 429)
    failed = sum(1 for r in results if not r.ok)
    rate = len(patches) / elapsed
    print(
        f"(a) {PATCHES} approval PATCHes through client.bulk ({WORKERS} workers);"
        f" the sandbox allows {LIMIT} per rolling second"
    )
    print(
        f"    achieved {rate:.1f} req/s"
        f" = PATCHes in the sandbox's request log / wall time of the bulk run ({elapsed:.2f}s)"
    )
    print(
        f"    busiest rolling second at the sandbox: {max_in_any_second(patches)} requests (request log arrival times)"
    )
    print(
        f"    429 answers: {too_many} (request log; the client counted {client.stats.rate_limited});"
        f" failed items: {failed}"
    )
    client.close()
    ok = rate >= 45 and too_many == 0 and failed == 0
    print(f"    target ≥ 45 req/s with zero 429s: {'met' if ok else 'NOT met'}")
    return ok


def bench_exactly_once(run: SandboxProcess) -> bool:
    ids = run.facts["pending"][1]
    rule = {
        "pattern": "/api/v1/workspaces/*/approval-requests/*",
        "methods": ["PATCH"],
        "errorRate": 0.10,
        "errorStatus": 503,
        "seed": 7,
    }
    run.control("POST", "/faults", rule)
    elapsed, client, results = _approve_all(run, ids)
    run.control("DELETE", "/faults")
    patches = [r for r in run.log(method="PATCH") if r["method"] == "PATCH"]
    injected = sum(1 for r in patches if r["status"] == 503)
    applied = Counter(r["path"].rsplit("/", 1)[-1] for r in patches if r["status"] == 200)
    listed = {r.id for r in client.iter_approval_requests("APPROVED")}
    read_back = sum(1 for rid in ids if rid in listed)
    once = sum(1 for rid in ids if applied[rid] == 1)
    failed = sum(1 for r in results if not r.ok)
    print("(b) the same with 10% of PATCHes answered 503 by a seeded sandbox fault rule")
    print(f"    injected 503s: {injected}; client retries: {client.stats.retries}; failed items: {failed}")
    print(f"    applied exactly once: {once}/{PATCHES} (one PATCH answered 200 per request id in the request log)")
    print(f"    read back: {read_back}/{PATCHES} listed by GET approval-requests?status=APPROVED")
    print(
        f"    rate including retries: {len(patches) / elapsed:.1f} req/s over {elapsed:.2f}s; 429 answers: "
        f"{sum(1 for r in patches if r['status'] == 429)}"
    )
    client.close()
    ok = once == PATCHES and read_back == PATCHES and failed == 0
    print(f"    target every request applied exactly once: {'met' if ok else 'NOT met'}")
    return ok


def _approve_in_process(job: dict[str, Any]) -> tuple[int, int]:
    """One of the processes of (d): approve its share through a limiter shared in Redis."""
    import redis

    from addon.clockify import RedisLimiter

    connection = redis.Redis.from_url(job["redis_url"])
    limiter = RedisLimiter(connection, *pacing_for(LIMIT), prefix=job["prefix"])
    f = job["facts"]
    client = ClockifyClient(f["backend_url"], f["reports_url"], f["token"], f["workspace_id"], limiter=limiter)
    try:
        results = client.bulk(lambda rid: client.update_approval_request(rid, "APPROVED"), job["ids"], workers=WORKERS)
        return sum(1 for r in results if not r.ok), client.stats.rate_limited
    finally:
        client.close()
        connection.close()


def bench_two_processes(run: SandboxProcess) -> bool:
    import multiprocessing
    import uuid

    import redis

    redis_url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(redis_url).ping()
    except redis.RedisError:
        print("(d) skipped: no Redis on 127.0.0.1:6379")
        return True
    ids = run.facts["pending"][2]
    prefix = f"bench:{uuid.uuid4().hex}:"
    jobs = [{"redis_url": redis_url, "prefix": prefix, "facts": run.facts, "ids": ids[i::2]} for i in range(2)]
    run.control("DELETE", "/requests")
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        outcomes = pool.map(_approve_in_process, jobs)
    elapsed = time.perf_counter() - started
    patches = [r for r in run.log(method="PATCH") if r["method"] == "PATCH"]
    too_many = sum(1 for r in patches if r["status"] == 429)
    failed = sum(o[0] for o in outcomes)
    stamps = sorted(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in patches)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else elapsed
    rate = (len(patches) - 1) / span if span else 0.0
    print(
        f"(d) {len(ids)} approval PATCHes split over two processes sharing one limiter in Redis"
        f" ({WORKERS} workers each)"
    )
    print(
        f"    combined {rate:.1f} req/s over {span:.2f}s"
        f" (request log: PATCHes / first-to-last arrival; {elapsed:.1f}s with process start-up)"
    )
    print(
        f"    busiest rolling second at the sandbox: {max_in_any_second(patches)}; 429 answers: {too_many};"
        f" failed items: {failed}"
    )
    ok = too_many == 0 and failed == 0 and max_in_any_second(patches) <= LIMIT
    print(f"    target together ≤ {LIMIT} req/s with zero 429s: {'met' if ok else 'NOT met'}")
    return ok


def bench_reading(run: SandboxProcess) -> bool:
    client = run.client()
    f = run.facts
    ok = True
    print(
        f"(c) reading the large workspace ({f['entries']} time entries, {f['approvals']} approval requests, "
        f"{len(f['users'])} users); calls counted in the sandbox's request log"
    )

    run.control("DELETE", "/requests")
    approvals = sum(1 for _ in client.iter_approval_requests())
    calls = len([r for r in run.log() if r["path"].endswith("/approval-requests")])
    size = PAGE_SIZES["default"]
    minimum = max(1, math.ceil(approvals / size))
    print(
        f"    approval requests: {approvals} read in {calls} calls; minimum at page size {size}: {minimum} "
        f"(+{calls - minimum}: a full last page needs one empty page to confirm the end, no total is sent)"
    )
    ok &= approvals == f["approvals"] and calls <= minimum + 1

    start = datetime.fromisoformat(f["first_start"])
    end = datetime.fromisoformat(f["last_start"]) + timedelta(days=1)
    run.control("DELETE", "/requests")
    read = sum(1 for _ in client.iter_detailed_report(start, end))
    calls = len([r for r in run.log() if r["path"].endswith("/reports/detailed")])
    size = PAGE_SIZES["detailed_report"]
    minimum = max(1, math.ceil(read / size))
    print(
        f"    time entries, detailed report: {read} read in {calls} calls; minimum at page size {size}: {minimum} "
        f"(+{calls - minimum}; paging stops on totals[0].entriesCount)"
    )
    ok &= read == f["entries"] and calls <= minimum + 1

    run.control("DELETE", "/requests")
    size = PAGE_SIZES["time_entries"]
    read, minimum, full_last_pages = 0, 0, 0
    for user_id in f["users"]:
        n = sum(1 for _ in client.iter_time_entries(user_id, start, end))
        read += n
        minimum += max(1, math.ceil(n / size))
        full_last_pages += 1 if n and n % size == 0 else 0
    calls = len([r for r in run.log() if r["path"].endswith("/time-entries")])
    print(
        f"    time entries, user by user: {read} read in {calls} calls; minimum at page size {size}: {minimum} "
        f"(+{calls - minimum}; users whose list ends on a full page: {full_last_pages})"
    )
    ok &= read == f["entries"] and calls <= minimum + full_last_pages
    client.close()
    print(f"    target calls = minimum, +1 at most per list: {'met' if ok else 'NOT met'}")
    return ok


def main() -> bool:
    # Retries are the point of (b); their log lines would bury the figures.
    logging.getLogger("addon.clockify").setLevel(logging.ERROR)
    ok = True
    run = SandboxProcess("demo", pending=PATCHES)
    try:
        ok &= bench_pacing(run)
        ok &= bench_exactly_once(run)
        ok &= bench_two_processes(run)
    finally:
        run.stop()
    run = SandboxProcess("large")
    try:
        ok &= bench_reading(run)
    finally:
        run.stop()
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
