"""A lease on a job one process does for all: held by one at a time, taken over when its holder
releases it, dies or (PostgreSQL) loses its session; a leased projection is kept by its holder
alone. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2
from cdp.platform import lease as lease_module
from cdp.platform.lease import Lease
from cdp.platform.published import decode, stored
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.store import open_store

metadata = sa.MetaData()
seen = sa.Table("lease_seen", metadata, sa.Column("name", sa.String(20), primary_key=True))


def test_one_holder_at_a_time_and_the_next_takes_it_when_released(store_config):
    engine, other = open_engine(store_config, "lease"), open_engine(store_config, "lease")
    first, second = Lease(engine, "job"), Lease(other, "job")
    try:
        assert first.held()
        assert first.held(), "holding it again is no change"
        assert not second.held()
        assert Lease(other, "another-job").held(), "each name is its own lease"
        first.release()
        assert second.held()
        assert not first.held()
    finally:
        first.release()
        second.release()
        engine.dispose()
        other.dispose()


def test_a_dead_holders_lease_is_taken_over(store_config, tmp_path):
    """The lock goes with the process: one killed without releasing leaves it free."""
    ready = tmp_path / "held"
    holder = textwrap.dedent(
        f"""
        import pathlib, time
        from cdp.platform.config import StoreConfig
        from cdp.platform.lease import Lease
        from cdp.platform.readmodel import open_engine
        config = StoreConfig(kind={store_config.kind!r}, data_dir=pathlib.Path({str(store_config.data_dir)!r}),
                             postgres_dsn={store_config.postgres_dsn!r}, schema_prefix={store_config.schema_prefix!r})
        assert Lease(open_engine(config, "lease"), "job").held()
        pathlib.Path({str(ready)!r}).touch()
        time.sleep(60)
        """
    )
    engine = open_engine(store_config, "lease")
    mine = Lease(engine, "job")
    process = subprocess.Popen([sys.executable, "-c", holder])
    try:
        for _ in range(300):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "the holder took the lease"
        assert not mine.held()
        process.kill()
        process.wait()
        for _ in range(100):  # PostgreSQL ends the session when it sees the socket closed
            if mine.held():
                break
            time.sleep(0.05)
        assert mine.held()
    finally:
        process.kill()
        mine.release()
        engine.dispose()


def test_a_postgres_holder_that_lost_its_session_takes_the_lease_again(store_config, monkeypatch):
    if store_config.kind != "postgres":
        pytest.skip("a session is PostgreSQL's")
    monkeypatch.setattr(lease_module, "CHECK_S", 0.0)
    engine, other = open_engine(store_config, "lease"), open_engine(store_config, "lease")
    mine, theirs = Lease(engine, "job"), Lease(other, "job")
    try:
        assert mine.held()
        with other.connect() as conn:  # the server ends the holder's session (a restart, a failover)
            pid = mine._conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        assert mine.held(), "it sees its session gone and takes the lease again, which is free"
        assert not theirs.held()
    finally:
        mine.release()
        theirs.release()
        engine.dispose()
        other.dispose()


def created(n: int):
    return stored(uuid.uuid4(), 1, collector_pb2.SourceCreated(source=collector_pb2.Source(name=f"s{n}")))


def test_a_leased_projection_is_kept_by_its_holder_alone_and_by_the_next_when_it_stops(store_config, monkeypatch):
    """Two processes' projections of one read model: only the holder reads and applies pages; when
    it stops, the other takes the lease and goes on from the position it left."""
    monkeypatch.setattr("cdp.platform.readmodel.LEASE_RETRY_S", 0.05)
    store = open_store(store_config, "lease")
    engine, other = open_engine(store_config, "lease"), open_engine(store_config, "lease")
    applied: dict[str, list[str]] = {"first": [], "second": []}

    def applying(who: str):
        def apply(conn, page):
            names = [decode(n.topic, n.state).source.name for n in page]
            applied[who] += names
            conn.execute(seen.insert(), [{"name": name} for name in names])

        return apply

    first = Projection("leased", store, engine, metadata, applying("first"))
    second = Projection("leased", store, other, metadata, applying("second"))

    async def until(done) -> None:
        for _ in range(400):
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("not in time")

    async def scenario() -> None:
        running_first = asyncio.create_task(first.run(gather_s=0.01, lease=Lease(engine, "leased")))
        await asyncio.sleep(0.2)  # the first takes the lease
        running_second = asyncio.create_task(second.run(gather_s=0.01, lease=Lease(other, "leased")))
        try:
            for i in range(10):
                store.append([created(i)])
                second._wake(store.head())  # as if the second process had appended it
                await asyncio.sleep(0.02)
            await until(lambda: first.position == store.head())
            await asyncio.sleep(0.2)
            assert len(applied["first"]) == 10 and applied["second"] == []
            running_first.cancel()  # the holder stops: the lease is released
            await asyncio.gather(running_first, return_exceptions=True)
            store.append([created(i) for i in range(10, 15)])
            second._wake(store.head())
            await until(lambda: second.position == store.head())
            assert applied["second"] == [f"s{i}" for i in range(10, 15)], "from where the first left"
        finally:
            running_first.cancel()
            running_second.cancel()
            await asyncio.gather(running_first, running_second, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
        other.dispose()
        store.close()


def test_a_postgres_lease_with_the_database_away_is_not_held_and_raises_nothing():
    """The projection's loop asks every second: a database that does not answer is no error."""
    from cdp.platform.launcher import free_ports

    (port,) = free_ports(1)  # nothing listens there
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/test", connect_args={"connect_timeout": 2}
    )
    try:
        assert not Lease(engine, "job").held()
    finally:
        engine.dispose()
