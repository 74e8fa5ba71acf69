"""The attack suite's tally: every category records its cases here, and test_zz_attack_table.py prints one table.

A case is refused correctly, accepted wrongly, or answered 5xx; rows left behind are counted on their own. Any
accepted-wrongly, 5xx or row left fails its category's test and the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask

from addon.extensions import db

REFUSALS = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429}


@dataclass
class Tally:
    cases: int = 0
    refused: int = 0
    accepted_wrongly: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    rows_left: list[str] = field(default_factory=list)


RESULTS: dict[str, Tally] = {}


def record(category: str, label: str, status: int, refused: bool, rows_changed: bool) -> None:
    tally = RESULTS.setdefault(category, Tally())
    tally.cases += 1
    if status >= 500:
        tally.server_errors.append(f"{label} -> {status}")
    elif not refused:
        tally.accepted_wrongly.append(f"{label} -> {status}")
    else:
        tally.refused += 1
    if rows_changed:
        tally.rows_left.append(label)


def check(category: str) -> None:
    tally = RESULTS[category]
    assert not tally.server_errors, tally.server_errors[:10]
    assert not tally.accepted_wrongly, tally.accepted_wrongly[:10]
    assert not tally.rows_left, tally.rows_left[:10]


def snapshot(app: Flask) -> dict[str, int]:
    """Rows per table: a refused request leaves every count as it was."""
    with app.app_context():
        counts = {
            table.name: int(db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
        return counts


def record_rows(category: str, before: dict[str, int], after: dict[str, int]) -> None:
    changed = [f"{name}: {before.get(name)} -> {count}" for name, count in after.items() if before.get(name) != count]
    if changed:
        RESULTS.setdefault(category, Tally()).rows_left.extend(changed)
