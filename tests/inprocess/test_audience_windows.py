"""Audiences over time: windows enter and exit at their exact instant through per-person timers,
with no traffic, across a restart, and re-armed by late calls; the condition language end to end."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.clock import format_iso
from cdp.platform.errors import PermissionDenied
from cdp.platform.published import decode, topic_of
from cdp.segment.application import SegmentApp
from cdp.segment.domain import InvalidAudience
from support.calls import event
from support.harness import ADMIN, MARKETER, START, Harness

DAY = 86400.0


def run(scenario):
    return asyncio.run(scenario())


def at(days: float = 0.0, seconds: float = 0.0) -> str:
    return format_iso(START + timedelta(days=days, seconds=seconds))


def track(message_id: str, name: str, ts: str, **fields):
    return event("track", message_id, ts, event=name, **fields)


async def define(h: Harness, name: str, definition: dict):
    return await h.segment.create_audience(
        name, [], MARKETER, definition_json=json.dumps(definition), purpose="marketing"
    )


def reopened(h: Harness) -> SegmentApp:
    """Segment as it starts again: its state from its own log only."""
    return h.restarted("segment")


def changes(h: Harness, audience_id: str) -> list[tuple[str, str, str]]:
    """(entered/exited, cause, at) of an audience's membership events, in order."""
    topics = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
    out = []
    for n in h.stores["segment"].read(0, 10_000, topics):
        m = decode(n.topic, n.state)
        if m.audience_id == audience_id:
            kind = "entered" if isinstance(m, segment_pb2.MembershipEntered) else "exited"
            out.append((kind, m.cause, m.at))
    return out


