"""Shared fixtures: store configurations for SQLite and the real PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest

from cdp.platform.config import StoreConfig

POSTGRES_DSN = os.environ.get("CDP_TEST_POSTGRES", "")
REQUIRE_POSTGRES = os.environ.get("CDP_REQUIRE_POSTGRES", "") not in ("", "0")
HOW_TO = (
    "PostgreSQL tests need a server: set CDP_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test "
    "(CI sets it, and fails rather than skips without it)"
)


def postgres_dsn() -> str:
    if not POSTGRES_DSN:
        if REQUIRE_POSTGRES:
            pytest.fail(HOW_TO)
        pytest.skip(HOW_TO)
    return POSTGRES_DSN


def drop_schemas(dsn: str, prefix: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (prefix + "%",)
            )
        ]
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_config(request, tmp_path):
    """A fresh store configuration, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield StoreConfig(kind="sqlite", data_dir=tmp_path / "data")
        return
    dsn = postgres_dsn()
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    yield StoreConfig(kind="postgres", data_dir=tmp_path / "data", postgres_dsn=dsn, schema_prefix=prefix)
    drop_schemas(dsn, prefix)
