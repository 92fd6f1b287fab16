"""Accounts as entities and a person's timeline, through profile's servicer with no sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.errors import InvalidArgument
from support.calls import event
from support.harness import ADMIN, MARKETER, Harness


def _traits(account: pb.Account) -> dict:
    return {name: json.loads(t.value) for name, t in account.traits.items()}


def test_two_users_of_one_company_share_its_traits_and_members_are_paged_with_a_count(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            calls = [
                event("group", "g1", "2026-11-30T10:00:00Z", user_id="u1", group_id="acme", traits={"plan": "pro"}),
                event("group", "g2", "2026-11-30T11:00:00Z", user_id="u2", group_id="acme"),
                event("group", "g3", "2026-11-30T11:30:00Z", user_id="u3", group_id="acme", traits={"seats": 5}),
                event("group", "g4", "2026-11-30T11:40:00Z", user_id="u3", group_id="initech"),
            ]
            await h.ingest(key, calls)
            await h.settle()
            u2 = h.identity.resolve("user_id", "u2")
            # The second user sent no traits: their profile shows the company's own.
            shown = await h.as_caller(MARKETER, "GetProfile", pb.GetProfileRequest(person_id=u2))
            [acme] = shown.profile.accounts
            assert acme.group_id == "acme" and _traits(acme) == {"plan": "pro", "seats": 5}
            assert acme.traits["plan"].event_id and acme.traits["plan"].source_id
            got = await h.as_caller(MARKETER, "GetAccount", pb.GetAccountRequest(account_id="acme"))
            assert _traits(got.account) == {"plan": "pro", "seats": 5} and got.account.member_count == 3
            assert got.account.traits["seats"].updated_at == "2026-11-30T11:30:00.000Z"
            # Paged two at a time: every member once, in id order, with the count on each page.
            members = {h.identity.resolve("user_id", u) for u in ("u1", "u2", "u3")}
            seen, token = [], ""
            for _ in range(3):
                page = await h.as_caller(
                    MARKETER,
                    "ListAccountMembers",
                    pb.ListAccountMembersRequest(account_id="acme", page_size=2, page_token=token),
                )
                assert page.total == 3
                seen += page.person_ids
                token = page.next_page_token
                if not token:
                    break
            assert seen == sorted(members)

    asyncio.run(scenario())


def test_a_merge_moves_memberships_and_timelines_to_the_survivor(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    event("group", "g1", "2026-11-30T10:00:00Z", anonymous_id="a1", group_id="acme"),
                    event("track", "t1", "2026-11-30T10:01:00Z", anonymous_id="a1", event="Viewed"),
                    event("track", "t2", "2026-11-30T10:02:00Z", user_id="u1", event="Bought"),
                    event("group", "g2", "2026-11-30T10:02:30Z", user_id="u1", group_id="initech"),
                ],
            )
            await h.settle()
            anonymous = h.identity.resolve("anonymous_id", "a1")
            user = h.identity.resolve("user_id", "u1")
            assert h.accounts.members("acme", "", 10) == ([anonymous], 1)
            assert h.accounts.members("initech", "", 10) == ([user], 1)
            # identify ties the anonymous id to the user: one person now.
            await h.ingest(key, [event("identify", "i1", "2026-11-30T10:03:00Z", user_id="u1", anonymous_id="a1")])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert h.identity.resolve("anonymous_id", "a1") == person
            # Whichever person survives, it is the one member of both accounts.
            assert person in {anonymous, user}
            assert h.accounts.members("acme", "", 10) == ([person], 1)
            assert h.accounts.members("initech", "", 10) == ([person], 1)
            # The merged person's id still finds the survivor's timeline: both persons' calls.
            for asked in {anonymous, person}:
                timeline = await h.as_caller(MARKETER, "ListEvents", pb.ListEventsRequest(person_id=asked))
                assert timeline.person_id == person
                assert [e.event_id for e in timeline.events] == [
                    e.event_id for e in sorted(timeline.events, key=lambda e: (e.timestamp, e.event_id), reverse=True)
                ]
                assert [(e.type, e.event) for e in timeline.events] == [
                    ("identify", ""),
                    ("group", ""),
                    ("track", "Bought"),
                    ("track", "Viewed"),
                    ("group", ""),
                ]

    asyncio.run(scenario())


def test_the_timeline_is_paged_newest_first_without_gaps_while_calls_arrive(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            first = [
                event("track", f"t{i:02}", f"2026-11-30T10:{i:02}:00Z", user_id="u1", event=f"E{i}") for i in range(10)
            ]
            await h.ingest(key, first)
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            seen: list[str] = []
            token = ""
            for round_ in range(20):
                page = await h.as_caller(
                    MARKETER, "ListEvents", pb.ListEventsRequest(person_id=person, page_size=3, page_token=token)
                )
                seen += [e.event for e in page.events]
                # Newer calls arrive between pages (and one older, which a later page shows).
                await h.ingest(
                    key,
                    [
                        event("track", f"n{round_}", f"2026-11-30T12:{round_:02}:00Z", user_id="u1", event="New"),
                        *(
                            [event("track", "late", "2026-11-30T09:00:00Z", user_id="u1", event="Late")]
                            if round_ == 0
                            else []
                        ),
                    ],
                )
                await h.settle()
                token = page.next_page_token
                if not token:
                    break
            assert seen == [f"E{i}" for i in range(9, -1, -1)] + ["Late"]
            only = await h.as_caller(
                MARKETER,
                "ListEvents",
                pb.ListEventsRequest(person_id=person, since="2026-11-30T10:05:00Z", until="2026-11-30T10:07:00Z"),
            )
            assert [e.event for e in only.events] == ["E6", "E5"]
            with pytest.raises(InvalidArgument, match="page_token"):
                await h.as_caller(MARKETER, "ListEvents", pb.ListEventsRequest(person_id=person, page_token="nope"))
            with pytest.raises(InvalidArgument, match="types"):
                await h.as_caller(MARKETER, "ListEvents", pb.ListEventsRequest(person_id=person, types=["click"]))

    asyncio.run(scenario())


def test_the_timeline_shows_context_and_masks_personal_fields_at_every_depth_until_forgotten(tmp_path):
    email = "ada.timeline@x.io"
    context = {
        "campaign": {"name": "spring", "source": "news"},
        "page": {"url": f"https://x.io/pricing?email={email}&utm=spring"},
        "locale": "en-GB",
    }

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(
                key,
                [
                    event(
                        "track",
                        "t1",
                        "2026-11-30T10:00:00Z",
                        user_id="u1",
                        event="Viewed Pricing",
                        properties={"plan": "pro", "contact": {"email": email}},
                        context=context,
                    )
                ],
            )
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            request = pb.ListEventsRequest(person_id=person, purpose="support")
            [masked] = (await h.as_caller(MARKETER, "ListEvents", request)).events
            assert masked.masked and not masked.erased
            assert json.loads(masked.properties) == {"plan": "pro", "contact": {"email": "***"}}
            shown_context = json.loads(masked.context)
            assert shown_context["campaign"]["name"] == "spring" and shown_context["locale"] == "en-GB"
            assert email not in masked.context and shown_context["page"]["url"].startswith("https://x.io/pricing?")
            before = h.stores["profile"].head()
            [clear] = (await h.as_caller(ADMIN, "ListEvents", request)).events
            assert json.loads(clear.properties)["contact"]["email"] == email
            assert json.loads(clear.context)["page"]["url"] == context["page"]["url"]
            # The read in clear is in the access log: who, whose, which fields, why.
            from cdp.api.policy.v1.decision_pb2 import AccessRecorded
            from cdp.platform.published import decode

            records = [
                decode(n.topic, n.state)
                for n in h.stores["profile"].read(before, 100, [AccessRecorded.DESCRIPTOR.full_name])
            ]
            [record] = records
            assert record.person_id == person and record.purpose == "support" and record.caller == ADMIN.subject
            # (A parameter sealed inside a URL is not named: the access log's walk names whole values.)
            assert "events[].properties.contact.email" in record.fields

            await h.identity.forget(person, ADMIN.subject)
            await h.settle()
            [gone] = (await h.as_caller(ADMIN, "ListEvents", request)).events
            assert gone.erased
            assert json.loads(gone.properties) == {"plan": "pro", "contact": {"email": None}}
            assert email not in gone.context and json.loads(gone.context)["campaign"]["name"] == "spring"

    asyncio.run(scenario())


def test_an_accounts_personal_trait_is_masked_or_clear_and_a_clear_read_is_recorded_as_its_senders(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            traits = {"plan": "pro", "email": "billing@acme.example"}
            await h.ingest(
                key, [event("group", "g1", "2026-11-30T10:00:00Z", user_id="u1", group_id="acme", traits=traits)]
            )
            await h.settle()
            sender = h.identity.resolve("user_id", "u1")
            request = pb.GetAccountRequest(account_id="acme", purpose="billing")
            masked = (await h.as_caller(MARKETER, "GetAccount", request)).account
            assert _traits(masked) == {"plan": "pro", "email": "***"} and masked.traits["email"].masked
            before = h.stores["profile"].head()
            clear = (await h.as_caller(ADMIN, "GetAccount", request)).account
            assert _traits(clear) == traits
            from cdp.api.policy.v1.decision_pb2 import AccessRecorded
            from cdp.platform.published import decode

            [record] = [
                decode(n.topic, n.state)
                for n in h.stores["profile"].read(before, 100, [AccessRecorded.DESCRIPTOR.full_name])
            ]
            assert (record.person_id, list(record.fields), record.reference, record.purpose) == (
                sender,
                ["accounts[].traits.email"],
                "account:acme",
                "billing",
            )
            with pytest.raises(InvalidArgument, match="account_id"):
                await h.as_caller(MARKETER, "GetAccount", pb.GetAccountRequest())

    asyncio.run(scenario())
