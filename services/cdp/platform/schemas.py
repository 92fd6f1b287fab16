"""Schemas and tables made by whichever process comes first.

Services, replicas and read models start together on one new database and each makes what it
needs if it is not there. IF NOT EXISTS is no guard against another creator between the check and
the CREATE (PostgreSQL then reports a duplicate in its catalogue): a CREATE that failed because
another process made the thing meanwhile is no error.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError


def ensure_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
            exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if exists is None:
                raise


def create_tables(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Create the tables of metadata that do not exist."""
    for table in metadata.sorted_tables:
        try:
            table.create(engine, checkfirst=True)
        except DatabaseError:
            if not sa.inspect(engine).has_table(table.name):
                raise
