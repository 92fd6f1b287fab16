"""Computed traits in profile: values from the calls profile follows, stored as traits, windows that
change at their exact instant with no traffic (across a restart too), and every fn equal to the
same question asked of DuckDB over the same calls."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import duckdb
import orjson
import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.auth import Caller
from cdp.platform.clock import ManualClock, format_iso
from cdp.platform.config import StoreConfig
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode
from cdp.platform.store import open_store
from cdp.profile.application import ProfileApp
from cdp.profile.computed import FNS
from cdp.profile.computing import ComputedTraits
from support.kernel import unit_of_work

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MARKETER = Caller("ana@example.com", ("marketer",))


class FakeIdentity:
    """Each user id is its own person."""

    async def resolve(self, identifiers, after_position: int = 0):
        return {k: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{k[0]}:{k[1]}")) for k in identifiers}


def person(user: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user_id:{user}"))


def call(
    event_id: str, user: str, at: datetime, name: str = "Order Completed", **properties
) -> collector_pb2.EventAccepted:
    event = event_pb2.Event(
        type="track",
        event=name,
        message_id=event_id,
        timestamp=format_iso(at),
        user_id=user,
        properties=json.dumps(properties),
    )
    return collector_pb2.EventAccepted(event_id=event_id, source_id="web", event=event)


class Profiles:
    def __init__(self, root, clock: ManualClock):
        self.store = open_store(StoreConfig(kind="sqlite", data_dir=root), "profile")
        self.uow = unit_of_work(self.store)
        self.clock = clock
        self.app = ProfileApp(self.uow, FakeIdentity(), clock)
        self.position = 0

    def restart(self) -> None:
        self.app = ProfileApp(self.uow, FakeIdentity(), self.clock)

    async def calls(self, *calls) -> list:
        notes = []
        for c in calls:
            self.position += 1
            notes.append(
                eventlog_pb2.Notification(
                    id=self.position,
                    topic=c.DESCRIPTOR.full_name,
                    originator_id=str(uuid.uuid4()),
                    originator_version=1,
                    payload=c.SerializeToString(),
                )
            )
        async with self.uow.transaction() as tx:
            events = await self.app.handle_collected(notes)
            tx.add(events)
        return [decode(e.topic, e.state) for e in events]

    def trait(self, user: str, name: str):
        profile = self.app.snapshots([person(user)])[0]
        trait = profile.traits.get(name)
        return None if trait is None else orjson.loads(trait.value)

    def changes(self, after: int) -> list[pb.ProfileChanged]:
        return [
            decode(n.topic, n.state)
            for n in self.store.replay([pb.ProfileChanged.DESCRIPTOR.full_name])
            if n.id > after
        ]


@pytest.fixture
def profiles(tmp_path):
    p = Profiles(tmp_path / "data", ManualClock(T0))
    yield p
    p.store.close()


def create(p: Profiles, name: str, definition: dict, caller: Caller = MARKETER):
    return asyncio.run(p.app.create_computed_trait(name, json.dumps(definition), caller))


def test_a_sum_over_30_days_drops_at_the_exact_instant_with_no_traffic_and_across_a_restart(profiles):
    p = profiles
    first, second = T0 - timedelta(days=10), T0 - timedelta(days=2)
    asyncio.run(p.calls(call("o1", "u1", first, total=50), call("o2", "u1", second, total=100)))
    trait = create(
        p, "revenue_30d", {"event": "Order Completed", "fn": "sum", "property": "total", "window": {"last": "P30D"}}
    )
    assert trait.version == 1 and trait.decision_id
    assert p.trait("u1", "revenue_30d") == 150  # backfilled over the calls seen so far
    stored = p.app.snapshots([person("u1")])[0].traits["revenue_30d"]
    assert stored.source_id == "computed" and stored.computed == "revenue_30d@1"
    edge = first + timedelta(days=30)
    assert p.app.computed.timers.earliest() == edge

    p.clock.current = edge - timedelta(days=5)
    p.restart()  # the timer is state: armed again from it
    assert p.app.arm_computed() == []
    assert p.app.computed.timers.earliest() == edge

    head = p.store.head()
    p.clock.current = edge - timedelta(milliseconds=1)
    asyncio.run(p.app.fire_due())
    assert p.trait("u1", "revenue_30d") == 150 and not p.changes(head)
    p.clock.current = edge
    asyncio.run(p.app.fire_due())
    assert p.trait("u1", "revenue_30d") == 100
    [changed] = p.changes(head)
    assert changed.changed_at == format_iso(edge)
    assert p.app.computed.timers.earliest() == second + timedelta(days=30)


def test_an_overdue_change_fires_at_start(profiles):
    p = profiles
    asyncio.run(p.calls(call("o1", "u1", T0 - timedelta(days=1), total=7)))
    create(p, "orders_7d", {"event": "Order Completed", "fn": "count", "window": {"last": "P7D"}})
    assert p.trait("u1", "orders_7d") == 1
    p.clock.current = T0 + timedelta(days=20)  # down while the edge passed
    p.restart()
    assert p.app.computed.timers.earliest() == p.clock.current  # due at once
    assert p.app.arm_computed() == [person("u1")]
    asyncio.run(p.app.fire_due())
    assert p.trait("u1", "orders_7d") == 0


def test_a_new_call_updates_the_value_in_the_same_profile_change(profiles):
    p = profiles
    create(p, "last_plan", {"event": "Plan Chosen", "fn": "last", "property": "plan"})
    asyncio.run(p.calls(call("c1", "u1", T0 - timedelta(hours=2), "Plan Chosen", plan="basic")))
    out = asyncio.run(p.calls(call("c2", "u1", T0 - timedelta(hours=1), "Plan Chosen", plan="pro")))
    [changed] = [m for m in out if isinstance(m, pb.ProfileChanged)]
    assert orjson.loads(changed.profile.traits["last_plan"].value) == "pro"
    assert changed.profile.traits["last_plan"].event_id == "c2"


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"event": "X", "fn": "median", "property": "total"}, "definition.fn"),
        ({"event": "X", "fn": "sum"}, "definition.property"),
        ({"event": "X", "fn": "count", "window": {"last": "P1M"}}, "definition.window.last"),
        (
            {"event": "X", "fn": "count", "where": [{"property": "a", "op": "near", "value": 1}]},
            "definition.where[0].op",
        ),
        ({"fn": "count"}, "definition.event"),
        ({"event": "X", "fn": "count", "color": 1}, "definition.color"),
    ],
)
def test_a_bad_definition_names_its_field(profiles, definition, field):
    with pytest.raises(InvalidArgument) as error:
        create(profiles, "t", definition)
    assert error.value.field == field
    assert not profiles.app.computed.traits


def test_a_sensitive_property_or_a_blocked_event_is_refused_and_recorded(profiles):
    with pytest.raises(PermissionDenied) as error:
        create(profiles, "t", {"event": "Prescription Filled", "fn": "count"})
    assert error.value.decision_id
    with pytest.raises(PermissionDenied):
        create(profiles, "t", {"event": "X", "fn": "last", "property": "health_condition"})
    assert not profiles.app.computed.traits


def test_a_sum_of_a_personal_property_is_refused(profiles):
    admin = Caller("ops@example.com", ("admin",))
    with pytest.raises(InvalidArgument) as error:
        create(profiles, "t", {"event": "X", "fn": "sum", "property": "email"}, admin)
    assert error.value.field == "definition.fn"


# Every fn against DuckDB -------------------------------------------------------------------------

PLANS = ["basic", "pro", "team", "enterprise"]


def _generated(seed: int):
    rng = random.Random(seed)
    calls = []
    for i in range(400):
        user = f"u{rng.randrange(12)}"
        at = T0 - timedelta(minutes=rng.randrange(60 * 24 * 60))
        props: dict = {"currency": rng.choice(["EUR", "USD"])}
        if rng.random() < 0.9:
            props["total"] = rng.choice([rng.randrange(1, 500), round(rng.uniform(1, 500), 2)])
        if rng.random() < 0.9:
            props["plan"] = rng.choice(PLANS)
        calls.append(call(f"e{i:04d}", user, at, rng.choice(["Order Completed", "Page Seen"]), **props))
    return calls


def _reference(rows, fn: str, prop: str, where_eur: bool, window_days: int | None):
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE calls (usr TEXT, ts TIMESTAMPTZ, id TEXT, event TEXT, currency TEXT, total DOUBLE, plan TEXT)"
    )
    con.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    v = "total" if prop == "total" else "plan"
    matched = "event = 'Order Completed'" + (" AND currency = 'EUR'" if where_eur else "")
    inside = f"ts > TIMESTAMPTZ '{T0.isoformat()}' - INTERVAL {window_days} DAY" if window_days else "TRUE"
    expr = {
        "count": "count(*) FILTER (WHERE inside)",
        "sum": f"coalesce(sum({v}) FILTER (WHERE inside), 0)",
        "avg": f"avg({v}) FILTER (WHERE inside)",
        "min": f"min({v}) FILTER (WHERE inside)",
        "max": f"max({v}) FILTER (WHERE inside)",
        "first": f"arg_min({v}, (ts, id)) FILTER (WHERE inside AND {v} IS NOT NULL)",
        "last": f"arg_max({v}, (ts, id)) FILTER (WHERE inside AND {v} IS NOT NULL)",
        "unique": f"list(DISTINCT {v} ORDER BY {v}) FILTER (WHERE inside AND {v} IS NOT NULL)",
        "unique_count": f"count(DISTINCT {v}) FILTER (WHERE inside)",
    }
    if fn == "most_frequent":
        query = f"""
            WITH c AS (SELECT usr, ts > TIMESTAMPTZ '{T0.isoformat()}' - INTERVAL {window_days or 100000} DAY AS inside,
                              {v} AS v FROM calls WHERE {matched}),
                 n AS (SELECT usr, v, count(*) AS k FROM c WHERE inside AND v IS NOT NULL
                       GROUP BY usr, v HAVING count(*) >= 2)
            SELECT DISTINCT c.usr, (SELECT v FROM n WHERE n.usr = c.usr ORDER BY k DESC, to_json(v)::TEXT LIMIT 1)
            FROM c"""
    else:
        query = f"SELECT usr, {expr[fn]} FROM (SELECT *, {inside} AS inside FROM calls WHERE {matched}) GROUP BY usr"
    return dict(con.execute(query).fetchall())


@pytest.mark.parametrize("fn", FNS)
def test_every_fn_equals_duckdb_over_the_same_calls(tmp_path, fn):
    p = Profiles(tmp_path / "data", ManualClock(T0))
    try:
        calls = _generated(7)
        asyncio.run(p.calls(*calls[:200]))
        prop = "plan" if fn in ("most_frequent", "first", "last", "unique", "unique_count") else "total"
        definitions = {
            "all_time": ({}, False, None),
            "eur_30d": (
                {"where": [{"property": "currency", "op": "eq", "value": "EUR"}], "window": {"last": "P30D"}},
                True,
                30,
            ),
        }
        for name, (extra, _, _) in definitions.items():
            body = {"event": "Order Completed", "fn": fn, **({} if fn == "count" else {"property": prop}), **extra}
            create(p, name, body)
        asyncio.run(p.calls(*calls[200:]))  # half backfilled, half followed
        rows = []
        for c in calls:
            props = json.loads(c.event.properties)
            rows.append(
                (
                    c.event.user_id,
                    c.event.timestamp,
                    c.event_id,
                    c.event.event,
                    props["currency"],
                    props.get("total"),
                    props.get("plan"),
                )
            )
        for name, (_, eur, days) in definitions.items():
            expected = _reference(rows, fn, prop, eur, days)
            for user, value in expected.items():
                got = p.trait(user, name)
                if value is None or (fn == "unique" and value is None):
                    assert got is None, (name, user)
                elif isinstance(value, float):
                    assert got == pytest.approx(value, rel=1e-9), (name, user)
                else:
                    assert got == value, (name, user, got, value)
    finally:
        p.store.close()


def test_a_merge_joins_both_persons_calls_and_a_split_parts_them_again(profiles):
    p = profiles
    create(p, "orders", {"event": "Order Completed", "fn": "count"})
    asyncio.run(p.calls(call("o1", "u1", T0 - timedelta(days=1)), call("o2", "u2", T0 - timedelta(hours=1))))
    survivor, merged = person("u1"), person("u2")

    async def identity(*records):
        async with p.uow.transaction() as tx:
            notes = [
                eventlog_pb2.Notification(id=i + 1, topic=r.DESCRIPTOR.full_name, payload=r.SerializeToString())
                for i, r in enumerate(records)
            ]
            tx.add(await p.app.handle_identity(notes))

    key = identity_pb2.Identifier(type="user_id", value="u2")
    asyncio.run(identity(identity_pb2.PersonsMerged(survivor_id=survivor, merged_id=merged, identifiers=[key])))
    assert p.trait("u1", "orders") == 2
    part = identity_pb2.PersonPart(person_id=merged, identifiers=[key])
    asyncio.run(identity(identity_pb2.PersonSplit(person_id=survivor, parts=[part])))
    assert p.trait("u1", "orders") == 1 and p.trait("u2", "orders") == 1


def test_a_call_with_no_time_is_left_out_not_a_crash():
    traits = ComputedTraits(None)
    traits.register(pb.ComputedTrait(name="n", definition_json='{"event": "X", "fn": "count"}', version=1))
    untimed = pb.TimelineEvent(event_id="e1", type="track", event="X", timestamp="soon", properties="{}")
    timed = pb.TimelineEvent(event_id="e2", type="track", event="X", timestamp=format_iso(T0), properties="{}")
    calls = [pb.ObservedCall(key_type="user_id", key_value="u", event=e) for e in (untimed, timed)]
    assert traits.observe(calls, T0) == {("user_id", "u")}
    values, _ = traits.values([("user_id", "u")], T0)
    assert values["n"].value == "1"
