"""The unit of work on SQLite and PostgreSQL: events, decision records and the position commit
together or not at all; processes sharing a store extend one decision chain without collisions."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from cdp.api.collector.v1 import collector_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.audit.records import Recorded, chain_breaks
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.store import open_store
from support.kernel import unit_of_work

DECISIONS = topic_of(decision_pb2.DecisionRecorded)
EGRESS = "data.cdp.egress.decision"


def event(n: int, originator: uuid.UUID | None = None) -> StoredEvent:
    message = collector_pb2.SourceCreated(source=collector_pb2.Source(source_id=str(n), name=f"s{n}"))
    return stored(originator or uuid.uuid4(), 1, message)


def question(n: int) -> dict:
    return {"destination": {"id": f"d{n}", "type": "webhook", "purpose": "analytics"}, "properties": ["plan"]}


def records(store) -> list[decision_pb2.DecisionRecorded]:
    return [decode(n.topic, n.state) for n in store.read(0, 10_000, DECISIONS)]


@pytest.fixture
def store(store_config):
    s = open_store(store_config, "uow")
    yield s
    s.close()


def test_events_records_and_position_commit_together_or_not_at_all(store):
    uow = unit_of_work(store)
    rebuilt = []
    uow.on_failure(lambda: rebuilt.append(True))
    taken = event(1)
    uow.commit([taken])
    uow.decider.decide(EGRESS, question(1))
    with pytest.raises(IntegrityError):
        uow.commit([event(2), taken], tracking=Tracking("up", 5))
    assert rebuilt == [True]
    assert len(store.read(0, 100, topic_of(collector_pb2.SourceCreated))) == 1
    assert records(store) == [] and store.position("up") == 0
    # The decision stays queued and commits with the next unit of work.
    uow.commit([event(3)], tracking=Tracking("up", 5))
    assert [r.entrypoint for r in records(store)] == [EGRESS] and store.position("up") == 5


def test_new_only_stores_each_originator_once(store):
    uow = unit_of_work(store)
    old = [event(i) for i in range(3)]
    uow.commit(old[:2])
    assert uow.commit(old, new_only=True).existing == {old[0].originator_id, old[1].originator_id}
    assert uow.commit(old, new_only=True).existing == {e.originator_id for e in old}
    assert len(store.read(0, 100, topic_of(collector_pb2.SourceCreated))) == 3


def test_two_processes_on_one_store_extend_one_chain(store_config):
    """Two units of work over one store, each unaware of the other's records (replicas)."""
    first_store, second_store = open_store(store_config, "shared"), open_store(store_config, "shared")
    try:
        first, second = unit_of_work(first_store, "collector"), unit_of_work(second_store, "collector")
        for n in range(6):
            (first if n % 2 else second).decider.decide(EGRESS, question(n))
            (first if n % 2 else second).commit([event(n)])
        # The same question decided by both is recorded once by the second to learn of it.
        first.decider.decide(EGRESS, question(0))
        first.commit()
        chain = [Recorded("collector", i, r) for i, r in enumerate(records(first_store))]
        assert [r.record.sequence for r in chain] == list(range(1, 7))
        assert chain_breaks(chain) == []
    finally:
        first_store.close()
        second_store.close()


def test_transactions_are_serialised_and_a_failed_one_leaves_nothing(store):
    uow = unit_of_work(store)
    order: list[str] = []

    async def work(name: str, fail: bool = False):
        async with uow.transaction() as tx:
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            tx.add([event(len(order))])
            if fail:
                raise RuntimeError("fails")
            order.append(f"{name} out")

    async def scenario():
        results = await asyncio.gather(work("a"), work("b", fail=True), work("c"), return_exceptions=True)
        assert isinstance(results[1], RuntimeError)

    asyncio.run(scenario())
    assert order == ["a in", "a out", "b in", "c in", "c out"]
    assert len(store.read(0, 100, topic_of(collector_pb2.SourceCreated))) == 2
