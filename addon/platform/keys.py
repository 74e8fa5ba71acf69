"""Key rotation: every stored ciphertext re-sealed with the current SECRET_KEY, while the app keeps running.

Stored secrets are the columns named `*_ciphertext` of every table (tokens, lifecycle bodies), found on the
metadata so a capability's new table is rotated without a change here. A table holding `token_ciphertext`
with `token_digest` (webhook subscriptions) gets the digest recomputed under the new key in the same
statement. Each row is updated only if it still holds what was read: a value a running process wrote
meanwhile is already sealed with the current key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from ..crypto import DecryptionError, decrypt, digest, reseal
from ..extensions import db

CIPHERTEXT_SUFFIX = "_ciphertext"


@dataclass(frozen=True)
class SealedColumn:
    table: sa.Table
    column: sa.Column[str]
    digest_column: sa.Column[str] | None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def sealed_columns() -> list[SealedColumn]:
    """Every column that holds an encrypted value, with the digest column that goes with it, if any."""
    found: list[SealedColumn] = []
    for table in db.metadata.sorted_tables:
        for column in table.c:
            if column.name.endswith(CIPHERTEXT_SUFFIX):
                digest_column = table.c.get("token_digest") if column.name == "token_ciphertext" else None
                found.append(SealedColumn(table, column, digest_column))
    return found


def _rows(sealed: SealedColumn, batch: int) -> Iterator[list[tuple[int, str]]]:
    (pk,) = sealed.table.primary_key.columns
    last: int | None = None
    while True:
        query = sa.select(pk, sealed.column).where(sealed.column.is_not(None)).order_by(pk).limit(batch)
        if last is not None:
            query = query.where(pk > last)
        rows = [(int(row[0]), str(row[1])) for row in db.session.execute(query).all()]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rotate(ring: tuple[str, ...], batch: int = 500) -> tuple[Counter[str], Counter[str]]:
    """Re-seal every stored value with ring[0], committing per batch; (re-sealed, unreadable) per column."""
    resealed: Counter[str] = Counter()
    unreadable: Counter[str] = Counter()
    for sealed in sealed_columns():
        (pk,) = sealed.table.primary_key.columns
        for rows in _rows(sealed, batch):
            for row_id, old in rows:
                try:
                    new = reseal(old, ring)
                except DecryptionError:
                    unreadable[sealed.name] += 1
                    continue
                if new is None:
                    continue
                values = {sealed.column.name: new}
                if sealed.digest_column is not None:
                    values[sealed.digest_column.name] = digest(decrypt(new, ring[0]), ring[0])
                result = db.session.execute(
                    sa.update(sealed.table).where(pk == row_id, sealed.column == old).values(values)
                )
                resealed[sealed.name] += getattr(result, "rowcount", 0) or 0
            db.session.commit()
    return resealed, unreadable


def pending(ring: tuple[str, ...], batch: int = 500) -> Counter[str]:
    """Stored values the current key alone cannot open yet (what rotation still has to do), per column."""
    left: Counter[str] = Counter()
    for sealed in sealed_columns():
        for rows in _rows(sealed, batch):
            for _, value in rows:
                try:
                    decrypt(value, ring[0])
                except DecryptionError:
                    left[sealed.name] += 1
    return left
