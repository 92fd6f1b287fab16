"""Account-level audiences and account conditions, through the whole chain in process: group calls
make accounts (profile publishes them), quantifiers follow the members' calls and traits, members
joining and leaving, merges and splits, and windows inside quantifiers expire at their instant."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.clock import format_iso
from cdp.platform.published import decode, topic_of
from cdp.segment.application import SegmentApp
from cdp.segment.domain import InvalidAudience
from support.calls import event
from support.harness import MARKETER, START, Harness

DAY = 86400.0
ADMIN = {"trait": "role", "op": "eq", "value": "admin"}
PRICING = {"all": [ADMIN, {"event": "Pricing Viewed", "count": {"op": "gte", "value": 3}, "window": {"last": "P7D"}}]}
PRO_WITH_ACTIVE_ADMINS = {"all": [{"account_trait": "plan", "op": "eq", "value": "pro"}, {"account": {"any": PRICING}}]}


def run(scenario):
    asyncio.run(scenario())


def reopened(h: Harness) -> SegmentApp:
    """Segment as it starts again: its state from its own log, profiles and accounts from profile's."""
    return h.restarted("segment")


def now(h: Harness) -> str:
    return format_iso(h.clock.now())


async def define(h: Harness, name: str, definition: dict, level: str = ""):
    return await h.segment.create_audience(
        name, [], MARKETER, definition_json=json.dumps(definition), level=level, purpose="marketing"
    )


def changes(h: Harness, audience_id: str) -> list[tuple[str, str, str, str]]:
    """(entered/exited, account_id, person_id, cause) of an audience's membership events, in order."""
    topics = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
    out = []
    for n in h.stores["segment"].read(0, 10_000, topics):
        m = decode(n.topic, n.state)
        if m.audience_id == audience_id:
            kind = "entered" if isinstance(m, segment_pb2.MembershipEntered) else "exited"
            out.append((kind, m.account_id, m.person_id, m.cause))
    return out


async def view(h: Harness, key: str, message_id: str, **who) -> None:
    await h.ingest(key, [event("track", message_id, now(h), event="Pricing Viewed", **who)])
    await h.settle()


def test_pro_accounts_whose_admins_viewed_pricing_3_times_enter_on_the_third_and_exit_7_days_after_the_first(
    tmp_path,
):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(h, "Pro accounts, admins on pricing", PRO_WITH_ACTIVE_ADMINS, "account")
            assert audience.level == "account"
            await h.ingest(
                key,
                [
                    event("identify", "i1", now(h), user_id="u1", traits={"role": "admin"}),
                    event("group", "g1", now(h), user_id="u1", group_id="acme", traits={"plan": "pro"}),
                    event("identify", "i2", now(h), user_id="u2", traits={"role": "admin"}),
                    event("group", "g2", now(h), user_id="u2", group_id="initech", traits={"plan": "free"}),
                ],
            )
            await h.settle()
            await view(h, key, "v1", user_id="u1")
            h.clock.advance(DAY)
            await view(h, key, "v2", user_id="u1")
            for i in range(3):
                await view(h, key, f"w{i}", user_id="u2")  # a free account's admin: not in
            h.clock.advance(DAY)
            assert h.segment.members(audience.audience_id) == []
            await view(h, key, "v3", user_id="u1")
            assert h.segment.members(audience.audience_id) == ["acme"]
            assert changes(h, audience.audience_id) == [("entered", "acme", "", "event")]
            assert h.segment.next_timer() == START + timedelta(days=7)
            # Segment started again: its account timer comes back from the state.
            again = reopened(h)
            await again.start_timers()
            assert again.members(audience.audience_id) == ["acme"]
            assert again.next_timer() == START + timedelta(days=7)
            h.clock.advance(5 * DAY - 1)  # one second before the first view is 7 days old: no traffic
            await h.segment.fire_due()
            assert h.segment.members(audience.audience_id) == ["acme"]
            h.clock.advance(1)
            assert await h.segment.fire_due() >= 1
            assert h.segment.members(audience.audience_id) == []
            assert changes(h, audience.audience_id)[-1] == ("exited", "acme", "", "timer")

    run(scenario)


