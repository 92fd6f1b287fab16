"""Each warehouse table as a Parquet file, for DuckDB (or any Parquet reader).

jsonb columns are written as JSON text (DuckDB reads them with its json functions), times as
timestamps with a time zone.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from cdp.warehouse.tables import ALL_TABLES, define

_TYPES = {
    sa.Text: pa.string(),
    sa.BigInteger: pa.int64(),
    sa.Float: pa.float64(),
    sa.Boolean: pa.bool_(),
}


def _arrow_type(column: sa.Column) -> pa.DataType:
    if isinstance(column.type, JSONB):
        return pa.string()
    if isinstance(column.type, sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    for kind, arrow in _TYPES.items():
        if isinstance(column.type, kind):
            return arrow
    return pa.string()


def export_parquet(engine: sa.Engine, schema: str, directory: Path) -> dict[str, int]:
    """Write <directory>/<table>.parquet for every table; returns the rows written per table."""
    directory.mkdir(parents=True, exist_ok=True)
    md = define(schema)
    written = {}
    with engine.connect() as conn:
        for name in ALL_TABLES:
            table = md.tables[f"{schema}.{name}"]
            fields = [pa.field(c.name, _arrow_type(c)) for c in table.columns]
            json_columns = {c.name for c in table.columns if isinstance(c.type, JSONB)}
            columns: dict[str, list] = {c.name: [] for c in table.columns}
            for row in conn.execute(sa.select(table)).mappings():
                for key, value in row.items():
                    as_json = key in json_columns and value is not None
                    columns[key].append(orjson.dumps(value).decode() if as_json else value)
            arrow = pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in fields}, schema=pa.schema(fields))
            # Written beside and renamed: a reader never sees half a file.
            partial = directory / f".{name}.parquet.partial"
            pq.write_table(arrow, partial)
            partial.replace(directory / f"{name}.parquet")
            written[name] = arrow.num_rows
    return written
