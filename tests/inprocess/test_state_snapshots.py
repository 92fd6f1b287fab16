"""Profile's, segment's and activation's snapshots (real SQLite files, the chain in one process): a
state restored from its snapshot and the log's tail equals the state folded from the whole log, as
it is restored and once every page is read; a snapshot that does not load (a page cut short,
another code's state) is ignored and the whole log folded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from cdp.api.activation.v1 import activation_pb2
from cdp.platform import snapshots as snapshots_module
from cdp.platform.snapshots import open_snapshots
from cdp.platform.state import EventSourced
from support.calls import event, event_condition, trait_condition
from support.harness import ADMIN, MARKETER, Harness
from support.states import in_order, observed

TS, LATER = "2026-11-30T10:00:00Z", "2026-11-30T12:00:00Z"
ANALYTICS = {"consent": {"categoryPreferences": {"analytics": True}}}


def make(h: Harness, service: str) -> Callable[..., EventSourced]:
    return lambda snapshots=None: h.restarted(service, snapshots)


async def history(h: Harness) -> str:
    """Calls, merges, accounts, audiences of traits and events, a destination and deliveries."""
    key = h.write_key()
    await h.ingest(
        key,
        [
            event("track", "t1", TS, event="Viewed", anonymous_id="a1", context=ANALYTICS),
            event("identify", "i1", TS, user_id="u1", traits={"plan": "pro"}, context=ANALYTICS),
            event("group", "g1", TS, user_id="u1", group_id="acme", traits={"tier": "gold"}),
            event("identify", "i2", TS, user_id="u2", traits={"plan": "pro"}, context=ANALYTICS),
            event("track", "b1", TS, event="Bought", user_id="u2", properties={"total": 70}),
            event("track", "b2", TS, event="Bought", user_id="u1", properties={"total": 20}),
        ],
    )
    await h.settle()
    pro = await h.segment.create_audience("Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="analytics")
    viewers = await h.segment.create_audience("Viewers", [event_condition("Viewed", 1)], MARKETER, purpose="analytics")
    buyers = {"event": "Bought", "where": [{"property": "total", "op": "gte", "value": 50}]}
    big = {**buyers, "aggregate": {"fn": "sum", "property": "total", "op": "gte", "value": 60}}
    made = await h.segment.create_audience(
        "Buyers", [], MARKETER, definition_json=json.dumps(buyers), purpose="analytics"
    )
    await h.segment.update_audience(made.audience_id, MARKETER, definition_json=json.dumps(big))
    await h.segment.archive_audience(viewers.audience_id, MARKETER)
    await h.settle()
    request_fields = {"name": "Hook", "url": "http://127.0.0.1:9/cdp", "purpose": "analytics"}
    await h.activation.create_destination(
        activation_pb2.CreateDestinationRequest(audience_ids=[pro.audience_id], **request_fields), ADMIN
    )
    await h.approve()
    await h.settle()
    return key


async def more(h: Harness, key: str) -> None:
    """After the snapshot: a merge, a trait change, new persons and calls."""
    await h.ingest(
        key,
        [
            event("identify", "i3", LATER, user_id="u1", anonymous_id="a1", traits={"plan": "free"}),
            event("track", "t2", LATER, event="Viewed", user_id="u3", context=ANALYTICS),
            event("identify", "i4", LATER, user_id="u4", traits={"plan": "pro"}, context=ANALYTICS),
            event("track", "b3", LATER, event="Bought", user_id="u4", properties={"total": 90}),
            event("track", "b4", LATER, event="Bought", anonymous_id="a1", properties={"total": 55}),
        ],
    )
    await h.settle()
    for _ in range(200):  # the deliveries' outcomes are recorded by the worker
        if all(d.attempts for d in h.activation.pending()):
            break
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("service", ["profile", "segment", "activation"])
def test_a_state_restored_from_its_snapshot_and_the_tail_equals_the_whole_fold(tmp_path, service):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = await history(h)
            new = make(h, service)
            store = open_snapshots(h.config.store, service)
            app = new(store)
            assert app.restored_from == 0  # none yet: the whole log
            position = await app.take_snapshot()
            assert position == h.stores[service].head()
            again = new(store)
            assert again.restored_from == position
            assert observed(again, service) == observed(new(), service)

            await more(h, key)
            tail, full = new(store), new()
            assert tail.restored_from == position < tail.position
            assert observed(tail, service) == observed(full, service)
            assert in_order(tail, service) == in_order(full, service)
            # Written again from a state restored (and read as touched), the snapshot holds the same.
            touched = new(store)
            await touched.take_snapshot()
            assert observed(new(store), service) == observed(full, service)
            store.close()

    asyncio.run(scenario())


def _cut_short(data: bytes) -> bytes:
    """The snapshot with the last byte of its first held mapping's pages cut off (checksummed again,
    as if so written)."""
    state = snapshots_module.decode(data)
    inner = state["state"]
    name = next(k for k, v in inner.items() if isinstance(v, dict) and "firsts" in v)
    inner[name] = {**inner[name], "pages": bytes(inner[name]["pages"])[:-1]}
    return snapshots_module.encode(state)


@pytest.mark.parametrize("service", ["profile", "segment", "activation"])
@pytest.mark.parametrize("damage", ["pages cut short", "another code's state"])
def test_a_snapshot_that_does_not_load_is_ignored_and_the_whole_log_folded(tmp_path, service, damage, caplog):
    async def scenario():
        async with Harness(tmp_path) as h:
            await history(h)
            new = make(h, service)
            store = open_snapshots(h.config.store, service)
            position = await new(store).take_snapshot()
            table = snapshots_module.snapshots
            with store.engine.begin() as conn:
                where = table.c.position == position
                if damage == "pages cut short":
                    bad = _cut_short(conn.execute(sa.select(table.c.data).where(where)).scalar_one())
                    conn.execute(table.update().where(where).values(data=bad, checksum=snapshots_module.checksum(bad)))
                else:
                    conn.execute(table.update().where(where).values(shape="0" * 64))
            again = new(store)
            assert again.restored_from == 0
            assert observed(again, service) == observed(new(), service)
            assert "ignored" in caplog.text
            store.close()

    asyncio.run(scenario())
