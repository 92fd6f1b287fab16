"""Each application's commands and reactions, in one process (the harness), with no sockets."""

from __future__ import annotations

import asyncio

import pytest

from cdp.activation import domain as activation_domain
from cdp.api.activation.v1 import activation_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.identity.application import IdentityApp
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from cdp.platform.published import decode, topic_of
from cdp.profile.application import ProfileApp
from cdp.segment.application import SegmentApp
from support.calls import event, event_condition, trait_condition
from support.harness import ADMIN, MARKETER, Harness

TS = "2026-11-30T10:00:00Z"
ANALYST = Caller("bo@example.com", ("analyst",), "user")


def run(scenario):
    return asyncio.run(scenario())


def identify(message_id: str, ts: str = TS, **fields):
    return event("identify", message_id, ts, **fields)


def track(message_id: str, name: str, ts: str = TS, **fields):
    return event("track", message_id, ts, event=name, **fields)


LATER = "2026-11-30T12:00:00Z"
ANALYTICS = {"consent": {"categoryPreferences": {"analytics": True}}}  # what an analytics destination needs


def destination_request(audience_id: str, purpose: str = "analytics", **fields):
    return activation_pb2.CreateDestinationRequest(
        name="Hook", url="http://127.0.0.1:9/cdp", purpose=purpose, audience_ids=[audience_id], **fields
    )


# Identity --------------------------------------------------------------------------------------


def test_identity_links_merges_blocks_and_survives_a_rebuild(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    track("t0", "Viewed", anonymous_id="a9"),
                    identify("i1", user_id="u1", anonymous_id="a1", traits={"email": "Ada@Example.com"}),
                    identify("i2", anonymous_id="a2", context={"traits": {"email": "ada@example.com"}}),
                    identify("i3", user_id="u2", anonymous_id="a3"),
                    # Would join u1's person with u2's: a person holds one user id; the refusal is recorded.
                    identify("i4", user_id="u2", anonymous_id="a1"),
                    event("alias", "al1", TS, user_id="u1", previous_id="a9"),
                ],
            )
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert person and h.identity.resolve("email", "ADA@example.com") == person
            assert h.identity.resolve("anonymous_id", "a2") == person  # linked by the email
            assert h.identity.resolve("anonymous_id", "a9") == person  # the alias
            assert h.identity.resolve("user_id", "u2") != person
            calls = h.stores["identity"].read(0, 1000, topic_of(identity_pb2.CallEvidenced))
            refused = [e for n in calls for e in decode(n.topic, n.state).links if not e.active]
            assert [(e.a.value, e.b.value) for e in refused] == [("u2", "a1")]
            assert "at most 1 user_id" in refused[0].reason and refused[0].decision_id
            found = h.identity.person(person)
            assert {i.type for i in found.identifiers} >= {"user_id", "anonymous_id", "email"}
            assert all("@" not in i.value for i in found.identifiers)  # emails as their blind index

            # A restart folds the same graph from the store.
            again = IdentityApp(h.uows["identity"], h.vault, h.identity._index_key, h.identity.collector)
            assert again.resolve("email", "ada@example.com") == person
            assert again.person(person) == found

            persons, position = await h.identity.resolve_after([("user_id", "u1"), ("user_id", "nobody")], 0, 1)
            assert persons == [person, ""] and position == h.identity.collector.position

    run(scenario)


