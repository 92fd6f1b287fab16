"""Personal literals in audience definitions: stored sealed, shown only to who may see them in
clear, erased with the person they name; and no way around the refusal for a masked caller."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.auth import Caller
from cdp.platform.errors import InvalidArgument, PermissionDenied
from cdp.platform.published import decode, topic_of
from cdp.platform.vault import is_token, load_master_key
from cdp.segment import domain
from cdp.segment.application import SegmentApp
from support.calls import event, trait_condition
from support.governance import search_tree
from support.harness import MARKETER, Harness

ADMIN = Caller("ops@example.com", ("admin",), "user", pii_clear=True)
TS = "2026-11-30T10:00:00Z"
ADA, ADA_PHONE, ADA_CITY = "ada.literal@x.io", "+44 7700 900456", "Lyonnesse"
BOB = "bob.literal@x.io"
EXITED = topic_of(segment_pb2.MembershipExited)


def needles(*values: str) -> list[str]:
    """The clear forms a value could be stored in: as given, lower-cased, JSON-escaped, and a
    phone's digits."""
    out: set[str] = set()
    for v in values:
        out |= {v, v.lower(), json.dumps(v)[1:-1]}
        if any(c.isdigit() for c in v):
            out.add("".join(c for c in v if c.isdigit() or c == "+"))
    return sorted(out)


def run(scenario):
    asyncio.run(scenario())


def shown_values(audience) -> list[tuple[str, str, bool, bool]]:
    return [(c.trait.trait, c.trait.value, c.trait.masked, c.trait.erased) for c in audience.conditions]


