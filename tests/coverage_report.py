"""Line and branch coverage of addon/ per package, from the .coverage file `make test` leaves behind.

`python -m tests.coverage_report` prints a table per package, then the total; it exits 2 when the
combined figure is under `fail_under` in pyproject.toml.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import coverage


def package_of(path: str) -> str:
    """addon/approvals/views.py → addon.approvals; addon/jobs.py → addon (the top-level modules)."""
    parts = Path(path).parts
    index = parts.index("addon")
    inner = parts[index + 1 : -1]
    return ".".join(("addon", inner[0])) if inner else "addon"


def main() -> int:
    cov = coverage.Coverage()
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        report = json.loads(out.read_text())

    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path, data in report["files"].items():
        summary = data["summary"]
        row = sums[package_of(path)]
        row[0] += summary["num_statements"]
        row[1] += summary["covered_lines"]
        row[2] += summary["num_branches"]
        row[3] += summary["covered_branches"]

    def pct(done: int, total: int) -> str:
        return f"{100 * done / total:5.1f} %" if total else "    - "

    print(f"{'package':<20} {'lines':>7} {'line cov':>9} {'branches':>9} {'branch cov':>11}")
    for name in sorted(sums):
        lines, covered, branches, taken = sums[name]
        print(f"{name:<20} {lines:>7} {pct(covered, lines):>9} {branches:>9} {pct(taken, branches):>11}")
    totals = report["totals"]
    print(
        f"{'total':<20} {totals['num_statements']:>7} {pct(totals['covered_lines'], totals['num_statements']):>9} "
        f"{totals['num_branches']:>9} {pct(totals['covered_branches'], totals['num_branches']):>11}"
        f"   combined {totals['percent_covered']:.1f} %"
    )
    fail_under = float(cov.config.fail_under or 0)
    if totals["percent_covered"] < fail_under:
        print(f"coverage {totals['percent_covered']:.1f} % is under the floor of {fail_under} % (pyproject.toml)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
