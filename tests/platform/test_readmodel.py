"""Read models kept by several processes at once (collector processes on one store): each page
is applied once, whoever commits it, and processes starting together on a new database all get
their tables. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid

import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2
from cdp.platform import readmodel
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.store import open_store

metadata = sa.MetaData()
seen = sa.Table("readmodel_seen", metadata, sa.Column("name", sa.String(20), primary_key=True))


def apply(conn, page):
    conn.execute(seen.insert(), [{"name": decode(n.topic, n.state).source.name} for n in page])


def created(n: int):
    return stored(uuid.uuid4(), 1, collector_pb2.SourceCreated(source=collector_pb2.Source(name=f"s{n}")))


def names(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.select(seen.c.name)))


def test_two_processes_on_one_read_model_apply_each_page_once(store_config):
    """A duplicate row would fail the primary key: the one that finds the position moved rolls
    back and reads on from where the other left."""
    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    try:
        first = Projection("shared", store, engine, metadata, apply, batch=2)
        second = Projection("shared", store, engine, metadata, apply, batch=2)
        store.append([created(i) for i in range(5)])
        assert first.catch_up() == 5
        store.append([created(i) for i in range(5, 7)])
        assert second.catch_up() == 2, "the pages the first applied are not applied again"
        assert first.catch_up() == 0
        assert first.position == second.position == store.head()
        assert names(engine) == [f"s{i}" for i in range(7)]
        # Both at once, on threads (as each process's own thread does).
        store.append([created(i) for i in range(7, 107)])
        threads = [threading.Thread(target=p.catch_up) for p in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(names(engine)) == 107
        assert first.skipped == second.skipped == 0
    finally:
        engine.dispose()
        store.close()


def test_processes_starting_together_on_a_new_database_all_get_their_tables(store_config):
    """The loser of the race to create a table finds it made and goes on."""
    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    other = open_engine(store_config, "readmodel")
    race = sa.MetaData()
    raced = sa.Table("readmodel_raced", race, sa.Column("name", sa.String(20), primary_key=True))

    @sa.event.listens_for(raced, "before_create", once=True)
    def made_meanwhile(target, connection, **kw):
        # Between this process looking (no table) and creating it, another process creates it.
        with other.begin() as conn:
            conn.execute(sa.text("CREATE TABLE readmodel_raced (name VARCHAR(20) PRIMARY KEY)"))

    try:
        projection = Projection("raced", store, engine, race, lambda conn, page: None)
        assert projection.position == 0
        assert sa.inspect(engine).has_table("readmodel_raced")
    finally:
        other.dispose()
        engine.dispose()
        store.close()


def counted(pages: list[int]):
    """apply, noting the size of each page it is given."""

    def counting(conn, page):
        pages.append(len(page))
        apply(conn, page)

    return counting


def test_a_running_projection_gathers_a_burst_of_appends_into_few_commits(store_config):
    """A commit costs about as much for one event as for a hundred: woken by an append, the
    projection lets the appends that follow gather before it catches up."""
    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    pages: list[int] = []
    counting = counted(pages)
    projection = Projection("gathered", store, engine, metadata, counting)

    async def scenario():
        task = asyncio.create_task(projection.run(gather_s=0.2))
        try:
            await asyncio.sleep(0.1)
            for i in range(20):  # one append every 5 ms, as single calls arrive
                store.append([created(i)])
                await asyncio.sleep(0.005)
            for _ in range(200):
                if projection.position == store.head():
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()

    try:
        asyncio.run(scenario())
        assert names(engine) == sorted(f"s{i}" for i in range(20))
        # The first commit waited for the burst; under load, appends slower than the gather are
        # caught up with as they come (the catch-up reads on until the head).
        assert pages[0] >= 5 and len(pages) <= 10, f"one commit an append: {pages}"
    finally:
        engine.dispose()
        store.close()


def test_a_query_sees_what_its_process_appended_while_the_projection_gathers(store_config):
    """fresh(): read-your-writes for a query, however long the running projection lets appends
    gather; and no work when the read model is up to date."""
    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    pages: list[int] = []
    counting = counted(pages)
    projection = Projection("fresh", store, engine, metadata, counting)

    async def scenario():
        task = asyncio.create_task(projection.run(gather_s=30))
        try:
            await asyncio.sleep(0.1)
            store.append([created(1)])
            await asyncio.sleep(0.05)  # woken: the projection gathers now, for 30 s
            store.append([created(2)])
            await projection.fresh()
            assert names(engine) == ["s1", "s2"]
            before = len(pages)
            await projection.fresh()
            assert len(pages) == before, "caught up already: nothing to apply"
        finally:
            task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
        store.close()


def test_a_read_model_of_rare_topics_starts_its_next_catch_up_past_the_other_topics(store_config, monkeypatch):
    """Without it, a read model whose topics a long log seldom holds reads the whole log again at
    every start; what comes later of its topics is applied all the same."""
    monkeypatch.setattr(readmodel, "SCANNED", 10)
    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    other = collector_pb2.SourceDisabled(source_id="x")
    try:
        rare = Projection("rare", store, engine, metadata, apply, topics=topic_of(collector_pb2.SourceCreated))
        store.append([created(0)])
        store.append([stored(uuid.uuid4(), 1, other) for _ in range(5)])
        assert rare.catch_up() == 1
        assert rare.position == 1, "not moved for a few others"
        store.append([stored(uuid.uuid4(), 1, other) for _ in range(20)])
        assert rare.catch_up() == 0
        assert rare.position == store.head() == 26
        again = Projection("rare", store, engine, metadata, apply, topics=topic_of(collector_pb2.SourceCreated))
        assert again.position == 26  # committed: where the next start reads from
        store.append([created(1)])
        assert again.catch_up() == 1
        assert names(engine) == ["s0", "s1"]
    finally:
        engine.dispose()
        store.close()


def test_a_cancelled_projection_ends_only_after_the_page_in_hand(store_config):
    """A service closes its store and engine once its tasks end: a page still being applied on the
    writer thread then would run on closed connections (the process crashed)."""
    import time

    store = open_store(store_config, "readmodel")
    engine = open_engine(store_config, "readmodel")
    started, finished = threading.Event(), threading.Event()

    def slow(conn, page):
        started.set()
        time.sleep(0.3)
        apply(conn, page)
        finished.set()

    projection = Projection("cancelled", store, engine, metadata, slow)

    async def scenario():
        task = asyncio.create_task(projection.run())
        await asyncio.sleep(0.05)
        store.append([created(1)])
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert finished.is_set(), "the task ended while its page was still being applied"

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
        store.close()
