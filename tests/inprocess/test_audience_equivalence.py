"""Audiences in the condition language's JSON form, evaluated incrementally (calls, profile changes
and timers) over a generated set of calls, hold exactly the persons DuckDB's SQL finds on the same
calls, at each of several instants as the clock moves (with no traffic in between).

The SQL of each definition is written by hand from the language's documented semantics: an event
in "the last d" has now - d < t <= now; "between far and near" has now - far < t <= now - near; a
funnel's second step comes at or after the first and within d of it; "not followed" holds once d has
passed; within_next d is now < t <= now + d; a missing trait holds nothing but not_exists.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta

import duckdb

from cdp.platform.clock import format_iso
from support.calls import event
from support.harness import MARKETER, START, Harness

PERSONS = 40
DAY = 86400.0

# (name, definition, SQL selecting user_id; :now is the instant). Tables: calls(user_id, name, t,
# total) and persons(user_id, plan, renewal_at).
CASES = [
    (
        "bought lately",
        {"event": "Bought", "window": {"last": "P30D"}},
        "select user_id from calls where name = 'Bought' and t > $now - interval 30 day and t <= $now",
    ),
    (
        "lapsed twice",
        {"event": "Bought", "count": {"op": "gte", "value": 2}, "window": {"between": ["P90D", "P30D"]}},
        """select user_id from calls where name = 'Bought' and t > $now - interval 90 day
           and t <= $now - interval 30 day group by user_id having count(*) >= 2""",
    ),
    (
        "pro not viewing",
        {
            "all": [
                {"trait": "plan", "op": "eq", "value": "pro"},
                {"not": {"event": "Viewed", "window": {"last": "P7D"}}},
            ]
        },
        """select user_id from persons where plan = 'pro' and user_id not in (select user_id from calls
           where name = 'Viewed' and t > $now - interval 7 day and t <= $now)""",
    ),
    (
        "paying or big twice",
        {
            "any": [
                {"trait": "plan", "op": "in", "value": ["team", "pro"]},
                {
                    "event": "Bought",
                    "where": [{"property": "total", "op": "gte", "value": 50}],
                    "count": {"op": "gte", "value": 2},
                },
            ]
        },
        """select user_id from persons where plan in ('team', 'pro') union select user_id from calls
           where name = 'Bought' and total >= 50 and t <= $now group by user_id having count(*) >= 2""",
    ),
    (
        "spent 150 in 60 days",
        {
            "event": "Bought",
            "aggregate": {"fn": "sum", "property": "total", "op": "gte", "value": 150},
            "window": {"last": "P60D"},
        },
        """select user_id from calls where name = 'Bought' and t > $now - interval 60 day and t <= $now
           group by user_id having sum(total) >= 150""",
    ),
    (
        "max order under 30",
        {"event": "Bought", "aggregate": {"fn": "max", "property": "total", "op": "lt", "value": 30}},
        "select user_id from calls where name = 'Bought' and t <= $now group by user_id having max(total) < 30",
    ),
    (
        "viewed then bought in a day",
        {"funnel": [{"event": "Viewed"}, {"event": "Bought"}], "within": "P1D"},
        """select distinct a.user_id from calls a join calls b on a.user_id = b.user_id
           where a.name = 'Viewed' and b.name = 'Bought' and b.t >= a.t and b.t <= a.t + interval 1 day
           and b.t <= $now""",
    ),
    (
        "viewed, no purchase in 2 days",
        {"funnel": [{"event": "Viewed"}, {"event": "Bought"}], "within": "P2D", "negate_last": True},
        """select distinct a.user_id from calls a where a.name = 'Viewed' and a.t + interval 2 day <= $now
           and not exists (select 1 from calls b where b.user_id = a.user_id and b.name = 'Bought'
           and b.t >= a.t and b.t <= a.t + interval 2 day)""",
    ),
    (
        "never bought",
        {"event": "Bought", "count": {"op": "eq", "value": 0}},
        """select user_id from persons where user_id not in
           (select user_id from calls where name = 'Bought' and t <= $now)""",
    ),
    (
        "not free",
        {"trait": "plan", "op": "neq", "value": "free"},
        "select user_id from persons where plan is not null and plan <> 'free'",
    ),
    (
        "viewed 2 to 4 times in 14 days",
        {"event": "Viewed", "count": {"op": "between", "value": [2, 4]}, "window": {"last": "P14D"}},
        """select user_id from calls where name = 'Viewed' and t > $now - interval 14 day and t <= $now
           group by user_id having count(*) between 2 and 4""",
    ),
    (
        "renewing within 30 days",
        {"trait": "renewal_at", "op": "within_next", "value": "P30D"},
        "select user_id from persons where renewal_at > $now and renewal_at <= $now + interval 30 day",
    ),
]


def generated(seed: int = 7):
    """Persons with a plan (or none) and a renewal date, and their calls over the last 100 days
    and the next 40 (calls whose time has not come count from their time)."""
    rng = random.Random(seed)
    persons, calls = [], []
    for i in range(PERSONS):
        user = f"u{i}"
        plan = rng.choice(["free", "pro", "team", None])
        renewal = START + timedelta(seconds=rng.randrange(-20 * 86400, 90 * 86400))
        persons.append((user, plan, renewal))
        for j in range(rng.randrange(0, 12)):
            name = rng.choice(["Viewed", "Viewed", "Bought"])
            t = START + timedelta(seconds=rng.randrange(-100 * 86400, 40 * 86400))
            total = rng.randrange(5, 120) if name == "Bought" else None
            calls.append((user, name, t, total, f"c{i}-{j}"))
        if i % 4 == 0:  # a view and a purchase up to two days later: some funnels convert
            t = START + timedelta(seconds=rng.randrange(-10 * 86400, 10 * 86400))
            later = t + timedelta(seconds=rng.randrange(0, 2 * 86400))
            calls += [(user, "Viewed", t, None, f"v{i}"), (user, "Bought", later, rng.randrange(5, 120), f"b{i}")]
    return persons, calls


def expected(db, sql: str, now) -> set[str]:
    return {row[0] for row in db.execute(sql, {"now": now} if "$now" in sql else {}).fetchall()}


def test_memberships_equal_duckdb_sql_at_every_instant(tmp_path):
    persons, calls = generated()
    db = duckdb.connect()
    db.execute("create table persons (user_id varchar, plan varchar, renewal_at timestamptz)")
    db.execute("create table calls (user_id varchar, name varchar, t timestamptz, total double)")
    db.executemany("insert into persons values (?, ?, ?)", persons)
    db.executemany("insert into calls values (?, ?, ?, ?)", [c[:4] for c in calls])

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audiences = {}
            half = len(CASES) // 2
            for name, definition, _ in CASES[:half]:  # some before the calls, some after (backfilled)
                audiences[name] = await h.segment.create_audience(
                    name, [], MARKETER, definition_json=json.dumps(definition), purpose="marketing"
                )
            identifies = []
            for user, plan, renewal in persons:
                traits = {"renewal_at": format_iso(renewal), **({"plan": plan} if plan else {})}
                identifies.append(
                    event("identify", f"i-{user}", format_iso(START - timedelta(days=120)), user_id=user, traits=traits)
                )
            await h.ingest(key, identifies)
            tracks = [
                event(
                    "track",
                    mid,
                    format_iso(t),
                    user_id=user,
                    event=name,
                    properties={"total": total} if total is not None else {},
                )
                for user, name, t, total, mid in calls
            ]
            for i in range(0, len(tracks), 100):
                await h.ingest(key, tracks[i : i + 100])
            await h.settle()
            for name, definition, _ in CASES[half:]:
                audiences[name] = await h.segment.create_audience(
                    name, [], MARKETER, definition_json=json.dumps(definition), purpose="marketing"
                )
            user_of = {h.identity.resolve("user_id", user): user for user, _, _ in persons}
            checked = 0
            for step in [0, DAY / 3, 2 * DAY, 5.5 * DAY, 20 * DAY, 11 * DAY, 30 * DAY, 61 * DAY]:
                h.clock.advance(step)
                await h.segment.fire_due()
                now = h.clock.now()
                for name, _, sql in CASES:
                    got = {user_of[p] for p in h.segment.members(audiences[name].audience_id)}
                    assert got == expected(db, sql, now), (name, format_iso(now))
                    checked += 1
            assert checked == 8 * len(CASES)
            # The set is not trivial: each audience holds someone at some instant and not everyone.
            sizes = [len(h.segment.members(a.audience_id)) for a in audiences.values()]
            assert sizes != [0] * len(sizes)

    asyncio.run(scenario())
