"""End to end: bad input to the collector gets clear per-event errors and leaves no partial state.

Only the collector runs here (a real process, real gRPC): nothing downstream is needed to see
what it acknowledges and what its published log holds.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.client import InvalidArgument, Unauthenticated
from support.platform_fixture import Client, new_platform

pytestmark = pytest.mark.e2e

ACCEPTED, DUPLICATE, REJECTED = (
    collector_pb2.ACK_STATUS_ACCEPTED,
    collector_pb2.ACK_STATUS_DUPLICATE,
    collector_pb2.ACK_STATUS_REJECTED,
)
ACCEPTED_TOPIC = collector_pb2.EventAccepted.DESCRIPTOR.full_name


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    platform = new_platform(tmp_path_factory.mktemp("bad-input"))
    try:
        platform.start("collector")
        platform.wait_healthy(["collector"], timeout=60)
        with Client(platform) as c:
            yield c
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def source(client):
    return client.create_source("bad-input-e2e")


def stored_ids(client: Client) -> Counter:
    """How many times each event id is in the collector's published log."""
    return Counter(
        collector_pb2.EventAccepted.FromString(n.payload).event_id
        for n in client.read_log("collector", [ACCEPTED_TOPIC])
    )


def good(message_id: str, **fields) -> event_pb2.Event:
    defaults = dict(
        type="track", user_id="u-1", event="Clicked", properties='{"button": "buy"}', timestamp="2024-05-01T12:00:00Z"
    )
    return event_pb2.Event(message_id=message_id, **{**defaults, **fields})


def test_malformed_events_are_rejected_by_field_and_good_neighbours_stored_once(client, source):
    batch = [
        good("ok-1"),  # 0
        good(""),  # 1 missing messageId
        good("bad-track", event=""),  # 2 track without event
        good("ok-2", type="identify", event="", traits='{"plan": "pro"}'),  # 3
        good("bad-props", properties="[1, 2, 3]"),  # 4 properties an array
        good("bad-json", properties="{not json"),  # 5 properties not JSON
        good("bad-time", timestamp="yesterday at noon"),  # 6 bad timestamp
        good("bad-type", type="purchase"),  # 7 unknown type
        good("bad-ids", user_id="", anonymous_id=""),  # 8 no identity at all
        good("ok-3", type="page", event="", name="Home"),  # 9
        good("ok-1"),  # 10 same messageId again in the batch
        good("too-big", properties=json.dumps({"blob": "x" * 33_000})),  # 11 over 32 KB
    ]
    before = stored_ids(client)
    response = client.ingest(source.write_key, batch)

    acks = {a.index: a for a in response.acks}
    assert sorted(acks) == list(range(len(batch))), "one ack per event, by index"
    expected_rejections = {
        1: ("messageId", "required"),
        2: ("event", "required for track"),
        4: ("properties", "JSON object"),
        5: ("properties", "JSON object"),
        6: ("timestamp", "RFC 3339"),
        7: ("type", "must be one of"),
        8: ("userId", "anonymousId"),
        11: ("event", "32 KB"),
    }
    for index, (field, rule) in expected_rejections.items():
        ack = acks[index]
        assert ack.status == REJECTED, (index, ack)
        assert ack.field == field, (index, ack)
        assert rule in ack.error, (index, ack)
        assert not ack.event_id, "a rejected event gets no id"
    for index in (0, 3, 9):
        assert acks[index].status == ACCEPTED and acks[index].event_id, (index, acks[index])
        assert not acks[index].field and not acks[index].error
    assert acks[10].status == DUPLICATE and acks[10].event_id == acks[0].event_id
    assert (response.accepted, response.duplicates, response.rejected) == (3, 1, 8)

    good_ids = {acks[i].event_id for i in (0, 3, 9)}
    after = stored_ids(client)
    assert after - before == Counter(dict.fromkeys(good_ids, 1)), "the good events stored once each"

    # The stored call is the one sent, with the received time the collector stamped.
    stored = {
        e.event_id: e
        for e in (
            collector_pb2.EventAccepted.FromString(n.payload) for n in client.read_log("collector", [ACCEPTED_TOPIC])
        )
    }
    first = stored[acks[0].event_id]
    assert first.source_id == source.source_id and first.server_side
    assert (first.event.message_id, first.event.event, first.event.user_id) == ("ok-1", "Clicked", "u-1")
    assert json.loads(first.event.properties) == {"button": "buy"}
    assert first.event.received_at

    # An SDK retries the whole batch: the good ones are duplicates, nothing new is stored.
    again = client.ingest(source.write_key, batch)
    again_acks = {a.index: a for a in again.acks}
    for index in (0, 3, 9, 10):
        assert again_acks[index].status == DUPLICATE, (index, again_acks[index])
        assert again_acks[index].event_id == acks[index].event_id
    for index in expected_rejections:
        assert again_acks[index].status == REJECTED and again_acks[index].field == acks[index].field
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 8)
    assert stored_ids(client) == after


