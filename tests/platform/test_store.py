"""The event store on SQLite and on PostgreSQL: atomic batches, tracking, notifications."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from cdp.api.collector.v1 import collector_pb2
from cdp.platform.published import decode, stored
from cdp.platform.store import open_store


def event(n: int, originator: uuid.UUID | None = None, version: int = 1) -> StoredEvent:
    message = collector_pb2.SourceCreated(source=collector_pb2.Source(source_id=str(n), name=f"s{n}"))
    return stored(originator or uuid.uuid4(), version, message)


@pytest.fixture
def store(store_config):
    s = open_store(store_config, "teststore")
    yield s
    s.close()


def test_append_and_read_back_in_order(store):
    batch = [event(i) for i in range(10)]
    head = store.append(batch)
    assert head == store.head()
    page = store.read(0, 100)
    assert [decode(n.topic, n.state).source.name for n in page] == [f"s{i}" for i in range(10)]
    assert [n.id for n in store.read(page[4].id, 3)] == [n.id for n in page[5:8]]


def test_a_batch_with_a_taken_version_writes_nothing(store):
    first = event(1)
    store.append([first])
    with pytest.raises(IntegrityError):
        store.append([event(2), event(3, first.originator_id, 1)])
    assert len(store.read(0, 100)) == 1


def test_tracking_commits_with_events_and_refuses_going_back(store):
    assert store.position("upstream") == 0
    store.append([event(1)], tracking=Tracking("upstream", 7))
    assert store.position("upstream") == 7
    # The same position again is a replay: refused, and its events are not written.
    with pytest.raises(IntegrityError):
        store.append([event(2)], tracking=Tracking("upstream", 7))
    assert len(store.read(0, 100)) == 1
    # A batch that produced nothing still moves the position.
    store.append([], tracking=Tracking("upstream", 9))
    assert store.position("upstream") == 9


def test_replay_pages_through_everything(store):
    for start in range(0, 25, 5):
        store.append([event(i) for i in range(start, start + 5)])
    assert len(list(store.replay(batch=4))) == 25


def test_topics_filter(store):
    other = stored(uuid.uuid4(), 1, collector_pb2.EventAccepted(event_id="e"))
    store.append([event(1), other, event(2)])
    topics = [collector_pb2.EventAccepted.DESCRIPTOR.full_name]
    assert [n.topic for n in store.read(0, 10, topics)] == topics


def test_listeners_hear_appends(store):
    heard = []
    store.on_append(heard.append)
    store.append([event(1)])
    assert heard == [store.head()]