def test_a_member_joining_and_leaving_changes_all_and_none(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            all_admins = await define(h, "All admins", {"account": {"all": ADMIN}}, "account")
            no_viewers = await define(
                h, "No viewers", {"account": {"none": {"trait": "role", "op": "eq", "value": "viewer"}}}, "account"
            )
            # A person-level audience: persons in some account with an admin.
            with_admin = await define(h, "With an admin", {"account": {"any": ADMIN}})
            await h.ingest(
                key,
                [
                    event("identify", "i1", now(h), user_id="u1", traits={"role": "admin"}),
                    event("group", "g1", now(h), user_id="u1", group_id="acme"),
                    event("identify", "i2", now(h), user_id="u2", traits={"role": "viewer", "email": "v@y.io"}),
                ],
            )
            await h.settle()
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.segment.members(all_admins.audience_id) == ["acme"]
            assert h.segment.members(no_viewers.audience_id) == ["acme"]
            assert h.segment.members(with_admin.audience_id) == [u1]
            # u2 joins acme: a device's group call, and the device's identify names u2's email.
            h.clock.advance(60)
            await h.ingest(
                key,
                [
                    event("identify", "link", now(h), anonymous_id="a2", traits={"email": "v@y.io"}),
                    event("group", "g2", now(h), anonymous_id="a2", group_id="acme"),
                ],
            )
            await h.settle()
            assert h.identity.resolve("anonymous_id", "a2") == u2
            assert h.segment.members(all_admins.audience_id) == []
            assert h.segment.members(no_viewers.audience_id) == []
            assert h.segment.members(with_admin.audience_id) == sorted([u1, u2])
            # The link was wrong: u2 leaves acme (the device, with no role, stays in it).
            (bad,) = {
                e.event_id
                for e in h.identity.graph.edges.values()
                if e.a[0] == "email" and e.b == ("anonymous_id", "a2")
            }
            await h.identity.retract("event_id", bad, "typed by someone else", "GDPR Art. 16", "steward")
            await h.settle()
            a2 = h.identity.resolve("anonymous_id", "a2")
            assert a2 != u2
            assert h.segment.members(no_viewers.audience_id) == ["acme"]
            assert h.segment.members(all_admins.audience_id) == []  # the device has no role
            assert h.segment.members(with_admin.audience_id) == sorted([u1, a2])

    run(scenario)


def test_a_merge_and_a_split_are_followed_by_the_account(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(h, "Pro accounts, admins on pricing", PRO_WITH_ACTIVE_ADMINS, "account")
            await h.ingest(
                key,
                [
                    event("identify", "i1", now(h), user_id="u1", traits={"role": "admin"}),
                    event("group", "g1", now(h), user_id="u1", group_id="acme", traits={"plan": "pro"}),
                ],
            )
            await h.settle()
            await view(h, key, "v1", user_id="u1")
            await view(h, key, "v2", user_id="u1")
            await view(h, key, "v3", anonymous_id="a9")  # a device not yet known as u1's
            assert h.segment.members(audience.audience_id) == []
            h.clock.advance(60)
            await h.ingest(key, [event("identify", "login", now(h), user_id="u1", anonymous_id="a9")])
            await h.settle()
            assert h.identity.resolve("anonymous_id", "a9") == h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == ["acme"]
            (link,) = {
                e.event_id
                for e in h.identity.graph.edges.values()
                if {e.a, e.b} == {("user_id", "u1"), ("anonymous_id", "a9")}
            }
            await h.identity.retract("event_id", link, "a shared device", "GDPR Art. 16", "steward")
            await h.settle()
            assert h.identity.resolve("anonymous_id", "a9") != h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == []
            assert [c[0] for c in changes(h, audience.audience_id)] == ["entered", "exited"]

    run(scenario)


def test_account_traits_in_a_person_level_audience(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            pro = await define(h, "In a pro account", {"account_trait": "plan", "op": "eq", "value": "pro"})
            await h.ingest(
                key,
                [
                    event("group", "g1", now(h), user_id="u1", group_id="acme", traits={"plan": "free"}),
                    event("group", "g2", now(h), user_id="u2", group_id="acme"),
                ],
            )
            await h.settle()
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.segment.members(pro.audience_id) == []
            # One member's group call changes the account's traits: every member follows.
            h.clock.advance(60)  # (a later call: traits of calls of one instant keep the first)
            await h.ingest(key, [event("group", "g3", now(h), user_id="u2", group_id="acme", traits={"plan": "pro"})])
            await h.settle()
            assert h.segment.members(pro.audience_id) == sorted([u1, u2])
            # An audience created now starts from the accounts segment has followed.
            later = await define(h, "Pro accounts", {"account_trait": "plan", "op": "eq", "value": "pro"}, "account")
            assert h.segment.members(later.audience_id) == ["acme"]

    run(scenario)


@pytest.mark.parametrize(
    ("definition", "level", "message"),
    [
        (ADMIN, "account", "definition: an account-level audience reads persons only inside an account quantifier"),
        (
            {"account": {"any": {"account": {"all": ADMIN}}}},
            "",
            "definition.account.any: a member condition is a person condition",
        ),
        ({"account": {"some": ADMIN}}, "", "definition.account.some: is not a field here"),
        ({"account_trait": "plan", "op": "near", "value": 1}, "", "definition.op: must be one of"),
        ({"account_trait": "plan", "op": "eq", "value": "pro"}, "team", "level: must be one of person, account"),
    ],
)
def test_bad_account_definitions_name_the_field_and_the_rule(tmp_path, definition, level, message):
    async def scenario():
        async with Harness(tmp_path) as h:
            with pytest.raises(InvalidAudience, match=message.replace("(", r"\(").replace(")", r"\)")):
                await define(h, "Bad", definition, level)
            assert h.segment.audiences == {}

    run(scenario)


def test_personal_literals_in_account_conditions_are_sealed_and_opened_to_evaluate(tmp_path):
    from cdp.platform.auth import Caller

    admin = Caller("ops@example.com", ("admin",), "user", pii_clear=True)

    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            ada = "ada@acme.io"
            with_ada = await h.segment.create_audience(
                "Accounts with Ada",
                [],
                admin,
                definition_json=json.dumps({"account": {"any": {"trait": "email", "op": "eq", "value": ada}}}),
                level="account",
                purpose="marketing",
            )
            owned = await h.segment.create_audience(
                "Owned by Ada",
                [],
                admin,
                definition_json=json.dumps({"account_trait": "owner", "op": "eq", "value": ada}),
                purpose="marketing",
            )
            stored = h.segment.audience(with_ada.audience_id).definition.account.member.trait
            assert stored.subject and ada not in stored.value  # sealed
            assert h.segment.audience(owned.audience_id).definition.account_trait.subject
            await h.ingest(
                key,
                [
                    event("identify", "i1", now(h), user_id="u1", traits={"email": ada}),
                    event("group", "g1", now(h), user_id="u1", group_id="acme", traits={"owner": ada}),
                    event("group", "g2", now(h), user_id="u2", group_id="acme"),
                    event("group", "g3", now(h), user_id="u3", group_id="initech", traits={"owner": "bob@x.io"}),
                ],
            )
            await h.settle()
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.segment.members(with_ada.audience_id) == ["acme"]
            assert h.segment.members(owned.audience_id) == sorted([u1, u2])

    run(scenario)
