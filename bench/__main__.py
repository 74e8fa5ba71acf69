"""`python -m bench` (and `make bench`): run every benchmark module and print its figures."""

from __future__ import annotations

import importlib
import sys
import time

# Each module has main() that prints its own figures, saying how each was measured.
MODULES = [
    "bench.client",
    "bench.webhooks",
    "bench.schedule",
    "bench.scale",
    "bench.memory",
    "bench.approvals_tab",
    "bench.billing",
]


def run(names: list[str]) -> int:
    failed = 0
    for name in names:
        module = importlib.import_module(name)
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            ok = module.main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            ok = False
        print(f"   ({time.perf_counter() - started:.1f}s)\n", flush=True)
        failed += 0 if ok is not False else 1
    return 1 if failed else 0


if __name__ == "__main__":
    wanted = sys.argv[1:]
    sys.exit(run([m for m in MODULES if not wanted or m.rsplit(".", 1)[-1] in wanted]))
