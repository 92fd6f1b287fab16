"""No bad event stalls anything: a poison event injected past the collector, into each followed
log, is parked by its follower, the follower goes on, and a retry after the fix applies it once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.ops.v1 import ops_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.platform.auth import Caller, _current
from cdp.platform.ops import OpsServicer
from cdp.platform.published import decode, topic_of
from cdp.profile import application as profile_application
from support.calls import event, trait_condition
from support.harness import MARKETER, Harness

TS = "2026-11-30T10:00:00Z"
TRUNCATED = b"\x0a\xff"  # field 1, 255 bytes long, then nothing: no message parses from it

# (follower's service, upstream, topic it follows there)
FOLLOWED = [
    ("identity", "collector", collector_pb2.EventAccepted),
    ("profile", "collector", collector_pb2.EventAccepted),
    ("profile", "identity", identity_pb2.PersonsMerged),
    ("segment", "profile", profile_pb2.ProfileChanged),
    ("activation", "segment", segment_pb2.MembershipEntered),
]


def poison(topic) -> StoredEvent:
    return StoredEvent(uuid.uuid4(), 1, topic.DESCRIPTOR.full_name, TRUNCATED)


@pytest.mark.parametrize(("service", "upstream", "topic"), FOLLOWED, ids=[f"{s}<-{u}" for s, u, _ in FOLLOWED])
def test_a_poison_event_is_parked_and_the_follower_goes_on(tmp_path, service, upstream, topic):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            h.stores[upstream].append([poison(topic)])
            await h.ingest(key, [event("identify", "m1", TS, user_id="u1", traits={"plan": "pro"})])
            await h.settle()
            follower = h.follower(service, upstream)
            (parked,) = follower.parked.values()
            assert "DecodeError" in parked.error and parked.error_id
            assert parked.topic == topic.DESCRIPTOR.full_name
            # The next event went all the way through.
            person = h.identity.resolve("user_id", "u1")
            assert h.queries.get(person).traits["plan"].value == '"pro"'
            assert h.segment.members(audience.audience_id) == [person]
            # The parked record is in the follower's store, and survives a restart.
            records = h.stores[service].read(0, 10_000, topic_of(ops_pb2.EventParked))
            assert [decode(n.topic, n.state).position for n in records] == [parked.position]

    asyncio.run(scenario())


def test_a_parked_event_applies_once_after_the_fix_and_later_events_of_its_person_wait(tmp_path, monkeypatch):
    """A bug in profile fails on one person's call; that person's next call waits behind it while
    another person's goes through; after the fix, a retry applies both in order, once."""
    real = profile_application.person_traits

    def buggy(event):
        if event.user_id == "u1" and event.type == "identify":
            raise ValueError("a bug")
        return real(event)

    monkeypatch.setattr(profile_application, "person_traits", buggy)

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [event("identify", "m1", TS, user_id="u1", traits={"plan": "pro"})])
            await h.ingest(key, [event("track", "m2", TS, user_id="u1", event="Viewed")])
            await h.ingest(key, [event("identify", "m3", TS, user_id="u2", traits={"plan": "free"})])
            await h.settle()
            follower = h.follower("profile", "collector")
            assert len(follower.parked) == 2
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.queries.get(u2) is not None and h.queries.get(u1) is None

            profile_followers = [f for f in h.followers if f.store is h.stores["profile"]]
            ops = OpsServicer("profile", h.stores["profile"], profile_followers)
            _current.set(Caller("ops@example.com", ("admin",), "user"))
            status = await ops.GetStatus(ops_pb2.GetStatusRequest(), None)
            assert {f.upstream: f.parked for f in status.followers if f.upstream == "collector"}
            listed = await ops.ListParked(ops_pb2.ListParkedRequest(upstream="collector"), None)
            assert [p.error.startswith("ValueError") for p in listed.events] == [True, False]

            monkeypatch.setattr(profile_application, "person_traits", real)  # the fix
            reply = await ops.RetryParked(ops_pb2.RetryParkedRequest(upstream="collector"), None)
            assert (reply.applied, reply.still_parked) == (2, 0)
            reply = await ops.RetryParked(ops_pb2.RetryParkedRequest(upstream="collector"), None)
            assert (reply.applied, reply.still_parked) == (0, 0)
            h.projection.catch_up()
            profile = h.queries.get(u1)
            assert profile.traits["plan"].value == '"pro"' and profile.event_counts["Viewed"] == 1

    asyncio.run(scenario())