def test_identity_finds_persons_by_id_or_identifier_and_forgets_them(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", user_id="u1", traits={"email": "ada@example.com", "plan": "pro"})])
            await h.settle()
            person = h.identity.person_of("", ("email", "ada@example.com"))
            assert h.identity.person_of(person, None) == person
            with pytest.raises(NotFound, match="identifier"):
                h.identity.person_of("", ("user_id", "nobody"))
            with pytest.raises(InvalidArgument, match="person_id"):
                h.identity.person_of("", None)
            with pytest.raises(NotFound, match="person_id"):
                h.identity.person_of("00000000-0000-0000-0000-000000000001", None)
            with pytest.raises(Unavailable, match="after_position"):
                await h.identity.resolve_after([("user_id", "u1")], 10_000, 0.05)

            forgotten, destroyed, identifiers, suppressed = await h.identity.forget(person, "privacy@example.com")
            # The call's key (user_id:u1) and the email's own: the email is sealed under its own subject.
            assert (forgotten, destroyed, identifiers, suppressed) == (person, 2, 2, 2)
            await h.settle()
            assert h.identity.resolve("email", "ada@example.com") is None  # the email is gone
            assert h.identity.resolve("user_id", "u1") == person
            profile = h.queries.get(person)
            assert profile.traits["email"].erased and profile.traits["plan"].value == '"pro"'

    run(scenario)


# Profile ---------------------------------------------------------------------------------------


def test_profiles_count_events_keep_accounts_and_follow_merges(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    track("t1", "Viewed", "2026-11-30T11:00:00+01:00", anonymous_id="a1"),
                    identify("i1", user_id="u1", traits={"plan": "free"}),
                    event("group", "g1", TS, user_id="u1", group_id="acme", traits={"tier": "gold"}),
                    track("t2", "Viewed", user_id="u1"),
                ],
            )
            await h.settle()
            anonymous, known = h.identity.resolve("anonymous_id", "a1"), h.identity.resolve("user_id", "u1")
            assert anonymous != known
            # The anonymous visitor signs in: the two persons merge, and so do their profiles.
            await h.ingest(key, [identify("i2", LATER, user_id="u1", anonymous_id="a1", traits={"plan": "pro"})])
            await h.settle()
            survivor = h.identity.resolve("user_id", "u1")
            assert h.identity.resolve("anonymous_id", "a1") == survivor
            profile = h.profile.snapshots([survivor])[0]
            assert profile.event_counts["Viewed"] == 2
            assert profile.traits["plan"].value == '"pro"'
            assert [a.group_id for a in profile.accounts] == ["acme"]
            assert set(profile.merged_person_ids) == {anonymous, known} - {survivor}
            assert h.queries.get(anonymous if anonymous != survivor else known).person_id == survivor
            assert await h.profile.person_of("", ("user_id", "u1")) == survivor
            with pytest.raises(NotFound):
                await h.profile.person_of("", ("user_id", "nobody"))
            with pytest.raises(InvalidArgument):
                await h.profile.person_of("", None)

            again = ProfileApp(h.uows["profile"], h.profile.identity)
            assert again.snapshots([survivor]) == [profile]

    run(scenario)


# Segment ---------------------------------------------------------------------------------------


