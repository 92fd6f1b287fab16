"""Batched upserts for aggregate rows, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    add: Sequence[str] = (),
    least: Sequence[str] = (),
    greatest: Sequence[str] = (),
    bits: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert rows; a row whose primary key exists is merged instead: `add` columns summed, `least`
    and `greatest` kept at their minimum and maximum, `bits` OR-ed, `replace` overwritten."""
    if not rows:
        return
    statement = _statement(
        conn.dialect.name, table, tuple(add), tuple(least), tuple(greatest), tuple(bits), tuple(replace)
    )
    conn.execute(statement, list(rows))


@functools.cache
def _statement(
    dialect: str,
    table: sa.Table,
    add: tuple[str, ...],
    least: tuple[str, ...],
    greatest: tuple[str, ...],
    bits: tuple[str, ...],
    replace: tuple[str, ...],
) -> Any:
    """Built once a shape: building it took longer than running it on a page of a few rows."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    merged: dict[str, Any] = {}
    merged.update({c: old[c] + new[c] for c in add})
    merged.update({c: sa.case((new[c] < old[c], new[c]), else_=old[c]) for c in least})
    merged.update({c: sa.case((new[c] > old[c], new[c]), else_=old[c]) for c in greatest})
    merged.update({c: old[c].op("|")(new[c]) for c in bits})
    merged.update({c: new[c] for c in replace})
    keys = [c.name for c in table.primary_key.columns]
    return stmt.on_conflict_do_update(index_elements=keys, set_=merged)
