"""`cdp bench audiences`: what re-evaluating audiences costs per profile change, and a backfill
beside DuckDB computing the same memberships.

- per change: segment's application with 100 audiences (created through the audience decision, on
  a fresh SQLite store), each over one of 10 traits and one of 10 event predicates with a window;
  every person evaluated once (as at start); a change of one trait answers again the leaves the
  index gives for it and re-evaluates the audiences whose leaves changed, from the cached truths
  (incremental), or all of the person's audiences with nothing cached (from scratch): p50 and p99
  in µs, and their ratio;
- backfill: 20 of those audiences over N generated profiles with the evaluator, and the same
  memberships in DuckDB SQL over the same rows, in the same run; the answers must be equal.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cdp.api.profile.v1 import profile_pb2
from cdp.platform.auth import Caller
from cdp.platform.config import REPO_POLICIES, StoreConfig
from cdp.platform.decisions import Decider
from cdp.platform.eventlog import StoreLog, Upstream
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.segment import engine, language
from cdp.segment.application import SegmentApp

TRAITS = [f"score_{i}" for i in range(10)]
EVENTS = [f"Event {i}" for i in range(10)]
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CALLER = Caller("bench@example.com", ("marketer",), "user")


@dataclass
class AudienceSettings:
    audiences: int = 100
    changes: int = 2000
    profiles: int = 100_000
    backfill_audiences: int = 20
    seed: int = 11


def definition(i: int) -> dict:
    """Audience i: a trait threshold and a windowed event count, in one of three shapes."""
    trait = {"trait": TRAITS[i % 10], "op": "gte", "value": (i * 7) % 100}
    days = 7 + (i % 4) * 7
    event = {
        "event": EVENTS[(i // 10) % 10],
        "count": {"op": "gte", "value": 1 + i % 3},
        "window": {"last": f"P{days}D"},
    }
    shape = i % 3
    if shape == 0:
        return {"all": [trait, event]}
    if shape == 1:
        return {"any": [trait, event]}
    return {"all": [trait, {"not": event}]}


def sql(i: int) -> str:
    trait, threshold = TRAITS[i % 10], (i * 7) % 100
    days, name, n = 7 + (i % 4) * 7, EVENTS[(i // 10) % 10], 1 + i % 3
    counted = f"""(select person from calls where name = '{name}' and t > $now - interval {days} day
        and t <= $now group by person having count(*) >= {n})"""
    if i % 3 == 0:
        return f"select person from traits where {trait} >= {threshold} and person in {counted}"
    if i % 3 == 1:
        return f"select person from traits where {trait} >= {threshold} union select person from {counted}"
    return f"select person from traits where {trait} >= {threshold} and person not in {counted}"


def generated(profiles: int, rng: random.Random):
    traits = [{t: rng.randrange(0, 100) for t in TRAITS} for _ in range(profiles)]
    calls = []
    for person in range(profiles):
        for _ in range(rng.randrange(0, 6)):
            calls.append((person, rng.choice(EVENTS), NOW - timedelta(seconds=rng.randrange(0, 35 * 86400))))
    return traits, calls


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _per_change(settings: AudienceSettings, root: Path, rng: random.Random) -> dict:
    bundle = load_bundle(REPO_POLICIES)
    store = open_store(StoreConfig(kind="sqlite", data_dir=root), "segmentbench")
    uow = UnitOfWork(store, Decider(make_engine("embedded", bundle), store, "bench", bundle.sources()))

    app = SegmentApp(uow, Upstream("profile", StoreLog(store), []))  # profiles are set directly
    for i in range(settings.audiences):
        await app.create_audience(
            f"bench {i}", [], CALLER, definition_json=json.dumps(definition(i)), purpose="marketing"
        )
    persons = [f"00000000-0000-4000-8000-{i:012d}" for i in range(200)]
    predicates = {p.event: p for d in app.definitions.values() for p in engine.predicates(d.root)}
    for person in persons:
        app.profiles[person] = _profile(person, {t: rng.randrange(0, 100) for t in TRAITS})
        facts = app.facts.setdefault(person, {})
        for predicate in predicates.values():
            f = facts.setdefault(predicate, engine.Facts())
            for _ in range(rng.randrange(0, 4)):
                f.add(NOW - timedelta(seconds=rng.randrange(0, 30 * 86400)), {})
    app.clock = _Fixed(NOW)
    opened = app.literals.opened(app.definitions)
    for person in persons:  # as after start: every person evaluated once
        app.evaluate_person(person, None, "timer", definitions=opened, emit=False)
    incremental, scratch = [], []
    for _ in range(settings.changes):
        person = rng.choice(persons)
        before = app.profiles[person]
        changed = {**{k: int(v.value) for k, v in before.traits.items()}, rng.choice(TRAITS): rng.randrange(0, 100)}
        after = _profile(person, changed)
        started = time.perf_counter()
        app.profiles[person] = after  # as handle_profiles keeps it
        touched = app._touched(before, after)
        app.evaluate_person(person, touched, "trait", definitions=opened, emit=False)
        incremental.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        app.evaluate_person(person, None, "trait", definitions=opened, emit=False)
        scratch.append((time.perf_counter() - started) * 1e6)
    store.close()
    return {
        "incremental_p50_us": _percentile(incremental, 0.5),
        "incremental_p99_us": _percentile(incremental, 0.99),
        "scratch_p50_us": _percentile(scratch, 0.5),
        "scratch_p99_us": _percentile(scratch, 0.99),
        "scratch_over_incremental": statistics.median(scratch) / statistics.median(incremental),
    }


class _Fixed:
    def __init__(self, now: datetime):
        self.current = now

    def now(self) -> datetime:
        return self.current


def _profile(person: str, traits: dict[str, int]) -> profile_pb2.Profile:
    return profile_pb2.Profile(
        person_id=person, traits={k: profile_pb2.TraitValue(value=json.dumps(v)) for k, v in traits.items()}
    )


def _facts(facts: dict[language.Predicate, engine.Facts], predicate: language.Predicate) -> engine.Facts:
    return facts.get(predicate, engine.EMPTY)


def _backfill(settings: AudienceSettings, rng: random.Random) -> dict:
    import duckdb

    traits, calls = generated(settings.profiles, rng)
    chosen = list(range(settings.backfill_audiences))
    trees = [language.parse(definition(i)) for i in chosen]
    started = time.perf_counter()
    by_person: dict[int, dict[language.Predicate, engine.Facts]] = {}
    for person, name, t in sorted(calls, key=lambda c: c[2]):
        by_person.setdefault(person, {}).setdefault(language.Predicate(name), engine.Facts()).add(t, {})
    ours: list[set[int]] = [set() for _ in chosen]
    for person, values in enumerate(traits):
        facts = by_person.get(person, {})
        p = engine.Person(values, {}, functools.partial(_facts, facts), lambda _a: False)
        for k, tree in enumerate(trees):
            if engine.evaluate(tree, p, NOW)[0]:
                ours[k].add(person)
    ours_s = time.perf_counter() - started

    db = duckdb.connect()
    db.execute("create table traits (person integer, " + ", ".join(f"{t} integer" for t in TRAITS) + ")")
    db.executemany(
        f"insert into traits values ({', '.join('?' * (len(TRAITS) + 1))})",
        [[i, *(v[t] for t in TRAITS)] for i, v in enumerate(traits)],
    )
    db.execute("create table calls (person integer, name varchar, t timestamptz)")
    db.executemany("insert into calls values (?, ?, ?)", calls)
    started = time.perf_counter()
    theirs = [{row[0] for row in db.execute(sql(i), {"now": NOW}).fetchall()} for i in chosen]
    duck_s = time.perf_counter() - started
    return {
        "backfill_profiles": settings.profiles,
        "backfill_audiences": len(chosen),
        "backfill_ours_s": ours_s,
        "backfill_duckdb_s": duck_s,
        "backfill_equal": ours == theirs,
        "backfill_members": sum(len(s) for s in ours),
    }


def run(settings: AudienceSettings) -> dict:
    rng = random.Random(settings.seed)
    with tempfile.TemporaryDirectory(prefix="cdp-bench-audiences-") as root:
        result = asyncio.run(_per_change(settings, Path(root), rng))
    result.update(_backfill(settings, rng))
    return result
