"""An audience's life after creation, in process: a new version re-evaluates its members (entries and
exits say "updated" with the new version), an archive empties it and takes it out of use, a preview
answers as create would without storing anything, members come in pages with a total, and the
history of entries and exits is served per audience and per person, newest first."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from cdp.segment.application import SegmentApp
from support.calls import event, trait_condition
from support.harness import MARKETER, Harness

TS = "2026-11-30T10:00:00Z"
LATER = "2026-11-30T11:00:00Z"  # a change wins over what it changes by its time
ANALYST = Caller("bo@example.com", ("analyst",), "user")
PLANS = {"u1": "pro", "u2": "pro", "u3": "free", "u4": "team", "u5": "pro"}
LIFECYCLE = topic_of(segment_pb2.AudienceCreated, segment_pb2.AudienceUpdated, segment_pb2.AudienceArchived)
MEMBERSHIPS = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)


def run(scenario):
    asyncio.run(scenario())


async def people(h: Harness) -> dict[str, str]:
    """Five persons with plans; user id -> person id."""
    key = h.write_key()
    await h.ingest(
        key,
        [
            event("identify", f"i-{user}", TS, user_id=user, traits={"plan": plan, "seats": i})
            for i, (user, plan) in enumerate(sorted(PLANS.items()))
        ],
    )
    await h.settle()
    return {user: h.identity.resolve("user_id", user) for user in PLANS}


def stored(h: Harness, topics) -> list:
    return [decode(n.topic, n.state) for n in h.stores["segment"].read(0, 10_000, topics)]


def decisions(h: Harness) -> list:
    return stored(h, ["cdp.policy.v1.DecisionRecorded"])


def test_an_update_re_evaluates_members_with_cause_updated_and_the_new_version(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            pro = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            assert pro.version == 1 and pro.purpose == "marketing" and pro.status == "active"
            assert h.segment.members(pro.audience_id) == sorted(ids[u] for u in ("u1", "u2", "u5"))

            definition = {
                "any": [{"trait": "plan", "op": "eq", "value": "team"}, {"trait": "seats", "op": "lte", "value": 0}]
            }
            updated = await h.segment.update_audience(
                pro.audience_id,
                MARKETER,
                name="Team or first",
                purpose="analytics",
                definition_json=json.dumps(definition),
            )
            assert (updated.version, updated.name, updated.purpose) == (2, "Team or first", "analytics")
            assert updated.updated_by == MARKETER.subject and updated.update_decision_id
            assert not updated.conditions and updated.HasField("definition")
            # u1 has seats 0 and stays; u2 and u5 leave; u4 (team) enters.
            assert h.segment.members(pro.audience_id) == sorted([ids["u1"], ids["u4"]])
            changes = stored(h, MEMBERSHIPS)[-3:]
            assert {(type(c).__name__, c.person_id, c.audience_version, c.cause) for c in changes} == {
                ("MembershipExited", ids["u2"], 2, "updated"),
                ("MembershipExited", ids["u5"], 2, "updated"),
                ("MembershipEntered", ids["u4"], 2, "updated"),
            }

            # History: newest first, per audience and per person, with version and cause.
            page, _ = h.segment.membership_history(pro.audience_id)
            assert [(c.person_id, c.entered, c.audience_version, c.cause) for c in page[:3]] == [
                (c.person_id, isinstance(c, segment_pb2.MembershipEntered), 2, "updated") for c in reversed(changes)
            ]
            assert len(page) == 6  # three entered at creation, three changes since
            mine, _ = h.segment.membership_history(person_id=ids["u2"])
            assert [(c.entered, c.audience_version, c.cause) for c in mine] == [
                (False, 2, "updated"),
                (True, 1, "created"),
            ]
            both, _ = h.segment.membership_history(pro.audience_id, ids["u4"])
            assert [(c.entered, c.cause) for c in both] == [(True, "updated")]

            # Only the name changes: the definition (and membership) stays, the version moves on.
            renamed = await h.segment.update_audience(pro.audience_id, MARKETER, name="Renamed")
            assert (renamed.version, renamed.purpose, renamed.definition) == (3, "analytics", updated.definition)
            assert h.segment.members(pro.audience_id) == sorted([ids["u1"], ids["u4"]])

            # A rebuild from the log gives the same audience, members and history.
            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.audience(pro.audience_id) == renamed
            assert again.members(pro.audience_id) == h.segment.members(pro.audience_id)
            assert again.membership_history(pro.audience_id) == h.segment.membership_history(pro.audience_id)

    run(scenario)


def test_an_update_may_make_an_older_audience_use_a_newer_one(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            first = await h.segment.create_audience(
                "Free", [trait_condition("plan", "eq", "free")], MARKETER, purpose="marketing"
            )
            pro = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            of_first = await h.segment.create_audience(
                "In free",
                [],
                MARKETER,
                definition_json=json.dumps({"audience": first.audience_id}),
                purpose="marketing",
            )
            await h.segment.update_audience(
                first.audience_id, MARKETER, definition_json=json.dumps({"audience": pro.audience_id})
            )
            assert h.segment.members(first.audience_id) == h.segment.members(pro.audience_id)
            assert h.segment.members(of_first.audience_id) == h.segment.members(pro.audience_id)
            # A change of the newer one reaches the older one that uses it now.
            await h.ingest(
                h.write_key("more"), [event("identify", "i-u1-free", LATER, user_id="u1", traits={"plan": "free"})]
            )
            await h.settle()
            assert ids["u1"] not in h.segment.members(first.audience_id)
            assert h.segment.members(first.audience_id) == h.segment.members(pro.audience_id)
            # ... and the audience using the older one, evaluated after it.
            assert h.segment.members(of_first.audience_id) == h.segment.members(pro.audience_id)
            with pytest.raises(InvalidArgument, match="cycle"):
                await h.segment.update_audience(
                    pro.audience_id, MARKETER, definition_json=json.dumps({"audience": first.audience_id})
                )

    run(scenario)


def test_archive_empties_an_audience_and_takes_it_out_of_use(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            pro = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            user = await h.segment.create_audience(
                "Uses pro", [], MARKETER, definition_json=json.dumps({"audience": pro.audience_id}), purpose="marketing"
            )
            with pytest.raises(PermissionDenied, match=f"used by the audiences \\[{user.audience_id}\\]") as refused:
                await h.segment.archive_audience(pro.audience_id, MARKETER)
            assert refused.value.decision_id in {d.decision_id for d in decisions(h)}
            assert h.segment.audience(pro.audience_id).status == "active"

            archived_user = await h.segment.archive_audience(user.audience_id, MARKETER)
            assert archived_user.status == "archived" and archived_user.archive_decision_id
            archived = await h.segment.archive_audience(pro.audience_id, MARKETER)
            assert (archived.status, archived.archived_by) == ("archived", MARKETER.subject)
            assert h.segment.members(pro.audience_id) == []
            exits = [c for c in stored(h, MEMBERSHIPS) if c.audience_id == pro.audience_id and c.cause == "archived"]
            assert sorted(c.person_id for c in exits) == sorted(ids[u] for u in ("u1", "u2", "u5"))
            assert {h.segment.audiences[a].status for a in (pro.audience_id, user.audience_id)} == {"archived"}

            # No longer evaluated: a profile change that would have entered a person does not.
            await h.ingest(
                h.write_key("more"), [event("identify", "i-u3-pro", LATER, user_id="u3", traits={"plan": "pro"})]
            )
            await h.settle()
            assert h.segment.members(pro.audience_id) == []
            assert not [c for c in stored(h, MEMBERSHIPS) if c.person_id == ids["u3"]]
            # Not usable by another audience, nor changed.
            with pytest.raises(InvalidArgument, match=r"definition\.audience: audience .* is archived"):
                await h.segment.create_audience(
                    "Uses old",
                    [],
                    MARKETER,
                    definition_json=json.dumps({"audience": pro.audience_id}),
                    purpose="marketing",
                )
            with pytest.raises(InvalidArgument, match=r"audience_id: .* is archived"):
                await h.segment.update_audience(pro.audience_id, MARKETER, name="Back")
            # Archiving again changes nothing; a rebuild keeps it archived and empty.
            assert await h.segment.archive_audience(pro.audience_id, MARKETER) == archived
            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.audience(pro.audience_id) == archived and again.members(pro.audience_id) == []
            assert pro.audience_id not in again.definitions

    run(scenario)


def test_a_preview_answers_as_create_would_stores_nothing_and_is_recorded(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            key = h.write_key("more")
            await h.ingest(
                key,
                [
                    event("track", f"t-{u}", TS, user_id=u, event="Order Completed", properties={"total": 30})
                    for u in ("u1", "u3")
                ],
            )
            await h.settle()
            definition = json.dumps(
                {
                    "any": [
                        {"trait": "plan", "op": "eq", "value": "team"},
                        {"event": "Order Completed", "where": [{"property": "total", "op": "gte", "value": 20}]},
                    ]
                }
            )
            events_before = len(
                h.stores["segment"].read(0, 10_000, [*LIFECYCLE, *MEMBERSHIPS, "cdp.segment.v1.EventObserved"])
            )
            size, sample, decision_id = await h.segment.preview_audience(MARKETER, definition_json=definition, sample=2)
            expected = sorted(ids[u] for u in ("u1", "u3", "u4"))
            assert (size, sample) == (3, expected[:2])
            assert decision_id in {d.decision_id for d in decisions(h)}
            recorded = next(d for d in decisions(h) if d.decision_id == decision_id)
            assert recorded.entrypoint == "data.cdp.audience.decision"
            after = h.stores["segment"].read(0, 10_000, [*LIFECYCLE, *MEMBERSHIPS, "cdp.segment.v1.EventObserved"])
            assert len(after) == events_before and h.segment.audiences == {}

            created = await h.segment.create_audience(
                "Same", [], MARKETER, definition_json=definition, purpose="marketing"
            )
            assert h.segment.members(created.audience_id) == expected
            # Once its events are targeted, a preview reads the calls segment observed: the same answer.
            assert (await h.segment.preview_audience(MARKETER, definition_json=definition, sample=10))[:2] == (
                3,
                expected,
            )

            with pytest.raises(PermissionDenied, match=r"bo@example\.com may not preview an audience") as refused:
                await h.segment.preview_audience(ANALYST, [trait_condition("plan", "eq", "pro")])
            assert refused.value.decision_id in {d.decision_id for d in decisions(h)}
            with pytest.raises(PermissionDenied, match="religion is sensitive"):
                await h.segment.preview_audience(MARKETER, [trait_condition("religion", "eq", "x")])
            with pytest.raises(InvalidArgument, match="sample"):
                await h.segment.preview_audience(MARKETER, [trait_condition("plan", "eq", "pro")], sample=5000)

    run(scenario)


def test_members_come_in_pages_with_a_total(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            everyone = await h.segment.create_audience(
                "Everyone", [trait_condition("plan", "exists", True)], MARKETER, purpose="analytics"
            )
            seen, token, pages = [], "", 0
            while True:
                page, token, total = h.segment.members_page(everyone.audience_id, 2, token)
                assert total == 5 and len(page) <= 2
                seen += page
                pages += 1
                if not token:
                    break
            assert seen == sorted(ids.values()) and pages == 3
            assert h.segment.members_page(everyone.audience_id) == (sorted(ids.values()), "", 5)
            with pytest.raises(InvalidArgument, match="page_token"):
                h.segment.members_page(everyone.audience_id, 2, "not a token!")
            with pytest.raises(InvalidArgument, match="page_size"):
                h.segment.members_page(everyone.audience_id, -1)

            # History pages: newest first, each change once.
            changes, token = [], ""
            while True:
                page, token = h.segment.membership_history(everyone.audience_id, page_size=2, page_token=token)
                changes += page
                if not token:
                    break
            assert [c.person_id for c in changes] == [c.person_id for c in reversed(stored(h, MEMBERSHIPS))]
            with pytest.raises(InvalidArgument, match="audience_id"):
                h.segment.membership_history()

    run(scenario)


def test_update_is_governed_as_create_is_and_every_refusal_is_recorded(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            await people(h)
            with pytest.raises(PermissionDenied, match="purpose 'profiling' is not one of the purposes") as unknown:
                await h.segment.create_audience(
                    "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="profiling"
                )
            assert unknown.value.field == "purpose"
            with pytest.raises(PermissionDenied, match="an audience needs a purpose"):
                await h.segment.create_audience("Pro", [trait_condition("plan", "eq", "pro")], MARKETER)
            pro = await h.segment.create_audience(
                "Pro", [trait_condition("plan", "eq", "pro")], MARKETER, purpose="marketing"
            )
            refusals = []
            for change, reason in (
                ({"purpose": "resale"}, "purpose 'resale' is not one of the purposes"),
                ({"conditions": [trait_condition("religion", "eq", "x")]}, "trait religion is sensitive.religion"),
                ({"conditions": [trait_condition("email", "exists", True)]}, "trait email is pii.contact"),
                ({"definition_json": json.dumps({"trait": "city", "op": "eq", "value": "Paris"})}, "trait city is pii"),
            ):
                with pytest.raises(PermissionDenied, match=reason) as refused:
                    await h.segment.update_audience(pro.audience_id, MARKETER, **change)
                refusals.append(refused.value.decision_id)
            with pytest.raises(PermissionDenied, match="may not update an audience"):
                await h.segment.update_audience(pro.audience_id, ANALYST, name="Mine")
            recorded = {d.decision_id: d for d in decisions(h)}
            assert all(r in recorded for r in refusals)
            assert h.segment.audience(pro.audience_id) == pro  # nothing changed

    run(scenario)


def test_an_audience_stored_before_purposes_loads_and_gets_one_when_it_is_updated(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            old = segment_pb2.Audience(
                audience_id="0b1d0000-0000-4000-8000-000000000001",
                name="Old pro",
                conditions=[trait_condition("plan", "eq", "pro")],
                version=1,
                created_by="ops@example.com",
            )
            created = segment_pb2.AudienceCreated(audience=old, created_at=TS)
            h.uows["segment"].commit([h.segment.next_event(uuid.UUID(old.audience_id), created)])
            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            loaded = again.audience(old.audience_id)
            assert (loaded.purpose, loaded.status) == ("", "")
            assert again.shown(loaded, MARKETER).status == "active"

            h.segment.rebuild()
            with pytest.raises(PermissionDenied, match="an audience needs a purpose") as refused:
                await h.segment.update_audience(old.audience_id, MARKETER, name="Pro")
            assert refused.value.field == "purpose"
            updated = await h.segment.update_audience(old.audience_id, MARKETER, purpose="analytics")
            assert (updated.version, updated.purpose, updated.status) == (2, "analytics", "active")
            assert h.segment.members(old.audience_id) == sorted(ids[u] for u in ("u1", "u2", "u5"))

    run(scenario)


@pytest.mark.parametrize("step", ["update", "archive"])
def test_calls_of_an_event_only_an_old_version_or_an_archived_audience_used_are_followed(tmp_path, step):
    async def scenario():
        async with Harness(tmp_path) as h:
            ids = await people(h)
            viewed = {"event": "Viewed", "where": [{"property": "page", "op": "eq", "value": "/pricing"}]}
            audience = await h.segment.create_audience(
                "Viewers", [], MARKETER, definition_json=json.dumps(viewed), purpose="marketing"
            )
            if step == "update":
                free = {"trait": "plan", "op": "eq", "value": "free"}
                await h.segment.update_audience(audience.audience_id, MARKETER, definition_json=json.dumps(free))
            else:
                await h.segment.archive_audience(audience.audience_id, MARKETER)
            await h.ingest(
                h.write_key("more"),
                [
                    event("track", "v1", LATER, user_id="u1", event="Viewed", properties={"page": "/pricing"}),
                    event("identify", "i-u1-free", LATER, user_id="u1", traits={"plan": "free"}),
                ],
            )
            await h.settle()
            assert [p.error for f in h.followers for p in f.parked.values()] == []
            expected = sorted([ids["u1"], ids["u3"]]) if step == "update" else []
            assert h.segment.members(audience.audience_id) == expected
            again = SegmentApp(h.uows["segment"], h.segment.profile, h.vault)
            assert again.members(audience.audience_id) == expected

    run(scenario)
