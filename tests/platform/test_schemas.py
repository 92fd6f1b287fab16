"""Processes starting together on a new PostgreSQL database each make the schemas and tables they
need: whichever comes first makes them, and none of the others fails for it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from cdp.platform.schemas import create_tables, ensure_schema
from conftest import drop_schemas, postgres_dsn

pytestmark = pytest.mark.postgres
CREATORS = 8


def all_at_once(create: Callable[[], None]) -> list[BaseException]:
    """Run create in CREATORS threads released together; the errors they raised."""
    start, errors = threading.Barrier(CREATORS), []

    def run() -> None:
        start.wait()
        try:
            create()
        except BaseException as error:  # collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(CREATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture
def prefix():
    dsn, prefix = postgres_dsn(), f"s{uuid.uuid4().hex[:8]}_"
    yield prefix
    drop_schemas(dsn, prefix)


def test_creators_racing_for_one_new_schema_all_succeed(prefix):
    dsn = postgres_dsn()
    for round_ in range(5):  # the race is lost in some rounds only
        assert all_at_once(lambda r=round_: ensure_schema(dsn, f"{prefix}{r}")) == []


def test_creators_racing_for_new_tables_all_succeed(prefix):
    dsn = postgres_dsn()
    ensure_schema(dsn, prefix + "t")
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={prefix}t"})
    try:
        for round_ in range(5):
            metadata = sa.MetaData()
            sa.Table(f"rows_{round_}", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text))
            assert all_at_once(lambda m=metadata: create_tables(engine, m)) == []
            assert sa.inspect(engine).has_table(f"rows_{round_}")
    finally:
        engine.dispose()


def test_a_schema_that_cannot_be_made_is_still_an_error(prefix):
    import psycopg

    with pytest.raises(psycopg.Error):
        ensure_schema(postgres_dsn(), "pg_" + prefix)  # the pg_ prefix is the system's
