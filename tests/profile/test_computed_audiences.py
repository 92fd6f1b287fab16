"""Computed traits through the in-process platform: an audience on one enters and exits as the value
changes (a window edge with no traffic included), GetProfile shows it as any trait, a personal
value chosen from the calls stays sealed, and SearchProfiles finds persons by it, masked as
GetProfile masks, its reads in clear recorded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import orjson
import pytest
import sqlalchemy as sa

from cdp.api.policy.v1 import decision_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.audit.records import CHAIN
from cdp.platform.accesslog import AccessLog
from cdp.platform.auth import _current
from cdp.platform.clock import format_iso
from cdp.platform.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from cdp.platform.published import decode
from cdp.platform.readmodel import Projection
from cdp.platform.vault import load_master_key
from cdp.profile import search, views
from cdp.profile.application import ProfileApp
from cdp.profile.servicer import ProfileServicer
from support.calls import event
from support.harness import ADMIN, MARKETER, START, Harness

DAY = 86400.0


def at(days: float = 0.0) -> str:
    return format_iso(START + timedelta(days=days))


def order(message_id: str, ts: str, user: str, **properties):
    return event("track", message_id, ts, event="Order Completed", user_id=user, properties=json.dumps(properties))


def with_vault(h: Harness) -> None:
    """Profile as the service builds it: with the vault that opens the personal values it compares."""
    identity = h.profile.identity
    h.profile.vault = h.vault
    h.profile.rebuild()
    assert h.profile.identity is identity


def servicer(h: Harness) -> ProfileServicer:
    key = load_master_key(h.config.store)
    model = search.SearchModel(h.vault, key)
    projection = Projection("search", h.stores["profile"], h.read_engine, search.metadata, model.apply, search.TOPICS)
    h.projections.append(projection)
    return ProfileServicer(
        h.profile,
        h.queries,
        h.vault,
        lambda: _current.get().pii_clear,  # type: ignore[union-attr]
        AccessLog(h.uows["profile"], "profile"),
        h.accounts,
        h.timeline,
        search.SearchQueries(h.read_engine, key),
        h.clock,
    )


async def as_caller(service: ProfileServicer, caller, method: str, request):
    clear = bool({"admin", "privacy_officer"} & set(caller.roles))
    token = _current.set(replace(caller, pii_clear=clear, method=f"/cdp.profile.v1.ProfileService/{method}"))
    try:
        return await getattr(service, method)(request, None)
    finally:
        _current.reset(token)


def test_an_audience_on_a_computed_trait_enters_and_exits_as_its_window_passes(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            await h.ingest(key, [order("o1", at(-20), "u1", total=40)])
            await h.settle()
            definition = {"event": "Order Completed", "fn": "count", "window": {"last": "P30D"}}
            await h.profile.create_computed_trait("orders_30d", json.dumps(definition), MARKETER)
            audience = await h.segment.create_audience(
                "Repeat buyers",
                [],
                MARKETER,
                definition_json=json.dumps({"trait": "orders_30d", "op": "gte", "value": 2}),
                purpose="marketing",
            )
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            assert h.segment.members(audience.audience_id) == []
            await h.ingest(key, [order("o2", at(-1), "u1", total=60)])
            await h.settle()
            assert h.segment.members(audience.audience_id) == [person]
            profile = await h.as_caller(MARKETER, "GetProfile", pb.GetProfileRequest(person_id=person))
            trait = profile.profile.traits["orders_30d"]
            assert orjson.loads(trait.value) == 2 and trait.computed == "orders_30d@1"
            # o1 leaves the window 30 days after it, with no call in between.
            h.clock.advance(10 * DAY - 1)
            await h.profile.fire_due()
            await h.settle()
            assert h.segment.members(audience.audience_id) == [person]
            h.clock.advance(1)
            assert await h.profile.fire_due() == 1
            await h.settle()
            assert h.segment.members(audience.audience_id) == []
            assert h.queries.get(person).traits["orders_30d"].value == "1"

    asyncio.run(scenario())


def test_a_personal_value_stays_sealed_and_search_answers_only_equality_in_clear(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            with_vault(h)
            service = servicer(h)
            key = h.write_key()
            await h.ingest(
                key,
                [
                    order("o1", at(-3), "u1", email="ada@example.com", total=5),
                    order("o2", at(-2), "u1", email="ada.work@example.com", total=5),
                    order("o3", at(-1), "u2", email="bob@example.com", total=7),
                ],
            )
            await h.settle()
            definition = {"event": "Order Completed", "fn": "last", "property": "email"}
            with pytest.raises(PermissionDenied):  # a marketer sees emails masked: may not target one
                await h.profile.create_computed_trait("last_email", json.dumps(definition), MARKETER)
            await h.profile.create_computed_trait("last_email", json.dumps(definition), ADMIN)
            await h.profile.create_computed_trait(
                "order_emails", json.dumps({**definition, "fn": "unique_count"}), ADMIN
            )
            await h.settle()
            ada = h.identity.resolve("user_id", "u1")
            stored = h.queries.get(ada).traits["last_email"]
            # Sealed (the whole value: a token's random key id may hold "ada" by chance).
            assert stored.value.startswith('"pii:v1:') and "ada.work@example.com" not in stored.value
            assert orjson.loads(h.queries.get(ada).traits["order_emails"].value) == 2
            shown = await as_caller(service, ADMIN, "GetProfile", pb.GetProfileRequest(person_id=ada))
            assert orjson.loads(shown.profile.traits["last_email"].value) == "ada.work@example.com"
            masked = await as_caller(service, MARKETER, "GetProfile", pb.GetProfileRequest(person_id=ada))
            assert masked.profile.traits["last_email"].masked

            where = json.dumps({"trait": "last_email", "op": "eq", "value": "ada.work@example.com"})
            with pytest.raises(PermissionDenied):
                await as_caller(service, MARKETER, "SearchProfiles", pb.SearchProfilesRequest(where_json=where))
            found = await as_caller(service, ADMIN, "SearchProfiles", pb.SearchProfilesRequest(where_json=where))
            assert [p.person_id for p in found.profiles] == [ada] and found.total == 1
            assert orjson.loads(found.profiles[0].traits["last_email"].value) == "ada.work@example.com"
            reads = [
                m
                for n in h.stores["profile"].read(0, 10_000, CHAIN)
                if isinstance(m := decode(n.topic, n.state), decision_pb2.AccessRecorded)
                and m.operation.endswith("/SearchProfiles")
            ]
            assert [(r.person_id, list(r.fields), r.caller) for r in reads] == [
                (ada, ["traits.last_email"], ADMIN.subject)
            ]
            suffix = json.dumps({"trait": "last_email", "op": "ends_with", "value": "example.com"})
            with pytest.raises(InvalidArgument):
                await as_caller(service, ADMIN, "SearchProfiles", pb.SearchProfilesRequest(where_json=suffix))
            both = json.dumps({"trait": "order_emails", "op": "gte", "value": 1})
            page = await as_caller(
                service, MARKETER, "SearchProfiles", pb.SearchProfilesRequest(where_json=both, page_size=1)
            )
            assert page.total == 2 and len(page.profiles) == 1 and page.next_page_token
            assert page.profiles[0].traits["last_email"].masked

            # Forgotten: the value is erased, and search keeps no hash of it.
            await h.identity.forget(ada, ADMIN.subject)
            await h.settle()
            assert h.queries.get(ada).traits["last_email"].erased
            found = await as_caller(service, ADMIN, "SearchProfiles", pb.SearchProfilesRequest(where_json=where))
            assert found.total == 0
            with h.read_engine.connect() as conn:
                rows = conn.execute(
                    sa.select(search.traits.c.name).where(search.traits.c.person_id == ada, search.traits.c.personal)
                ).all()
            assert rows == []

    asyncio.run(scenario())


def test_a_restarted_profile_keeps_its_computed_traits_and_their_timers(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            definition = {"event": "Order Completed", "fn": "sum", "property": "total", "window": {"last": "P30D"}}
            await h.profile.create_computed_trait("revenue_30d", json.dumps(definition), MARKETER)
            await h.ingest(key, [order("o1", at(0), "u1", total=50), order("o2", at(5), "u1", total=100)])
            await h.settle()
            person = h.identity.resolve("user_id", "u1")
            # o2 is dated 5 days ahead: it enters the window when its time comes.
            assert h.queries.get(person).traits["revenue_30d"].value == "50"
            assert h.profile.computed.timers.earliest() == START + timedelta(days=5)
            again = ProfileApp(h.uows["profile"], h.profile.identity, h.clock)
            assert [t.name for t in again.computed.traits.values()] == ["revenue_30d"]
            assert again.computed.timers.earliest() == START + timedelta(days=5)
            h.clock.advance(5 * DAY)
            assert await again.fire_due() == 1
            assert again.published[person].traits["revenue_30d"].value == "150"
            assert again.computed.timers.earliest() == START + timedelta(days=30)

    asyncio.run(scenario())


def test_the_rpcs_declare_list_and_get_computed_traits_and_name_bad_fields(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            service = servicer(h)
            definition = json.dumps({"event": "Order Completed", "fn": "max", "property": "total"})
            request = pb.CreateComputedTraitRequest(name="largest_order", definition_json=definition)
            created = await as_caller(service, MARKETER, "CreateComputedTrait", request)
            assert created.computed_trait.created_by == MARKETER.subject
            listed = await as_caller(service, MARKETER, "ListComputedTraits", pb.ListComputedTraitsRequest())
            assert [t.name for t in listed.computed_traits] == ["largest_order"]
            got = await as_caller(
                service, MARKETER, "GetComputedTrait", pb.GetComputedTraitRequest(name="largest_order")
            )
            assert json.loads(got.computed_trait.definition_json) == json.loads(definition)
            with pytest.raises(NotFound):
                await as_caller(service, MARKETER, "GetComputedTrait", pb.GetComputedTraitRequest(name="nope"))
            with pytest.raises(Conflict):
                await as_caller(service, MARKETER, "CreateComputedTrait", request)
            bad = pb.CreateComputedTraitRequest(name="x", definition_json="{")
            with pytest.raises(InvalidArgument) as error:
                await as_caller(service, MARKETER, "CreateComputedTrait", bad)
            assert error.value.field == "definition"
            with pytest.raises(InvalidArgument) as error:
                await as_caller(service, MARKETER, "SearchProfiles", pb.SearchProfilesRequest())
            assert error.value.field == "where_json"
            token = pb.SearchProfilesRequest(where_json='{"trait": "a", "op": "exists"}', page_token="zz")
            with pytest.raises(InvalidArgument) as error:
                await as_caller(service, MARKETER, "SearchProfiles", token)
            assert error.value.field == "page_token"

    asyncio.run(scenario())


def test_a_sealed_value_is_the_same_token_after_a_restart_and_a_change_while_down_is_due(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            with_vault(h)
            key = h.write_key()
            await h.ingest(
                key,
                [
                    order("o1", at(-3), "u1", email="ada@example.com"),
                    order("o2", at(-0.5), "u1", email="ada.work@example.com"),
                ],
            )
            await h.settle()
            definition = {"event": "Order Completed", "fn": "unique", "property": "email", "window": {"last": "P1D"}}
            await h.profile.create_computed_trait("recent_emails", json.dumps(definition), ADMIN)
            await h.profile.create_computed_trait("last_email", json.dumps({**definition, "fn": "last"}), ADMIN)
            await h.settle()
            ada = h.identity.resolve("user_id", "u1")
            before = h.profile.published[ada]

            def reopened() -> ProfileApp:
                return ProfileApp(h.uows["profile"], h.profile.identity, h.clock, vault=h.vault)

            again = reopened()
            assert again.arm_computed() == []  # sealed again, the same token: no change
            values, _ = again.computed.values(again.state.keys[ada], h.clock.now())
            assert values["recent_emails"] == before.traits["recent_emails"]
            assert values["last_email"] == before.traits["last_email"]

            h.clock.advance(2 * 86400)  # down while o2 left the window
            again = reopened()
            assert again.arm_computed() == [ada]
            assert await again.fire_due() == 1
            shown = views.present(again.published[ada], True, h.vault)
            assert orjson.loads(shown.traits["recent_emails"].value) == []
            assert "last_email" not in shown.traits  # no call inside the window has one

    asyncio.run(scenario())
