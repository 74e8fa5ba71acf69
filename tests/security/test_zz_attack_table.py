"""The attack suite's one table, printed after every category ran (pytest runs this module last here)."""

from __future__ import annotations

from .attack import RESULTS


def test_zz_the_table(capsys):
    """One table of every category (printed even when a category failed above)."""
    lines = [f"{'category':<32} {'cases':>6} {'correct':>8} {'accepted wrongly':>17} {'5xx':>5} {'rows left':>10}"]
    for name, tally in RESULTS.items():
        lines.append(
            f"{name:<32} {tally.cases:>6} {tally.refused:>8} {len(tally.accepted_wrongly):>17} "
            f"{len(tally.server_errors):>5} {len(tally.rows_left):>10}"
        )
    with capsys.disabled():
        print("\n[security] attack suite\n" + "\n".join(f"[security] {line}" for line in lines))
    assert all(not t.accepted_wrongly and not t.server_errors and not t.rows_left for t in RESULTS.values())
