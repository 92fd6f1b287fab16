"""Bounds on what callers' names add to the quality read model.

The names of events, properties and fields are the callers', and a client's write key is public:
without a bound, invented names grow the tables, and every listing of them, by a row each. A
group (a source's kinds of violation, its events, an event's properties) holds at most its limit
of rows; a new name past it is counted under OTHER instead. Rows already stored always count as
themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

OTHER = "(other)"
_CHUNK = 500  # keys an IN list names


def past_limit(
    conn: sa.Connection, group: sa.ColumnElement[bool], key: sa.Column, new: Sequence[str], limit: int
) -> set[str]:
    """Of the keys of a page's rows of one group (group: the condition selecting its stored rows,
    on an indexed column), those that would take the group past limit rows."""
    table = key.table
    stored = conn.execute(sa.select(sa.func.count()).select_from(table).where(group)).scalar_one()
    if stored + len(new) <= limit:
        return set()  # the common case: one indexed count
    known: set[str] = set()
    keys = list(dict.fromkeys(new))
    for start in range(0, len(keys), _CHUNK):
        known.update(conn.execute(sa.select(key).where(key.in_(keys[start : start + _CHUNK]))).scalars())
    room = limit - stored
    out: set[str] = set()
    for k in keys:
        if k in known:
            continue
        if room > 0:
            room -= 1
        else:
            out.add(k)
    return out