def test_personal_literals_are_sealed_shown_by_right_and_erased_with_their_person(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            key = h.write_key()
            ada = {"email": ADA, "phone": ADA_PHONE, "city": ADA_CITY}
            await h.ingest(
                key,
                [
                    event("identify", "i1", TS, user_id="u-ada", traits=ada),
                    event("identify", "i2", TS, user_id="u-bob", traits={"email": BOB, "city": "Paris"}),
                ],
            )
            await h.settle()
            ada_id = h.identity.person_of("", ("user_id", "u-ada"))
            bob_id = h.identity.person_of("", ("user_id", "u-bob"))

            by_email = await h.segment.create_audience(
                "Ada", [trait_condition("email", "eq", ADA)], ADMIN, purpose="marketing"
            )
            by_phone = await h.segment.create_audience(
                "Ada's phone", [trait_condition("phone", "eq", ADA_PHONE)], ADMIN, purpose="marketing"
            )
            by_city = await h.segment.create_audience(
                "Ada's city", [trait_condition("city", "eq", ADA_CITY)], ADMIN, purpose="marketing"
            )
            # An email is personal whatever the trait it is compared with.
            by_handle = await h.segment.create_audience(
                "Handle", [trait_condition("handle", "eq", ADA)], ADMIN, purpose="marketing"
            )
            by_bob = await h.segment.create_audience(
                "Bob", [trait_condition("email", "eq", BOB)], ADMIN, purpose="marketing"
            )
            paris = await h.segment.create_audience(
                "Paris", [trait_condition("city", "eq", "Paris")], ADMIN, purpose="marketing"
            )
            not_ada = await h.segment.create_audience(
                "Not Ada", [trait_condition("email", "neq", ADA)], ADMIN, purpose="marketing"
            )
            await h.settle()
            assert h.segment.members(not_ada.audience_id) == [bob_id]
            assert h.segment.members(by_email.audience_id) == [ada_id]
            assert h.segment.members(by_phone.audience_id) == [ada_id]
            assert h.segment.members(by_city.audience_id) == [ada_id]
            assert h.segment.members(by_bob.audience_id) == [bob_id]
            assert h.segment.members(paris.audience_id) == [bob_id]

            # Stored: tokens under subjects that hold no value; the email's and phone's are keyed hashes.
            stored = {
                a.name: h.segment.audience(a.audience_id).conditions[0].trait for a in (by_email, by_phone, by_city)
            }
            for trait in stored.values():
                assert is_token(orjson.loads(trait.value)), trait
            assert stored[by_email.name].subject.startswith("literal:email:")
            assert stored[by_phone.name].subject.startswith("literal:phone:")
            assert stored[by_city.name].subject == f"audience:{by_city.audience_id}"
            assert (
                h.segment.audience(by_handle.audience_id).conditions[0].trait.subject == stored[by_email.name].subject
            )
            assert search_tree(tmp_path, needles(ADA, ADA_PHONE, ADA_CITY, BOB)) == {}

            # Shown: in clear to a caller who may see personal data in clear, masked to others.
            assert shown_values(h.segment.shown(h.segment.audience(by_email.audience_id), ADMIN)) == [
                ("email", json.dumps(ADA), False, False)
            ]
            masked = h.segment.shown(h.segment.audience(by_city.audience_id), MARKETER)
            assert shown_values(masked) == [("city", '"***"', True, False)]
            assert not masked.conditions[0].trait.subject

            forgotten = await h.identity.forget(ada_id, "privacy@example.com")
            assert forgotten[0] == ada_id
            await h.settle()

            # The literals naming her email and phone are erased: their audiences hold nobody and
            # show the literal erased, to everyone.
            for audience in (by_email, by_phone, by_handle):
                assert h.segment.members(audience.audience_id) == [], audience.name
                for caller in (ADMIN, MARKETER):
                    [(_, value, _, erased)] = shown_values(
                        h.segment.shown(h.segment.audience(audience.audience_id), caller)
                    )
                    assert (value, erased) == ("", True), audience.name
            # "Not her email" holds for nobody either: the other person left it, on record, though
            # nothing of theirs changed.
            assert h.segment.members(not_ada.audience_id) == []
            assert h.segment.memberships.members[not_ada.audience_id] == set()
            exits = [decode(n.topic, n.state) for n in h.stores["segment"].read(0, 1000, EXITED)]
            assert sorted((e.audience_id, e.person_id) for e in exits) == sorted(
                [(not_ada.audience_id, bob_id)] + [(a.audience_id, ada_id) for a in (by_email, by_phone, by_city)]
            )
            # Her city names no one: it stays (an audience's own subject), and she is out (her trait erased).
            assert shown_values(h.segment.shown(h.segment.audience(by_city.audience_id), ADMIN)) == [
                ("city", json.dumps(ADA_CITY), False, False)
            ]
            assert h.segment.members(by_city.audience_id) == []
            # The other person is unaffected.
            assert h.segment.members(by_bob.audience_id) == [bob_id]
            assert h.segment.members(paris.audience_id) == [bob_id]
            assert shown_values(h.segment.shown(h.segment.audience(by_bob.audience_id), ADMIN))[0][1] == json.dumps(BOB)

            # Replayed from the store (a restart), the definitions are still erased and still hold nobody.
            again = replayed(h)
            assert again.members(by_email.audience_id) == [] and again.members(by_bob.audience_id) == [bob_id]
            assert again.literals.opened(again.definitions)[by_email.audience_id].erased()
            assert search_tree(tmp_path, needles(ADA, ADA_PHONE)) == {}

    run(scenario)


def replayed(h: Harness) -> SegmentApp:
    return SegmentApp(h.uows["segment"], h.segment.profile, h.vault, index_key=load_master_key(h.config.store))


def test_a_replayed_segment_opens_sealed_literals_to_evaluate_and_keeps_them_sealed(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            audience = await h.segment.create_audience(
                "Ada", [trait_condition("email", "eq", ADA)], ADMIN, purpose="marketing"
            )
            again = replayed(h)
            [stored] = again.definitions[audience.audience_id].conditions
            assert isinstance(stored.value, domain.Sealed)  # what stays in memory: the token
            [opened] = again.literals.opened(again.definitions)[audience.audience_id].conditions
            assert opened.value == ADA
            await h.ingest(h.write_key(), [event("identify", "i1", TS, user_id="u-ada", traits={"email": ADA})])
            await h.settle()
            assert h.segment.members(audience.audience_id) == [h.identity.person_of("", ("user_id", "u-ada"))]

    run(scenario)


MASKED_ATTEMPTS = [
    # Ordering and equality on a personal trait: bisecting an email through membership.
    [trait_condition("email", op, "m")]
    for op in ("lt", "lte", "gt", "gte", "eq", "neq", "contains")
] + [
    [trait_condition("email", "exists", True)],
    [trait_condition("phone", "lt", "+44")],
    # A nested path, and an object literal that carries a personal key under a harmless name.
    [trait_condition("contact.email", "lt", "m")],
    [trait_condition("contact", "eq", {"email": ADA})],
    [trait_condition("contact", "eq", [{"details": {"email": ADA}}])],
    [trait_condition("contact", "eq", {"first_name": "Ada"})],  # no email-shaped value: the key path says it
    # A harmless condition beside a personal one.
    [trait_condition("plan", "eq", "pro"), trait_condition("mobile", "gte", "+33")],
]


@pytest.mark.parametrize("conditions", MASKED_ATTEMPTS, ids=lambda cs: "-".join(c.trait.trait for c in cs))
def test_a_masked_caller_is_refused_and_the_refusal_echoes_no_literal(tmp_path, conditions):
    async def scenario():
        async with Harness(tmp_path) as h:
            await h.ingest(h.write_key(), [event("identify", "i1", TS, user_id="u-ada", traits={"email": ADA})])
            await h.settle()
            with pytest.raises(PermissionDenied, match=r"is pii\.\w+: ana@example\.com may see it only masked") as e:
                await h.segment.create_audience("Guess", conditions, MARKETER, purpose="marketing")
            assert ADA not in str(e.value) and '"m"' not in str(e.value)
            assert h.segment.audiences == {}  # nothing stored, so nothing to count or list
            # The decision recorded for the refusal names traits, never a literal.
            assert search_tree(tmp_path / "segment", needles(ADA)) == {}

    run(scenario)


def test_bad_personal_literals_are_refused_without_echoing_them(tmp_path):
    async def scenario():
        async with Harness(tmp_path) as h:
            cases = [
                ([trait_condition("email", "eq", [ADA])], r"conditions\[0\]\.trait\.value: a literal that is or holds"),
                ([trait_condition("contact", "eq", {"email": ADA})], r"conditions\[0\]\.trait\.value: a literal"),
                ([trait_condition("tags", "eq", ["vip", ADA])], r"conditions\[0\]\.trait\.value: a literal"),
            ]
            for conditions, message in cases:
                with pytest.raises(InvalidArgument, match=message) as e:
                    await h.segment.create_audience("Bad", conditions, ADMIN, purpose="marketing")
                assert ADA not in str(e.value)
            bad_json = trait_condition("email", "eq", ADA)
            bad_json.trait.value = ADA  # not JSON
            with pytest.raises(InvalidArgument, match=r"conditions\[0\]\.trait\.value: must be JSON") as e:
                await h.segment.create_audience("Bad", [bad_json], ADMIN, purpose="marketing")
            assert ADA not in str(e.value)
            forged = trait_condition("email", "eq", "pii:v1:k:x")
            forged.trait.subject = "literal:email:0"
            with pytest.raises(InvalidArgument, match=r"conditions\[0\]\.trait: subject, masked and erased are set"):
                await h.segment.create_audience("Forged", [forged], ADMIN, purpose="marketing")
            assert h.segment.audiences == {}

    run(scenario)
