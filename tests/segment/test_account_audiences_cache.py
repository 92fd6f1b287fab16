"""The cached truths answer as the evaluator does from scratch: random profile changes (traits
crossing numeric thresholds or not, values of other types, removed traits), accounts joined and
left, and account traits changed are fed to segment's profile follower, and after each one every
person's and every account's memberships equal engine.evaluate() over the same state."""

from __future__ import annotations

import asyncio
import json
import random
from types import SimpleNamespace

from cdp.api.profile.v1 import profile_pb2
from cdp.platform.auth import Caller
from cdp.platform.config import REPO_POLICIES, StoreConfig
from cdp.platform.decisions import Decider
from cdp.platform.eventlog import StoreLog, Upstream
from cdp.platform.policy import load_bundle, make_engine
from cdp.platform.store import open_store
from cdp.platform.unit_of_work import UnitOfWork
from cdp.segment import engine
from cdp.segment.application import SegmentApp, decoded_trait

CALLER = Caller("ana@example.com", ("marketer",), "user")
PERSONS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(12)]
ACCOUNTS = ["acme", "initech", "globex"]
ADMIN = {"trait": "role", "op": "eq", "value": "admin"}
DEFINITIONS = [
    ("person", {"trait": "score", "op": "gte", "value": 50}),
    ("person", {"any": [{"trait": "score", "op": "lt", "value": 20}, {"trait": "score", "op": "gt", "value": 80}]}),
    ("person", {"all": [{"trait": "score", "op": "lte", "value": 50}, {"not": ADMIN}]}),
    ("person", {"account": {"any": {"trait": "score", "op": "gte", "value": 70}}}),
    (
        "person",
        {
            "all": [
                {"account_trait": "plan", "op": "eq", "value": "pro"},
                {"account": {"all": {"not": {"trait": "role", "op": "eq", "value": "viewer"}}}},
            ]
        },
    ),
    ("person", {"not": {"account": {"none": {"trait": "score", "op": "gt", "value": 30}}}}),
    ("account", {"account": {"all": {"trait": "score", "op": "gte", "value": 40}}}),
    ("account", {"all": [{"account_trait": "plan", "op": "neq", "value": "free"}, {"account": {"any": ADMIN}}]}),
    ("account", {"account": {"none": {"all": [ADMIN, {"trait": "score", "op": "lt", "value": 10}]}}}),
]


def notification(message) -> SimpleNamespace:
    return SimpleNamespace(topic=message.DESCRIPTOR.full_name, payload=message.SerializeToString())


def profile(person: str, traits: dict, accounts: list[str]) -> profile_pb2.Profile:
    return profile_pb2.Profile(
        person_id=person,
        traits={k: profile_pb2.TraitValue(value=json.dumps(v)) for k, v in traits.items()},
        accounts=[profile_pb2.Account(group_id=a) for a in accounts],
    )


def account(group_id: str, plan) -> profile_pb2.Account:
    traits = {} if plan is None else {"plan": profile_pb2.TraitValue(value=json.dumps(plan))}
    return profile_pb2.Account(group_id=group_id, traits=traits)


def expected(app: SegmentApp) -> dict[str, set[str]]:
    """Every audience's members, by the evaluator from scratch over segment's state."""
    now = app.clock.now()

    def person(p: str) -> engine.Person:
        found = app.profiles.get(p)
        traits = {n: decoded_trait(found.traits.get(n), n, None) for n in found.traits} if found else {}
        return engine.Person(traits, {}, lambda _p: engine.EMPTY, lambda _a: False, lambda: accounts_of(p))

    def account_view(a: str) -> engine.Account:
        found = app.accounts.traits.get(a)
        traits = {n: decoded_trait(found.traits.get(n), n, None) for n in found.traits} if found else {}
        members = sorted(app.accounts.members_of(a))
        return engine.Account(traits, lambda: [person(m) for m in members], lambda _a: False)

    def accounts_of(p: str) -> list[engine.Account]:
        return [account_view(a) for a in sorted(app.accounts.accounts_of(p))]

    out: dict[str, set[str]] = {}
    for audience_id, definition in app.definitions.items():
        if definition.level == "account":
            subjects = {a: account_view(a) for a in app.accounts.known()}
        else:
            subjects = {p: person(p) for p in app.profiles}
        out[audience_id] = {s for s, view in subjects.items() if engine.evaluate(definition.root, view, now)[0]}
    return out


def test_cached_truths_answer_as_the_evaluator_from_scratch(tmp_path):
    async def scenario():
        bundle = load_bundle(REPO_POLICIES)
        store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "segment")
        uow = UnitOfWork(store, Decider(make_engine("embedded", bundle), store, "test", bundle.sources()))
        app = SegmentApp(uow, Upstream("profile", StoreLog(store), []))
        for i, (level, definition) in enumerate(DEFINITIONS):
            await app.create_audience(
                f"a{i}", [], CALLER, definition_json=json.dumps(definition), level=level, purpose="marketing"
            )
        rng = random.Random(5)
        traits = {p: {} for p in PERSONS}
        joined: dict[str, list[str]] = {p: [] for p in PERSONS}
        checked, held = 0, set()
        for step in range(400):
            kind = rng.random()
            if kind < 0.15:
                message = profile_pb2.AccountChanged(
                    account=account(rng.choice(ACCOUNTS), rng.choice(["pro", "free", "team", None]))
                )
            else:
                p = rng.choice(PERSONS)
                if kind < 0.35:
                    joined[p] = sorted(rng.sample(ACCOUNTS, rng.randrange(0, 3)))
                elif kind < 0.45:
                    traits[p]["role"] = rng.choice(["admin", "viewer"])
                else:
                    # Often exactly at a threshold: the edges of the ranges a change may flip.
                    at = rng.choice([10, 20, 30, 40, 50, 70, 80])
                    value = rng.choice([rng.randrange(0, 101), at, at, rng.randrange(0, 101), "high", None, True])
                    if value is None:
                        traits[p].pop("score", None)
                    else:
                        traits[p]["score"] = value
                message = profile_pb2.ProfileChanged(profile=profile(p, traits[p], joined[p]))
            await app.handle_profiles([notification(message)])
            want = expected(app)
            for audience_id in app.definitions:
                assert set(app.memberships.members.get(audience_id, ())) == want[audience_id], (step, audience_id)
                checked += 1
            held |= {a for a, members in want.items() if members}
        assert checked == 400 * len(DEFINITIONS)
        assert held == set(app.definitions)  # each audience held someone at some step
        store.close()

    asyncio.run(scenario())
