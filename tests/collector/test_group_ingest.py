"""Concurrent ingest calls are committed together, each keeping the outcome it would have alone."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector.application import Collector, UnknownWriteKey
from cdp.platform import config as config_module
from cdp.platform.decisions import open_decider
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.published import decode
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork


@pytest.fixture
def collector(tmp_path):
    config = config_module.load("collector", ["--data-dir", str(tmp_path)])
    store = open_store(config.store, "collector")
    uow = UnitOfWork(store, open_decider(config, store))
    yield Collector(uow, PersonalData(open_vault(config), uow.decider))
    store.close()


def track(message_id: str, **properties) -> event_pb2.Event:
    return event_pb2.Event(
        type="track", message_id=message_id, user_id="u1", event="Clicked", properties=json.dumps(properties)
    )


def stored_ids(collector) -> list[str]:
    return [
        decode(n.topic, n.state).event.message_id
        for n in collector.store.read(0, 1000, [pb.EventAccepted.DESCRIPTOR.full_name])
    ]


def test_concurrent_calls_with_the_same_message_ids_store_each_once(collector):
    key = collector.create_source("web", server_side=True).write_key

    async def both():
        return await asyncio.gather(
            collector.ingest_async(key, [track("m1"), track("m2")]),
            collector.ingest_async(key, [track("m2"), track("m3")]),
        )

    first, second = asyncio.run(both())
    assert [a.status for a in first.acks] == [pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_ACCEPTED]
    assert [a.status for a in second.acks] == [pb.ACK_STATUS_DUPLICATE, pb.ACK_STATUS_ACCEPTED]
    assert sorted(stored_ids(collector)) == ["m1", "m2", "m3"]


def test_each_call_keeps_its_own_errors_and_all_or_nothing(collector):
    key = collector.create_source("web", server_side=True).write_key

    async def three():
        return await asyncio.gather(
            collector.ingest_async(key, [track("ok-1"), event_pb2.Event(type="track", message_id="bad")]),
            collector.ingest_async(
                key, [track("ok-2"), event_pb2.Event(type="track", message_id="bad-2")], all_or_nothing=True
            ),
            collector.ingest_async("no-such-key", [track("x")]),
            return_exceptions=True,
        )

    partial, whole, unknown = asyncio.run(three())
    assert [a.status for a in partial.acks] == [pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_REJECTED]
    assert [a.status for a in whole.acks] == [pb.ACK_STATUS_REJECTED, pb.ACK_STATUS_REJECTED]
    assert isinstance(unknown, UnknownWriteKey)
    assert stored_ids(collector) == ["ok-1"]


def test_an_id_the_key_table_could_not_hold_is_rejected_alone(store_config):
    """A NUL in an id once reached the key table, which PostgreSQL refuses: the whole group failed."""
    config = dataclasses.replace(config_module.load("collector", []), store=store_config)
    store = open_store(config.store, "collector")
    uow = UnitOfWork(store, open_decider(config, store))
    collector = Collector(uow, PersonalData(open_vault(config), uow.decider))
    try:
        key = collector.create_source("web", server_side=True).write_key
        nul = event_pb2.Event(type="track", message_id="nul", user_id="u\x001", event="Clicked")

        async def both():
            return await asyncio.gather(
                collector.ingest_async(key, [nul, track("ok-1")]), collector.ingest_async(key, [track("ok-2")])
            )

        with_nul, neighbour = asyncio.run(both())
        assert [a.status for a in with_nul.acks] == [pb.ACK_STATUS_REJECTED, pb.ACK_STATUS_ACCEPTED]
        assert (with_nul.acks[0].field, with_nul.acks[0].error) == ("userId", "must not contain control characters")
        assert [a.status for a in neighbour.acks] == [pb.ACK_STATUS_ACCEPTED]
        assert sorted(stored_ids(collector)) == ["ok-1", "ok-2"]
    finally:
        store.close()