def test_unknown_write_key_is_unauthenticated_and_stores_nothing(client, source):
    before = stored_ids(client)
    with pytest.raises(Unauthenticated) as raised:
        client.ingest("not-a-write-key", [good("wk-1")])
    assert "write_key" in raised.value.details
    assert stored_ids(client) == before


def test_batch_over_500_kb_is_refused_whole(client, source):
    # 20 events of ~30 KB: each under the 32 KB event limit, together over the 500 KB batch limit.
    batch = [good(f"big-{i}", properties=json.dumps({"blob": "y" * 30_000})) for i in range(20)]
    size = collector_pb2.IngestRequest(write_key=source.write_key, events=batch).ByteSize()
    assert size > 500 * 1024 and all(e.ByteSize() < 32 * 1024 for e in batch)
    before = stored_ids(client)
    with pytest.raises(InvalidArgument) as raised:
        client.ingest(source.write_key, batch)
    details = raised.value.details
    assert "500 KB" in details and str(500 * 1024) in details and str(size) in details, details
    assert stored_ids(client) == before, "nothing of a refused batch is stored"
    # Nothing was half-remembered either: the same messageIds are new when sent in a batch that fits.
    small = client.ingest(source.write_key, batch[:3])
    assert [a.status for a in small.acks] == [ACCEPTED] * 3
    assert sum(stored_ids(client).values()) == sum(before.values()) + 3


def test_ingest_stream_acknowledges_two_batches_with_global_indexes(client, source):
    first = [good("s-1"), good("s-2", event=""), good("s-3")]
    second = [good("s-4", type="identify", event="", traits='{"plan": "free"}'), good("s-1"), good("", user_id="u-2")]
    before = stored_ids(client)
    response = client.collector.ingest_stream(source.write_key, [first, second], timeout=30)
    assert [a.index for a in response.acks] == [0, 1, 2, 3, 4, 5]
    assert [a.status for a in response.acks] == [ACCEPTED, REJECTED, ACCEPTED, ACCEPTED, DUPLICATE, REJECTED]
    assert (response.acks[1].field, response.acks[5].field) == ("event", "messageId")
    assert response.acks[4].event_id == response.acks[0].event_id, "the second batch's s-1 is the first's"
    assert (response.accepted, response.duplicates, response.rejected) == (3, 1, 2)
    new = stored_ids(client) - before
    assert new == Counter({response.acks[i].event_id: 1 for i in (0, 2, 3)})


def test_malformed_protobuf_is_invalid_argument_and_stores_nothing(client, source):
    before = stored_ids(client)
    with pytest.raises(InvalidArgument) as raised:
        client.collector.ingest_prepared(b"\x0a\x05abc\xff\xff", timeout=10)  # not an IngestRequest
    assert stored_ids(client) == before
    assert "not a valid message" in raised.value.details, raised.value.details


def test_event_log_reports_its_head(client, source):
    client.ingest(source.write_key, [good(f"head-{i}") for i in range(3)])
    newest = client.read_log("collector")[-1].id
    log = client.eventlog("collector")
    past_end = log.read(after=newest + 1000, limit=10, timeout=10)
    assert past_end.head == newest
    first_page = log.read(after=0, limit=1, timeout=10)
    assert [n.id for n in first_page.notifications] == [1]
    assert first_page.head == newest


def test_calls_a_follower_could_not_process_are_rejected_by_field_not_failed(client, source):
    """Each of these was once accepted and stalled profile or identity for ever (or failed the call
    with UNKNOWN): each is now a REJECTED ack naming the field and the rule, and its neighbour is stored."""
    batch = [
        good("ctx-text", type="identify", event="", context='{"traits": "pro"}'),
        good("ctx-list", type="identify", event="", context='{"traits": ["pro"]}'),
        good("late", timestamp="9999-12-31T23:59:59-10:00"),
        good("early", timestamp="", original_timestamp="0001-01-01T00:00:00+10:00"),
        good("skewed", timestamp="", original_timestamp="0001-01-01T00:00:00Z", sent_at="9999-12-31T23:59:59Z"),
        good("far-skew", timestamp="", original_timestamp="1900-01-01T00:00:00Z", sent_at="2999-12-31T00:00:00Z"),
        good("nul-id", user_id="u\x00-1"),
        good("fine-neighbour"),
    ]
    before = stored_ids(client)
    response = client.ingest(source.write_key, batch)
    expected = [
        ("context.traits", "must be a JSON object"),
        ("context.traits", "must be a JSON object"),
        ("timestamp", "must lie within years 1900..2999 (UTC)"),
        ("originalTimestamp", "must lie within years 1900..2999 (UTC)"),
        ("sentAt", "must lie within years 1900..2999 (UTC)"),
        ("originalTimestamp", "corrected by sentAt"),
        ("userId", "must not contain control characters"),
    ]
    for ack, (field, rule) in zip(response.acks, expected, strict=False):
        assert ack.status == REJECTED and ack.field == field and rule in ack.error, ack
    assert response.acks[-1].status == ACCEPTED
    assert stored_ids(client) - before == Counter({response.acks[-1].event_id: 1})
