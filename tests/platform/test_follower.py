"""Following an upstream log over real gRPC: exactly once, resumable, parking what cannot be
processed, on both stores."""

from __future__ import annotations

import asyncio
import uuid

import grpc

from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2_grpc
from cdp.api.ops.v1 import ops_pb2
from cdp.client import AsyncEventLogClient
from cdp.platform.errors import Unavailable
from cdp.platform.eventlog import HEAD_EVERY, POLL_S, EventLogServicer, GrpcLog, StoreLog, Upstream
from cdp.platform.follower import Follower
from cdp.platform.ids import derived_id
from cdp.platform.parked import PARKING_TOPICS
from cdp.platform.published import decode, stored
from cdp.platform.snapshots import open_snapshots
from cdp.platform.store import open_store
from support.kernel import unit_of_work


def source_event(n: int):
    return stored(uuid.uuid4(), 1, collector_pb2.SourceCreated(source=collector_pb2.Source(source_id=str(n))))


async def serve(store):
    server = grpc.aio.server()
    eventlog_pb2_grpc.add_EventLogServiceServicer_to_server(EventLogServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


def copier(fail_at: set[int]):
    """A handler deriving one event per upstream event; something it needs is down once at the
    given upstream ids (a transient failure: the batch is retried, nothing is parked)."""

    async def handle(notifications):
        for n in notifications:
            if n.id in fail_at:
                fail_at.discard(n.id)
                raise Unavailable("injected outage")
        return [stored(derived_id("copy", n.originator_id), 1, decode(n.topic, n.payload)) for n in notifications]

    return handle


async def follow_until(store, follower, count: int) -> None:
    task = asyncio.create_task(follower.run())
    try:
        for _ in range(500):
            if len(store.read(0, 10_000)) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"follower stalled at {follower.position}")
    finally:
        follower.stop()
        task.cancel()


def test_follower_copies_exactly_once_across_failures_and_restarts(store_config):
    async def scenario():
        upstream = open_store(store_config, "up")
        downstream = open_store(store_config, "down")
        server, channel = await serve(upstream)
        try:
            upstream.append([source_event(i) for i in range(50)])
            uow = unit_of_work(downstream)
            first = Follower(uow, Upstream("up", GrpcLog(channel), ()), copier({17}), batch=10, wait_ms=50)
            await follow_until(downstream, first, 50)
            assert downstream.position("up") == upstream.head()

            # More upstream events; a new follower (a restart) resumes where the last committed.
            upstream.append([source_event(i) for i in range(50, 80)])
            second = Follower(uow, Upstream("up", GrpcLog(channel), ()), copier({65}), batch=7, wait_ms=50)
            assert second.position == first.position
            await follow_until(downstream, second, 80)
            copied = [
                decode(n.topic, n.state).source.source_id
                for n in downstream.read(0, 1000, ["cdp.collector.v1.SourceCreated"])
            ]
            assert sorted(copied, key=int) == [str(i) for i in range(80)]
            assert len(set(copied)) == 80
        finally:
            await channel.close()
            await server.stop(None)
            upstream.close()
            downstream.close()

    asyncio.run(scenario())


def test_eventlog_read_waits_for_new_events(store_config):
    async def scenario():
        store = open_store(store_config, "wait")
        server, channel = await serve(store)
        try:
            log = AsyncEventLogClient(channel)
            pending = asyncio.ensure_future(log.read(after=0, limit=10, wait_ms=5000))
            await asyncio.sleep(0.2)
            assert not pending.done()
            store.append([source_event(1)])
            response = await asyncio.wait_for(pending, 2)
            assert len(response.notifications) == 1
            assert response.head == response.notifications[0].id
            empty = await log.read(after=response.head, limit=10, wait_ms=50)
            assert not empty.notifications
        finally:
            await channel.close()
            await server.stop(None)
            store.close()

    asyncio.run(scenario())


def test_a_lingering_read_gathers_what_arrives_meanwhile_in_one_round_trip(store_config):
    """A short page waits at the upstream for more (linger_ms), rather than the follower asking
    again: at a low rate a follower's batch costs one round trip, not two."""

    async def scenario():
        store = open_store(store_config, "linger")
        server, channel = await serve(store)
        try:
            log = AsyncEventLogClient(channel)
            pending = asyncio.ensure_future(log.read(after=0, limit=10, wait_ms=5000, linger_ms=300))
            await asyncio.sleep(0.1)
            store.append([source_event(1)])
            await asyncio.sleep(0.1)  # the read has its first notification and lingers
            store.append([source_event(2), source_event(3)])
            response = await asyncio.wait_for(pending, 3)
            assert len(response.notifications) == 3
            assert response.head == response.notifications[-1].id
            full = await asyncio.wait_for(log.read(after=0, limit=2, wait_ms=0, linger_ms=5000), 2)
            assert len(full.notifications) == 2, "a full page is answered at once"
        finally:
            await channel.close()
            await server.stop(None)
            store.close()

    asyncio.run(scenario())


