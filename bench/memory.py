"""Web-process memory over repeated reinstalls: per-process caches must not keep what DELETED removed.

Closeout runs in this process (its own SQLite file, a real HTTP server on a free port); the sandbox runs
in a child process, so what tracemalloc counts here is Closeout's. Each cycle is what a workspace that
reinstalls goes through: INSTALLED, the approvals tab opened (users, groups, scheduled totals, a Clockify
session and verified tokens cached), then DELETED.
"""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import requests

from bench.client import SandboxProcess
from bench.closeout_app import running_closeout

CYCLES = 40
WARM_UP = 10
# Allowed growth per reinstall once warm (allocator noise, SQLAlchemy's bounded statement cache filling).
TARGET_KB = 20.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> bool:
    sandbox = SandboxProcess("demo", bare=True)
    try:
        with running_closeout(sandbox) as (_, url):
            workspace = sandbox.facts["workspace_id"]
            http = requests.Session()

            def cycle() -> None:
                sandbox.control("POST", "/install", {"workspaceId": workspace, "addonUrl": url})
                token = sandbox.control("POST", "/tokens/user", {"role": "OWNER"})["token"]
                page = http.get(f"{url}/components/approvals", params={"auth_token": token}, timeout=60)
                assert page.status_code == 200, page.status_code
                sandbox.control("POST", "/uninstall", {"workspaceId": workspace})
                sandbox.control("DELETE", "/requests")

            tracemalloc.start()
            sizes: list[int] = []
            rss: list[float] = []
            for _ in range(CYCLES):
                cycle()
                gc.collect()
                sizes.append(tracemalloc.get_traced_memory()[0])
                rss.append(_rss_mb())
            tracemalloc.stop()
            http.close()
    finally:
        sandbox.stop()

    warm = sizes[WARM_UP - 1]
    per_cycle_kb = (sizes[-1] - warm) / (CYCLES - WARM_UP) / 1024
    print(f"(a) {CYCLES} reinstalls of the demo workspace (INSTALLED, approvals tab opened, DELETED) in one process")
    print(
        f"    Python heap (tracemalloc, after gc): {sizes[0] / 1e6:.2f} MB after the first, {warm / 1e6:.2f} MB after"
        f" {WARM_UP}, {sizes[-1] / 1e6:.2f} MB after {CYCLES}"
    )
    print(f"    growth per reinstall once warm: {per_cycle_kb:.1f} KB (cycles {WARM_UP}→{CYCLES})")
    print(f"    process RSS: {rss[0]:.1f} MB → {rss[WARM_UP - 1]:.1f} MB → {rss[-1]:.1f} MB")
    ok = per_cycle_kb <= TARGET_KB
    print(f"    target ≤ {TARGET_KB:.0f} KB per reinstall: {'met' if ok else 'NOT met'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
