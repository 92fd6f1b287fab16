"""Snapshots of an EventSourced state: restored with the log's tail they equal the full fold; one
that fails to load (corrupt, another format, another code's state, a shape it cannot take back)
is ignored with a log line, and the state folds the whole log; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
import sqlalchemy as sa

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.platform import snapshots as snapshots_module
from cdp.platform.config import StoreConfig
from cdp.platform.published import topic_of
from cdp.platform.snapshots import SnapshotStore, open_snapshots
from cdp.platform.state import EventSourced
from cdp.platform.store import open_store
from cdp.platform.versions import Versions
from conftest import drop_schemas, postgres_dsn
from support.kernel import unit_of_work

ORIGINATOR = uuid.UUID(int=7)


class Revisions(EventSourced):
    """A toy state: the revisions seen, in log order."""

    topics = topic_of(pb.RulesApplied)

    def reset(self) -> None:
        self.seen: list[str] = []
        self.restores = 0

    def apply(self, message) -> None:
        self.seen.append(message.revision)

    def snapshot_state(self):
        return {"seen": list(self.seen)}

    def restore_state(self, state) -> None:
        self.seen = list(state["seen"])
        if set(state) != {"seen"}:  # taken back in part, then found wrong
            raise ValueError("unexpected fields")
        self.restores += 1

    async def add(self, *revisions: str) -> None:
        async with self.uow.transaction() as tx:
            for revision in revisions:
                message = pb.RulesApplied(revision=revision)
                self.apply(message)
                tx.add([self.next_event(ORIGINATOR, message)])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_config(request, tmp_path):
    if request.param == "sqlite":
        yield StoreConfig(data_dir=tmp_path)
        return
    dsn = postgres_dsn()
    prefix = f"test_snapshots_{uuid.uuid4().hex[:8]}_"
    yield StoreConfig(kind="postgres", data_dir=tmp_path, postgres_dsn=dsn, schema_prefix=prefix)
    drop_schemas(dsn, prefix)


@pytest.fixture
def world(store_config):
    store = open_store(store_config, "toy")
    snapshots = open_snapshots(store_config, "toy")
    uow = unit_of_work(store, "toy")
    yield store, uow, snapshots
    snapshots.close()
    store.close()


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_snapshot_and_the_tail_equal_the_whole_fold(world):
    store, uow, snapshots = world

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        await state.add("r1", "r2", "r3")
        position = await state.take_snapshot()
        assert position == store.head()
        await state.add("r4")
        again = Revisions(uow, snapshots=snapshots)
        assert (again.restored_from, again.restores) == (position, 1)
        assert again.seen == Revisions(uow).seen == ["r1", "r2", "r3", "r4"]
        assert again.versions == state.versions == {str(ORIGINATOR): 4}
        # The next event after a restore takes the next version.
        await again.add("r5")
        assert store.events_of(ORIGINATOR)[-1].originator_version == 5

    run(scenario())


def test_the_newest_two_are_kept(world):
    _, uow, snapshots = world

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        positions = []
        for revision in ("r1", "r2", "r3"):
            await state.add(revision)
            positions.append(await state.take_snapshot())
        with snapshots.engine.connect() as conn:
            kept = [r[0] for r in conn.execute(sa.select(snapshots_module.snapshots.c.position))]
        assert sorted(kept) == positions[1:]

    run(scenario())


def _tamper(snapshots: SnapshotStore, position: int, **values) -> None:
    table = snapshots_module.snapshots
    with snapshots.engine.begin() as conn:
        conn.execute(table.update().where(table.c.position == position).values(**values))


GARBAGE = b"not a snapshot"


def _versions(**by_originator: int):
    versions = Versions()
    versions.update(by_originator)
    return versions.snapshot()


FORGED = snapshots_module.encode({"versions": _versions(), "state": {"seen": ["forged"]}})
PARTIAL = snapshots_module.encode(
    {"versions": _versions(**{str(ORIGINATOR): 99}), "state": {"seen": ["x"], "other": 1}}
)
BAD = {
    "corrupt": {"data": FORGED},  # decodes, but is not what was written: the checksum tells
    "undecodable": {"data": GARBAGE, "checksum": snapshots_module.checksum(GARBAGE)},
    "old format": {"format": snapshots_module.FORMAT - 1},
    "another version's state": {"shape": "0" * 64},
    "a shape it cannot restore": {"data": PARTIAL, "checksum": snapshots_module.checksum(PARTIAL)},
}


@pytest.mark.parametrize("damage", list(BAD))
def test_a_snapshot_that_does_not_load_is_ignored_and_the_whole_log_folded(world, damage, caplog):
    _, uow, snapshots = world

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        await state.add("r1", "r2")
        position = await state.take_snapshot()
        await state.add("r3")
        _tamper(snapshots, position, **BAD[damage])
        with caplog.at_level(logging.WARNING):
            again = Revisions(uow, snapshots=snapshots)
        assert (again.restored_from, again.restores) == (0, 0)
        assert again.seen == ["r1", "r2", "r3"]
        assert again.versions == state.versions
        assert any("ignored" in r.getMessage() for r in caplog.records)

    run(scenario())


def test_a_damaged_newest_falls_back_to_the_one_before(world):
    _, uow, snapshots = world

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        await state.add("r1")
        first = await state.take_snapshot()
        await state.add("r2")
        newest = await state.take_snapshot()
        _tamper(snapshots, newest, data=GARBAGE)
        again = Revisions(uow, snapshots=snapshots)
        assert again.restored_from == first and again.seen == ["r1", "r2"]

    run(scenario())


@pytest.mark.parametrize("at", ["INSERT INTO", "NOT IN"])
def test_a_snapshot_cut_short_while_it_is_written_leaves_the_one_before(world, at):
    """The process dies as the new row is written, or as older ones are let go: the newest that was
    whole before is the one a restart takes."""
    _, uow, snapshots = world

    def die(_conn, _cursor, statement, *_args) -> None:
        if at in statement.upper() and "state_snapshots" in statement:
            raise RuntimeError("the process died here")

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        await state.add("r1")
        first = await state.take_snapshot()
        await state.add("r2")
        sa.event.listen(snapshots.engine, "before_cursor_execute", die)
        try:
            with pytest.raises(RuntimeError, match="died"):
                await state.take_snapshot()
        finally:
            sa.event.remove(snapshots.engine, "before_cursor_execute", die)
        assert snapshots.newest("Revisions") == first
        again = Revisions(uow, snapshots=snapshots)
        assert (again.restored_from, again.seen) == (first, ["r1", "r2"])

    run(scenario())


def test_snapshots_are_taken_as_the_log_grows(world):
    _, uow, snapshots = world

    async def scenario():
        state = Revisions(uow, snapshots=snapshots)
        assert snapshots.states == [state]
        every = state.position + 3  # the store holds the policy's activation record already
        task = asyncio.create_task(snapshots.run(every_events=every, every_s=3600, check_s=0.01))
        await state.add("r1", "r2")
        await asyncio.sleep(0.1)
        assert state.snapshot_position == 0  # not enough stored yet
        await state.add("r3")
        for _ in range(100):
            await asyncio.sleep(0.02)
            if state.snapshot_position:
                break
        assert state.snapshot_position == state.position == snapshots.newest("Revisions")
        # Asked for one soon (after a forget), the next check writes one whatever the count.
        await state.add("r4")
        state.snapshot_soon()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if state.snapshot_position == state.position:
                break
        task.cancel()
        assert state.snapshot_position == state.position == snapshots.newest("Revisions")

    run(scenario())


def test_a_state_that_does_not_opt_in_takes_none(world):
    _, uow, snapshots = world

    class Plain(EventSourced):
        topics = Revisions.topics

    assert Plain(uow, snapshots=snapshots).snapshot_store is None
    assert snapshots.states == []