def poisoned_copier(poison: set[str], fixed: dict):
    """Copies each upstream event; fails (not transiently) on sources named in poison until
    fixed["done"] is set: a bug in the handler that a later fix removes."""

    async def handle(notifications):
        out = []
        for n in notifications:
            source = decode(n.topic, n.payload).source
            if source.source_id in poison and not fixed.get("done"):
                raise KeyError(f"cannot handle {source.source_id}")
            out.append(stored(derived_id("copy", n.originator_id), 1, decode(n.topic, n.payload)))
        return out

    return handle


def keyed_event(n: int, key: str):
    return stored(uuid.uuid4(), 1, collector_pb2.SourceCreated(source=collector_pb2.Source(source_id=str(n), name=key)))


def copies(store) -> list[str]:
    return [
        decode(n.topic, n.state).source.source_id for n in store.read(0, 10_000, ["cdp.collector.v1.SourceCreated"])
    ]


def test_a_poison_event_is_parked_the_rest_go_on_and_retry_applies_it_once(store_config):
    async def scenario():
        upstream = open_store(store_config, "up")
        downstream = open_store(store_config, "down")
        snapshots = open_snapshots(store_config, "down")
        fixed: dict = {}
        try:
            # Key "a" holds the poison at 3; 7 is a later event of "a"; the others are "b".
            upstream.append([keyed_event(i, "a" if i in (3, 7) else "b") for i in range(10)])
            uow = unit_of_work(downstream)
            follower = Follower(
                uow,
                Upstream("up", StoreLog(upstream), ()),
                poisoned_copier({"3"}, fixed),
                key=lambda n: decode(n.topic, n.payload).source.name,
                batch=4,
                wait_ms=20,
            )
            task = asyncio.create_task(follower.run())
            for _ in range(300):
                if follower.position == upstream.head():
                    break
                await asyncio.sleep(0.01)
            # Every event of "b" reached downstream; 3 is parked with its error, 7 waits behind it.
            assert sorted(copies(downstream), key=int) == ["0", "1", "2", "4", "5", "6", "8", "9"]
            assert [p.position for _, p in sorted(follower.parked.items())] == [4, 8]
            assert "KeyError" in follower.parked[4].error and follower.parked[4].error_id
            assert "cannot handle" not in follower.parked[4].error  # a message may quote personal data
            assert "waiting behind" in follower.parked[8].error
            assert follower.parked[4].key != "a"  # the key is kept hashed

            # A retry before the fix applies nothing and keeps the order.
            assert await follower.retry("ops") == (0, 2)
            # A restart keeps the parked events (they are in the store).
            follower.stop()
            task.cancel()
            again = Follower(uow, Upstream("up", StoreLog(upstream), ()), poisoned_copier({"3"}, fixed))
            assert sorted(again.parked) == [4, 8]

            # Or from a snapshot of them and the log's tail, not the whole log.
            def snapshotted() -> Follower:
                return Follower(uow, Upstream("up", StoreLog(upstream), ()), copier(set()), snapshots=snapshots)

            position = await snapshotted()._parked.take_snapshot()
            restored = snapshotted()
            assert restored._parked.restored_from == position and restored.parked == again.parked

            fixed["done"] = True
            assert await again.retry("ops") == (2, 0)
            tail = snapshotted()
            assert tail._parked.restored_from == position and tail.parked == {}
            assert await again.retry("ops") == (0, 0)
            assert sorted(copies(downstream), key=int) == [str(i) for i in range(10)]
            applied = [decode(n.topic, n.state) for n in downstream.read(0, 10_000, PARKING_TOPICS)]
            assert [type(m).__name__ for m in applied].count("ParkedEventApplied") == 2
            assert all(m.requested_by == "ops" for m in applied if isinstance(m, ops_pb2.ParkedEventApplied))
        finally:
            snapshots.close()
            upstream.close()
            downstream.close()

    asyncio.run(scenario())


