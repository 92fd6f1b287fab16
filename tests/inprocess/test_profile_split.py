"""A split reaches audiences: profile follows the collector and identity, segment follows profile.

Identity is stood in for by its log (synthetic merges and splits) and a Resolve that answers from a
table, so that this needs nothing of identity's application; the rest is wired as in the harness.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.platform import config as config_module
from cdp.platform.auth import Caller
from cdp.platform.eventlog import StoreLog, Upstream
from cdp.platform.follower import Follower
from cdp.platform.personal import open_vault, subject_of_call
from cdp.platform.published import stored
from cdp.platform.store import open_store
from cdp.profile.application import COLLECTOR_TOPICS, IDENTITY_TOPICS, ProfileApp
from cdp.segment.application import COLLECTOR_TOPICS as SEGMENT_COLLECTOR_TOPICS
from cdp.segment.application import PROFILE_TOPICS, SegmentApp
from support.calls import event_condition, trait_condition
from support.kernel import unit_of_work

MARKETER = Caller("ana@example.com", ("marketer",), "user")
U, A = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))


class Resolve:
    def __init__(self) -> None:
        self.owner: dict[tuple[str, str], str] = {}

    async def resolve(self, identifiers, after_position: int = 0):
        return {k: self.owner[k] for k in identifiers if k in self.owner}


class Chain:
    """Collector and identity logs written by hand; profile and segment following them."""

    def __init__(self, root) -> None:
        self.config = config_module.load("collector", ["--data-dir", str(root)])
        self.stores = {s: open_store(self.config.store, s) for s in ("collector", "identity", "profile", "segment")}
        self.uows = {s: unit_of_work(store, s) for s, store in self.stores.items()}
        self.identity = Resolve()
        self.profile = ProfileApp(self.uows["profile"], self.identity)
        profile_log = Upstream("profile", StoreLog(self.stores["profile"]), PROFILE_TOPICS)
        collector_log = Upstream("collector", StoreLog(self.stores["collector"]), SEGMENT_COLLECTOR_TOPICS)
        self.segment = SegmentApp(
            self.uows["segment"],
            profile_log,
            open_vault(self.config),
            collector=collector_log,
            identity=self.identity,
        )
        self.followers = [
            Follower(
                self.uows["profile"],
                Upstream("collector", StoreLog(self.stores["collector"]), COLLECTOR_TOPICS),
                self.profile.handle_collected,
                key=subject_of_call,
                wait_ms=20,
            ),
            Follower(
                self.uows["profile"],
                Upstream("identity", StoreLog(self.stores["identity"]), IDENTITY_TOPICS),
                self.profile.handle_identity,
                wait_ms=20,
            ),
            Follower(self.uows["segment"], profile_log, self.segment.handle_profiles, wait_ms=20),
            Follower(
                self.uows["segment"], collector_log, self.segment.handle_collected, key=subject_of_call, wait_ms=20
            ),
        ]
        self.tasks = [asyncio.create_task(f.run()) for f in self.followers]

    def call(self, event_id: str, ts: str, type_: str = "track", **fields) -> None:
        if "traits" in fields:
            fields["traits"] = json.dumps(fields["traits"])
        event = event_pb2.Event(type=type_, message_id=event_id, timestamp=ts, **fields)
        message = collector_pb2.EventAccepted(event_id=event_id, source_id="web", event=event)
        self.stores["collector"].append([stored(uuid.uuid4(), 1, message)])

    def published(self, message) -> None:
        self.stores["identity"].append([stored(uuid.uuid4(), 1, message)])

    async def settle(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            behind = [f for f in self.followers if self.stores[f.name].read(f.position, 1, f.upstream.topics)]
            if not behind:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("did not settle")

    async def stop(self) -> None:
        for follower in self.followers:
            follower.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for store in self.stores.values():
            store.close()


def identifiers(*keys) -> list[identity_pb2.Identifier]:
    return [identity_pb2.Identifier(type=t, value=v) for t, v in keys]


def test_a_split_moves_the_split_off_part_into_the_audiences_its_calls_qualify_for(tmp_path):
    async def scenario():
        chain = Chain(tmp_path)
        try:
            pro = await chain.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            buyers = await chain.segment.create_audience(
                "Buyers", [event_condition("Bought", 1)], MARKETER, purpose="marketing"
            )
            # The same from segment's own facts of the calls (which follow their key's person).
            since = json.dumps({"event": "Bought", "window": {"from": "2026-01-01T00:00:00Z"}})
            bought = await chain.segment.create_audience(
                "Bought this year", [], MARKETER, definition_json=since, purpose="marketing"
            )
            # Identity had linked the anonymous visitor to the signed-in user: one person.
            chain.identity.owner = {("user_id", "u1"): U, ("anonymous_id", "a1"): U}
            chain.call("e1", "2026-11-30T10:00:00Z", "identify", user_id="u1", traits={"plan": "free"})
            chain.call("e2", "2026-11-30T10:01:00Z", "identify", anonymous_id="a1", traits={"plan": "pro"})
            chain.call("e3", "2026-11-30T10:02:00Z", event="Bought", anonymous_id="a1")
            await chain.settle()
            assert chain.segment.members(pro.audience_id) == chain.segment.members(buyers.audience_id) == [U]
            assert chain.segment.members(bought.audience_id) == [U]

            # The link is retracted: the visitor is a person of its own again, with what it did.
            chain.identity.owner[("anonymous_id", "a1")] = A
            parts = [identity_pb2.PersonPart(person_id=A, identifiers=identifiers(("anonymous_id", "a1")))]
            chain.published(identity_pb2.PersonSplit(person_id=U, parts=parts, reason="retracted"))
            await chain.settle()
            assert chain.segment.members(pro.audience_id) == chain.segment.members(buyers.audience_id) == [A]
            assert chain.segment.members(bought.audience_id) == [A]
            assert chain.profile.snapshots([U])[0].traits["plan"].value == '"free"'

            # And merged again: the survivor has both again, the merged person leaves.
            chain.identity.owner[("anonymous_id", "a1")] = U
            chain.published(
                identity_pb2.PersonsMerged(survivor_id=U, merged_id=A, identifiers=identifiers(("anonymous_id", "a1")))
            )
            await chain.settle()
            assert chain.segment.members(pro.audience_id) == chain.segment.members(buyers.audience_id) == [U]
            assert chain.segment.members(bought.audience_id) == [U]
            again = SegmentApp(chain.uows["segment"], chain.segment.profile, chain.segment.vault)
            assert again.members(pro.audience_id) == [U]
        finally:
            await chain.stop()

    asyncio.run(scenario())


# With identity itself -------------------------------------------------------------------------


def test_a_retracted_link_splits_the_profile_and_the_audience_with_identity_itself(tmp_path):
    try:
        from support.harness import MARKETER as marketer
        from support.harness import Harness
    except AttributeError as error:  # identity's application does not run against its proto yet
        pytest.skip(f"identity does not run: {error}")

    from cdp.api.profile.v1 import profile_pb2
    from cdp.platform.published import decode, topic_of
    from support.calls import event

    def identify(message_id: str, ts: str, **fields):
        return event("identify", message_id, f"2026-11-30T10:0{ts}:00Z", **fields)

    async def scenario():
        async with Harness(tmp_path) as h:
            pro = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], marketer, purpose="marketing"
            )
            key = h.write_key()
            await h.ingest(
                key,
                [
                    identify("i1", "1", user_id="u1", anonymous_id="a1", traits={"plan": "free"}),
                    identify("i2", "2", anonymous_id="a2", traits={"email": "x@y.io", "plan": "pro"}),
                    # A bad call joins the two (the email typed on u1's device by someone else).
                    identify("bad", "3", anonymous_id="a1", traits={"email": "x@y.io"}),
                ],
            )
            await h.settle()
            u1 = h.identity.resolve("user_id", "u1")
            assert h.identity.resolve("anonymous_id", "a2") == u1
            assert h.segment.members(pro.audience_id) == [u1]
            (bad,) = {
                e.event_id
                for e in h.identity.graph.edges.values()
                if e.a[0] == "email" and e.b == ("anonymous_id", "a1")
            }
            await h.identity.retract("event_id", bad, "typed by someone else", "GDPR Art. 16", "steward")
            await h.settle()
            a2 = h.identity.resolve("anonymous_id", "a2")
            assert a2 != u1
            assert h.profile.snapshots([u1])[0].traits["plan"].value == '"free"'
            assert h.profile.snapshots([a2])[0].traits["plan"].value == '"pro"'
            assert dict(h.profile.snapshots([a2])[0].event_counts) == {"$identify": 1}
            assert h.queries.get(a2) == h.profile.snapshots([a2])[0]
            assert h.segment.members(pro.audience_id) == [a2]
            splits = [
                decode(n.topic, n.state) for n in h.stores["profile"].read(0, 1000, topic_of(profile_pb2.ProfileSplit))
            ]
            assert [(s.person_id, list(s.part_person_ids)) for s in splits] == [(u1, [u1, a2])]

    asyncio.run(scenario())
