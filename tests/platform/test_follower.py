"""Following an upstream log over real gRPC: exactly once, resumable, on both stores."""

from __future__ import annotations

import asyncio
import uuid

import grpc

from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2_grpc
from cdp.platform.eventlog import EventLogServicer, Follower
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, stored
from cdp.platform.store import open_store


def source_event(n: int):
    return stored(uuid.uuid4(), 1, collector_pb2.SourceCreated(source=collector_pb2.Source(source_id=str(n))))


async def serve(store):
    server = grpc.aio.server()
    eventlog_pb2_grpc.add_EventLogServiceServicer_to_server(EventLogServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


def copier(fail_at: set[int]):
    """A handler deriving one event per upstream event; fails once at the given upstream ids."""

    async def handle(notifications):
        for n in notifications:
            if n.id in fail_at:
                fail_at.discard(n.id)
                raise RuntimeError("injected failure")
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
            first = Follower(downstream, "up", channel, copier({17}), batch=10, wait_ms=50)
            await follow_until(downstream, first, 50)
            assert downstream.position("up") == upstream.head()

            # More upstream events; a new follower (a restart) resumes where the last committed.
            upstream.append([source_event(i) for i in range(50, 80)])
            second = Follower(downstream, "up", channel, copier({65}), batch=7, wait_ms=50)
            assert second.position == first.position
            await follow_until(downstream, second, 80)
            copied = [decode(n.topic, n.state).source.source_id for n in downstream.read(0, 1000)]
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
            stub = eventlog_pb2_grpc.EventLogServiceStub(channel)
            from cdp.api.eventlog.v1 import eventlog_pb2

            pending = asyncio.ensure_future(stub.Read(eventlog_pb2.ReadRequest(after=0, limit=10, wait_ms=5000)))
            await asyncio.sleep(0.2)
            assert not pending.done()
            store.append([source_event(1)])
            response = await asyncio.wait_for(pending, 2)
            assert len(response.notifications) == 1
            assert response.head == response.notifications[0].id
            empty = await stub.Read(eventlog_pb2.ReadRequest(after=response.head, limit=10, wait_ms=50))
            assert not empty.notifications
        finally:
            await channel.close()
            await server.stop(None)
            store.close()

    asyncio.run(scenario())