def test_an_outage_while_parking_resumes_after_what_was_committed(store_config):
    """One-by-one after a poison event, the next event meets an outage: the batch is retried
    from after what was committed, so nothing is applied twice and nothing more is parked."""

    async def scenario():
        upstream = open_store(store_config, "up")
        downstream = open_store(store_config, "down")
        outage = {"3"}

        async def handle(notifications):
            out = []
            for n in notifications:
                source = decode(n.topic, n.payload).source
                if source.source_id == "2":
                    raise KeyError("poison")
                if source.source_id in outage:
                    outage.discard(source.source_id)
                    raise Unavailable("identity is restarting")
                out.append(stored(derived_id("copy", n.originator_id), 1, decode(n.topic, n.payload)))
            return out

        try:
            upstream.append([keyed_event(i, f"k{i}") for i in range(1, 6)])
            follower = Follower(unit_of_work(downstream), Upstream("up", StoreLog(upstream), ()), handle, wait_ms=20)
            task = asyncio.create_task(follower.run())
            for _ in range(300):
                if follower.position == upstream.head() and not outage:
                    break
                await asyncio.sleep(0.01)
            follower.stop()
            task.cancel()
            assert sorted(copies(downstream), key=int) == ["1", "3", "4", "5"]
            assert [p.position for p in follower.parked.values()] == [2]
        finally:
            upstream.close()
            downstream.close()

    asyncio.run(scenario())


def test_a_lingering_follower_gathers_what_arrives_meanwhile_into_one_batch(tmp_path):
    async def scenario():
        from cdp.platform.config import StoreConfig

        upstream_store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "up")
        follower_store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "down")
        batches: list[int] = []

        async def handle(notifications):
            batches.append(len(notifications))
            return []

        upstream = Upstream("up", StoreLog(upstream_store), [collector_pb2.SourceCreated.DESCRIPTOR.full_name])
        follower = Follower(unit_of_work(follower_store), upstream, handle, batch=100, wait_ms=200, linger_ms=100)
        task = asyncio.create_task(follower.run())
        try:
            upstream_store.append([source_event(1)])
            await asyncio.sleep(0.03)  # the follower has read the first and lingers
            upstream_store.append([source_event(2), source_event(3)])
            for _ in range(100):
                if follower.position >= 3:
                    break
                await asyncio.sleep(0.01)
        finally:
            follower.stop()
            task.cancel()
        assert batches == [3] and follower.position == 3

    asyncio.run(scenario())


def seen_after(config, *, meanwhile: bool = False, no_sign: bool = False) -> float:
    """Seconds from another process's append to a waiting read's answer with it: two stores on the
    same data stand for two collector processes (one's appends wake no one in the other).
    meanwhile: another read of the log, right after the append; no_sign: the store gives no sign
    of writes in its file (a SQLite commit whose sync the poll did not see end)."""

    async def scenario() -> float:
        served, other = open_store(config, "shared"), open_store(config, "shared")
        if no_sign:
            served.write_mark = lambda: ("no", "sign")  # type: ignore[method-assign]
        log = StoreLog(served, POLL_S)
        loop = asyncio.get_running_loop()
        try:
            waiting = asyncio.create_task(log.read(0, 100, wait_ms=5000))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            appended = loop.time()
            other.append([source_event(1)])
            if meanwhile:
                first = await log.read(0, 100)  # another follower's read, before the next look
                assert [n.id for n in first.notifications] == [other.head()]
            response = await asyncio.wait_for(waiting, 6)
            waited = loop.time() - appended
            assert [n.id for n in response.notifications] == [other.head()]
            # Nothing waits any more: the store is no longer looked at.
            heads = []
            served.head = lambda: heads.append(1) or other.head()  # type: ignore[method-assign]
            await asyncio.sleep(POLL_S * (HEAD_EVERY + 3))
            assert not heads and log._poller is None
            return waited
        finally:
            other.close()
            served.close()

    return asyncio.run(scenario())


def test_a_waiting_read_sees_what_another_process_appended_to_the_same_store(store_config):
    """Collector replicas share one store, and a follower's long poll is served by one of them:
    a call stored by another must reach it within a look, not when its wait runs out."""
    assert seen_after(store_config) < POLL_S + 0.5


def test_a_read_of_the_log_meanwhile_does_not_hide_another_process_append_from_a_waiting_read(store_config):
    """Followers of one log wait in the same process (profile, segment and identity all follow the
    collector's calls): one of them reading another process's call first must not keep it from
    the rest until their waits run out."""
    assert seen_after(store_config, meanwhile=True) < POLL_S + 0.5


def test_a_waiting_read_sees_another_process_append_that_left_no_sign_in_the_file(tmp_path):
    """SQLite's write-ahead log changes before a commit can be read (until its sync ends), and a
    restarted log of the same size within the clock's tick may not change at all: the head is
    still read every few looks."""
    from cdp.platform.config import StoreConfig

    config = StoreConfig(kind="sqlite", data_dir=tmp_path)
    assert seen_after(config, no_sign=True) < HEAD_EVERY * POLL_S + 0.5