def test_did_x_in_the_last_30_days_exits_exactly_30_days_later_with_no_traffic(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(h, "Recent buyers", {"event": "Bought", "window": {"last": "P30D"}})
            await h.ingest(key, [track("b1", "Bought", at(), user_id="u1")])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == [person]
            assert h.segment.next_timer() == START + timedelta(days=30)
            h.clock.advance(30 * DAY - 1)
            assert await h.segment.fire_due() == 0
            assert h.segment.members(audience.audience_id) == [person]
            h.clock.advance(1)  # the exact instant: no call came
            assert await h.segment.fire_due() == 1
            assert h.segment.members(audience.audience_id) == []
            assert changes(h, audience.audience_id) == [
                ("entered", "event", at()),
                ("exited", "timer", at(30)),
            ]

    run(scenario)


def test_the_timer_survives_a_restart_and_an_overdue_one_fires_at_start(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(h, "Recent buyers", {"event": "Bought", "window": {"last": "P30D"}})
            await h.ingest(key, [track("b1", "Bought", at(), user_id="u1")])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            h.clock.advance(10 * DAY)
            again = reopened(h)  # restarted after 10 days: the timer is rebuilt, not kept apart
            await again.start_timers()
            assert again.members(audience.audience_id) == [person]
            assert again.next_timer() == START + timedelta(days=30)
            h.clock.advance(25 * DAY)  # down past the edge: overdue when it starts again
            late = reopened(h)
            await late.start_timers()
            assert await late.fire_due() == 1
            assert late.members(audience.audience_id) == []
            assert changes(h, audience.audience_id)[-1] == ("exited", "timer", at(35))

    run(scenario)


def test_between_90_and_30_days_ago_enters_and_exits_on_both_edges(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(h, "Lapsed", {"event": "Bought", "window": {"between": ["P90D", "P30D"]}})
            await h.ingest(key, [track("b1", "Bought", at(), user_id="u1")])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == []
            h.clock.advance(30 * DAY - 1)
            await h.segment.fire_due()
            assert h.segment.members(audience.audience_id) == []
            h.clock.advance(1)
            await h.segment.fire_due()
            assert h.segment.members(audience.audience_id) == [person]
            h.clock.advance(60 * DAY - 1)
            await h.segment.fire_due()
            assert h.segment.members(audience.audience_id) == [person]
            h.clock.advance(1)
            await h.segment.fire_due()
            assert h.segment.members(audience.audience_id) == []
            assert [(k, c, t) for k, c, t in changes(h, audience.audience_id)] == [
                ("entered", "timer", at(30)),
                ("exited", "timer", at(90)),
            ]

    run(scenario)


def test_a_late_call_re_arms_the_timer(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(
                h, "Twice lately", {"event": "Bought", "count": {"op": "gte", "value": 2}, "window": {"last": "P7D"}}
            )
            await h.ingest(key, [track("b1", "Bought", at(), user_id="u1")])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == []
            h.clock.advance(DAY)
            # A call made 2 days before the first arrives late: in now, out at its own edge (+7 days).
            await h.ingest(key, [track("b0", "Bought", at(-2), user_id="u1")])
            await h.settle()
            assert h.segment.members(audience.audience_id) == [person]
            assert h.segment.next_timer() == START + timedelta(days=5)
            h.clock.advance(4 * DAY)
            assert await h.segment.fire_due() == 1
            assert h.segment.members(audience.audience_id) == []

    run(scenario)


def test_any_not_missing_traits_and_property_filters(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            not_pro = await define(h, "Not pro", {"trait": "plan", "op": "neq", "value": "pro"})
            either = await define(
                h,
                "Either",
                {
                    "any": [
                        {"trait": "plan", "op": "in", "value": ["pro", "team"]},
                        {"event": "Bought", "where": [{"property": "total", "op": "gte", "value": 50}]},
                    ]
                },
            )
            nothing = await define(h, "Never bought", {"not": {"event": "Bought"}})
            big = await define(
                h,
                "Big spenders",
                {"event": "Bought", "aggregate": {"fn": "sum", "property": "total", "op": "gte", "value": 100}},
            )
            await h.ingest(
                key,
                [
                    event("identify", "i1", at(), user_id="u1", traits={"plan": "free"}),
                    event("identify", "i2", at(), user_id="u2", traits={"name": "No plan"}),
                    track("b1", "Bought", at(), user_id="u2", properties={"total": 40}),
                    track("b2", "Bought", at(), user_id="u2", properties={"total": 70}),
                ],
            )
            await h.settle()
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.segment.members(not_pro.audience_id) == [u1]  # u2 has no plan: not neq anything
            assert h.segment.members(either.audience_id) == [u2]
            assert h.segment.members(nothing.audience_id) == [u1]
            assert h.segment.members(big.audience_id) == [u2]

    run(scenario)


def test_funnels_then_within_and_not_followed(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            converted = await define(
                h, "Converted", {"funnel": [{"event": "Viewed"}, {"event": "Bought"}], "within": "P1D"}
            )
            abandoned = await define(
                h,
                "Abandoned",
                {"funnel": [{"event": "Viewed"}, {"event": "Bought"}], "within": "P1D", "negate_last": True},
            )
            await h.ingest(
                key,
                [
                    track("v1", "Viewed", at(-0.5), user_id="u1"),
                    track("p1", "Bought", at(-0.5, 3600), user_id="u1"),
                    track("v2", "Viewed", at(-0.5), user_id="u2"),
                ],
            )
            await h.settle()
            u1, u2 = h.identity.resolve("user_id", "u1"), h.identity.resolve("user_id", "u2")
            assert h.segment.members(converted.audience_id) == [u1]
            assert h.segment.members(abandoned.audience_id) == []  # not yet a day
            h.clock.advance(DAY / 2 - 1)
            await h.segment.fire_due()
            assert h.segment.members(abandoned.audience_id) == []
            h.clock.advance(1)  # a day after the view, with no purchase
            await h.segment.fire_due()
            assert h.segment.members(abandoned.audience_id) == [u2]

    run(scenario)


def test_audience_of_audience_follows_it_and_cycles_are_refused(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            recent = await define(h, "Recent", {"event": "Bought", "window": {"last": "P1D"}})
            pro_recent = await define(
                h,
                "Pro recent",
                {"all": [{"audience": recent.audience_id}, {"trait": "plan", "op": "eq", "value": "pro"}]},
            )
            await h.ingest(
                key,
                [
                    event("identify", "i1", at(), user_id="u1", traits={"plan": "pro"}),
                    track("b1", "Bought", at(), user_id="u1"),
                ],
            )
            await h.settle()
            u1 = h.identity.resolve("user_id", "u1")
            assert h.segment.members(pro_recent.audience_id) == [u1]
            h.clock.advance(DAY)
            await h.segment.fire_due()
            assert h.segment.members(recent.audience_id) == []
            assert h.segment.members(pro_recent.audience_id) == []
            assert changes(h, pro_recent.audience_id)[-1][:2] == ("exited", "timer")
            with pytest.raises(InvalidAudience, match="no audience 'nope'"):
                await define(h, "Dangling", {"audience": "nope"})
            with pytest.raises(InvalidAudience, match="cycle"):
                await h.segment.create_audience(
                    "Self",
                    [],
                    MARKETER,
                    definition_json=json.dumps({"audience": "fixed"}),
                    audience_id="fixed",
                    purpose="marketing",
                )

    run(scenario)


def test_a_definition_s_bad_json_names_its_path(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            with pytest.raises(
                InvalidAudience, match=r"definition\.all\[1\]\.window\.last: must be an ISO 8601 duration"
            ):
                await define(
                    h,
                    "Bad",
                    {"all": [{"trait": "plan", "op": "exists"}, {"event": "X", "window": {"last": "30 days"}}]},
                )

    run(scenario)


def test_a_personal_property_filter_is_refused_masked_or_sealed_as_a_personal_trait_is(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            definition = {
                "event": "Registered",
                "where": [{"property": "email", "op": "eq", "value": "ada@example.com"}],
            }
            with pytest.raises(PermissionDenied, match=r"property email is pii\.contact"):
                await define(h, "By email", definition)
            audience = await h.segment.create_audience(
                "By email", [], ADMIN, definition_json=json.dumps(definition), purpose="marketing"
            )
            stored = audience.definition.event.where[0]
            assert stored.subject and "ada@example.com" not in stored.value  # sealed
            assert h.segment.shown(audience, MARKETER).definition.event.where[0].masked
            assert h.segment.literals.shown(audience, True).definition.event.where[0].value == '"ada@example.com"'
            key = h.write_key()
            await h.ingest(
                key,
                [
                    track("s1", "Registered", at(), user_id="u1", properties={"email": "ada@example.com"}),
                    track("s2", "Registered", at(), user_id="u2", properties={"email": "bo@example.com"}),
                ],
            )
            await h.settle()
            assert h.segment.members(audience.audience_id) == [h.identity.resolve("user_id", "u1")]

    run(scenario)


def test_a_merge_joins_the_calls_of_both_persons_and_keeps_the_timer(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            audience = await define(
                h, "Viewed twice", {"event": "Viewed", "count": {"op": "gte", "value": 2}, "window": {"last": "P1D"}}
            )
            await h.ingest(key, [track("v1", "Viewed", at(), user_id="u1")])
            await h.ingest(key, [track("v2", "Viewed", at(0, 60), anonymous_id="a1")])
            await h.settle()
            before = {h.identity.resolve("user_id", "u1"), h.identity.resolve("anonymous_id", "a1")}
            assert len(before) == 2 and h.segment.members(audience.audience_id) == []
            h.clock.advance(120)
            await h.ingest(key, [event("identify", "i2", at(0, 120), user_id="u1", anonymous_id="a1")])
            await h.settle()
            survivor = h.identity.resolve("user_id", "u1")
            [merged] = before - {survivor}
            assert h.segment.members(audience.audience_id) == [survivor]  # one call each: two together
            assert changes(h, audience.audience_id) == [("entered", "merge", at(0, 120))]
            assert merged not in h.segment.facts
            h.clock.advance(DAY - 120)  # the first view leaves the window
            assert await h.segment.fire_due() == 1
            assert h.segment.members(audience.audience_id) == []

    run(scenario)
