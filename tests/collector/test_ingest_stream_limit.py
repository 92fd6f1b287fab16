"""An IngestStream answers once, at its end, with an ack for every event: past MAX_STREAM_EVENTS it
is refused at the batch that would cross the limit (naming it), and the batches before it stand.
The collector here is a stand-in that acks what it is given; the servicer is the real one."""

from __future__ import annotations

import asyncio

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector import domain
from cdp.collector.servicer import CollectorServicer
from cdp.platform.errors import InvalidArgument


class Acking:
    def __init__(self) -> None:
        self.stored = 0

    async def ingest_async(self, write_key, events):
        self.stored += len(events)
        accepted = pb.ACK_STATUS_ACCEPTED
        acks = [pb.EventAck(index=i, status=accepted, event_id=e.message_id) for i, e in enumerate(events)]
        return pb.IngestResponse(acks=acks, accepted=len(events))


def batches(sizes):
    async def stream():
        sent = 0
        for size in sizes:
            events = [event_pb2.Event(message_id=f"m-{sent + i}") for i in range(size)]
            sent += size
            yield pb.IngestStreamRequest(write_key="wk", events=events)

    return stream()


def test_a_stream_up_to_the_limit_is_acknowledged_whole():
    collector = Acking()
    sizes = [domain.MAX_BATCH_EVENTS] * (domain.MAX_STREAM_EVENTS // domain.MAX_BATCH_EVENTS)
    response = asyncio.run(CollectorServicer(collector).IngestStream(batches(sizes), None))
    assert response.accepted == len(response.acks) == domain.MAX_STREAM_EVENTS
    assert response.acks[-1].index == domain.MAX_STREAM_EVENTS - 1
    assert response.ByteSize() < 4 * 2**20  # and so far within gRPC's 16 MB


def test_the_batch_that_crosses_the_limit_is_refused_by_name():
    collector = Acking()
    sizes = [domain.MAX_BATCH_EVENTS] * (domain.MAX_STREAM_EVENTS // domain.MAX_BATCH_EVENTS) + [1]
    with pytest.raises(InvalidArgument) as refused:
        asyncio.run(CollectorServicer(collector).IngestStream(batches(sizes), None))
    assert refused.value.field == "events"
    assert f"at most {domain.MAX_STREAM_EVENTS} events" in refused.value.rule
    assert collector.stored == domain.MAX_STREAM_EVENTS  # the batches before it stand