def test_audiences_start_from_current_profiles_and_follow_changes(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", user_id="u1", traits={"plan": "pro"})])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            assert h.segment.members(audience.audience_id) == [person]  # members from the profiles seen
            await h.ingest(key, [identify("i2", LATER, user_id="u1", traits={"plan": "free"})])
            await h.settle()
            assert h.segment.members(audience.audience_id) == []
            exits = h.stores["segment"].read(0, 1000, topic_of(segment_pb2.MembershipExited))
            assert len(exits) == 1

            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.audiences == h.segment.audiences and again.members(audience.audience_id) == []

            with pytest.raises(NotFound, match="audience_id"):
                h.segment.members("no-such-audience")
            with pytest.raises(InvalidArgument, match="conditions"):
                await h.segment.create_audience("Empty", [], MARKETER, purpose="marketing")
            with pytest.raises(InvalidArgument, match=r"conditions\[0\].trait.value"):
                bad = segment_pb2.Condition(trait=segment_pb2.TraitCondition(trait="plan", op="eq", value="{no"))
                await h.segment.create_audience("Bad", [bad], MARKETER, purpose="marketing")

    run(scenario)


def test_audience_refusals_are_recorded_decisions(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            for caller, conditions in (
                (ANALYST, [trait_condition("plan", "eq", "pro")]),
                (MARKETER, [trait_condition("religion", "exists", True)]),
            ):
                with pytest.raises(PermissionDenied) as refused:
                    await h.segment.create_audience("Refused", conditions, caller, purpose="marketing")
                assert refused.value.decision_id
                records = [
                    decode(n.topic, n.state)
                    for n in h.stores["segment"].read(0, 1000, ["cdp.policy.v1.DecisionRecorded"])
                ]
                assert refused.value.decision_id in {r.decision_id for r in records}
            assert h.segment.audiences == {}

    run(scenario)


def test_a_merge_moves_memberships_to_the_survivor(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Viewers", [event_condition("Viewed", 1)], MARKETER, purpose="marketing"
            )
            await h.ingest(key, [track("t1", "Viewed", anonymous_id="a1"), identify("i1", user_id="u1")])
            await h.settle()
            anonymous = h.identity.resolve("anonymous_id", "a1")
            assert h.segment.members(audience.audience_id) == [anonymous]
            await h.ingest(key, [identify("i2", user_id="u1", anonymous_id="a1")])
            await h.settle()
            survivor = h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == [survivor]

    run(scenario)


# Activation ------------------------------------------------------------------------------------


def test_destinations_are_checked_and_governed(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            with pytest.raises(InvalidArgument, match="audience_ids"):
                await h.activation.create_destination(destination_request("no-such-audience"), ADMIN)
            with pytest.raises(PermissionDenied, match="audience_ids") as refused:
                await h.activation.create_destination(destination_request(audience.audience_id), MARKETER)
            assert refused.value.decision_id
            with pytest.raises(InvalidArgument, match="purpose"):
                await h.activation.create_destination(destination_request(audience.audience_id, purpose=" "), ADMIN)
            with pytest.raises(InvalidArgument, match="url"):
                request = destination_request(audience.audience_id)
                request.url = "ftp://example.com"
                await h.activation.create_destination(request, ADMIN)
            created = await h.activation.create_destination(destination_request(audience.audience_id), ADMIN)
            assert list(h.activation.destinations) == [created.destination_id]

    run(scenario)


def test_a_destination_gets_current_members_then_changes_and_personal_data_as_policy_allows(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify("i1", user_id="u1", traits={"plan": "pro", "email": "ada@example.com"})])
            await h.settle()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            await h.settle()
            # Support may receive contact details; the current member goes out when it is created.
            await h.activation.create_destination(destination_request(audience.audience_id, "support"), ADMIN)
            await h.approve()  # it may send personal data: someone other than its author approves
            await h.settle()
            (first,) = h.destination.received
            assert first["body"]["type"] == "audience.entered"
            assert first["body"]["traits"]["email"] == "ada@example.com"  # decrypted only when sent

            await h.ingest(key, [identify("i2", LATER, user_id="u1", traits={"plan": "free"})])
            await h.settle()
            assert [r["body"]["type"] for r in h.destination.received] == ["audience.entered", "audience.exited"]

            # After forget, nothing personal of the person is sent again.
            person = h.identity.resolve("user_id", "u1")
            await h.identity.forget(person, "privacy@example.com")
            body = h.activation.deliveries[first["delivery_id"]].payload
            assert b"ada@example.com" not in h.activation.reveal(body)
            assert "email" in h.activation.reveal(body).decode()  # listed as erased

    run(scenario)


def test_failed_deliveries_are_retried_and_refused_ones_dead_lettered(tmp_path, monkeypatch):
    monkeypatch.setattr(activation_domain, "FIRST_BACKOFF_S", 0.01)

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            await h.activation.create_destination(destination_request(audience.audience_id), ADMIN)
            h.destination.failures = 2
            await h.ingest(key, [identify("i1", user_id="u1", traits={"plan": "pro"}, context=ANALYTICS)])
            await h.settle()
            for _ in range(300):
                if {d.status for d in h.activation.list_deliveries("", 10)} == {"delivered"}:
                    break
                await asyncio.sleep(0.02)
            (delivery,) = h.activation.list_deliveries("", 10)
            assert delivery.status == "delivered" and delivery.attempts == 3
            assert len(h.destination.received) == 1

            # A destination that refuses the delivery (400): dead-lettered at once, not retried.
            h.destination.failures, h.destination.status = 1, 400
            await h.ingest(key, [identify("i2", user_id="u2", traits={"plan": "pro"}, context=ANALYTICS)])
            await h.settle()
            for _ in range(300):
                if "dead_lettered" in {d.status for d in h.activation.list_deliveries("", 10)}:
                    break
                await asyncio.sleep(0.02)
            statuses = {d.person_id: (d.status, d.attempts) for d in h.activation.list_deliveries("", 10)}
            assert statuses[h.identity.resolve("user_id", "u2")] == ("dead_lettered", 1)
            assert h.activation.pending() == []

    run(scenario)


def test_profile_snapshots_and_queries_agree(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [identify(f"i{n}", user_id=f"u{n}", traits={"n": n}) for n in range(5)])
            await h.settle()
            persons = [h.identity.resolve("user_id", f"u{n}") for n in range(5)]
            snapshots = h.profile.snapshots(persons)
            assert [p.person_id for p in snapshots] == persons
            assert {p.person_id for p in h.queries.page("", 10)} == set(persons)
            assert all(isinstance(p, profile_pb2.Profile) for p in h.queries.many(persons))

    run(scenario)
