"""Audience conditions and definitions."""

from __future__ import annotations

import pytest

from cdp.segment import domain
from cdp.segment.domain import EventCondition as E
from cdp.segment.domain import TraitCondition as T


@pytest.mark.parametrize(
    "condition, expected",
    [
        (T("plan", "eq", "pro"), True),
        (T("plan", "neq", "pro"), False),
        (T("missing", "neq", "pro"), False),  # a missing trait is not neq anything
        (T("ltv", "gt", 100), True),
        (T("ltv", "lte", 100), False),
        (T("ltv", "gt", "100"), False),  # no comparing numbers with strings
        (T("tags", "contains", "vip"), True),
        (T("email", "contains", "@example"), True),
        (T("email", "exists"), True),
        (T("missing", "exists"), False),
        (T("nothing", "exists"), False),  # a null trait does not exist
        (E("Order Completed", 2), True),
        (E("Order Completed", 3), False),
        (E("Never", 1), False),
    ],
)
def test_conditions(condition, expected):
    traits = {"plan": "pro", "ltv": 150.5, "tags": ["vip", "beta"], "email": "ada@example.com", "nothing": None}
    assert domain.holds(condition, traits, {"Order Completed": 2}) is expected


def test_all_conditions_must_hold():
    audience = domain.define("Pro buyers", [T("plan", "eq", "pro"), E("Order Completed", 2)])
    assert domain.qualifies(audience, {"plan": "pro"}, {"Order Completed": 2})
    assert not domain.qualifies(audience, {"plan": "pro"}, {"Order Completed": 1})
    assert audience.traits() == ["plan"] and audience.events() == ["Order Completed"]


@pytest.mark.parametrize(
    "name, conditions, message",
    [
        ("", [E("x", 1)], "name: is required"),
        ("a", [], "conditions: at least one"),
        ("a", [T("plan", "like", "x")], "conditions[0].op: must be one of"),
        ("a", [E("x", 1), E("y", 0)], "conditions[1].min_count: must be at least 1"),
        ("a", [T("", "eq", 1)], "conditions[0].trait: is required"),
    ],
)
def test_invalid_definitions_name_the_field(name, conditions, message):
    with pytest.raises(domain.InvalidAudience, match=message.replace("[", r"\[").replace("]", r"\]")):
        domain.define(name, conditions)


def test_memberships():
    m = domain.Memberships()
    m.enter("a1", "p1")
    m.enter("a2", "p1")
    m.exit("a1", "p1")
    assert not m.has("a1", "p1") and m.has("a2", "p1")
    assert m.audiences_of("p1") == ["a2"]


@pytest.mark.parametrize("op", ["eq", "neq", "lt", "contains"])
def test_an_erased_or_unopened_literal_holds_for_nobody(op):
    traits = {"email": "ada@example.com"}
    assert not domain.holds(T("email", op, domain.ERASED), traits, {})
    assert not domain.holds(T("missing", op, domain.ERASED), traits, {})  # not even "neq" of an absent trait
    assert not domain.holds(T("email", op, domain.Sealed("audience:a", "pii:v1:k:x")), traits, {})
    assert domain.define("Gone", [T("email", op, domain.ERASED)]).erased()
