"""The warehouse's pure parts: persons from links, and personal values as policy decides."""

from __future__ import annotations

from cdp.platform.sealed import class_name, replace_tokens
from cdp.warehouse import domain

TOKEN = "pii:v1:k1:" + "A" * 40
VERDICT = domain.FieldVerdict(frozenset({"user_id", "phone"}), frozenset({"email", "anonymous_id"}), "d1")


def test_a_component_of_links_is_one_person_named_by_its_oldest_identifier():
    seen = [(("user_id", "u"), "p-u", 2), (("anonymous_id", "a"), "p-a", 1), (("email", "n1"), "p-e", 3)]
    links = [(("user_id", "u"), ("anonymous_id", "a")), (("email", "n1"), ("user_id", "u"))]
    assert domain.persons_of(seen, links) == {
        ("user_id", "u"): "p-a",
        ("anonymous_id", "a"): "p-a",
        ("email", "n1"): "p-a",
    }
    assert domain.persons_of(seen, []) == {
        ("user_id", "u"): "p-u",
        ("anonymous_id", "a"): "p-a",
        ("email", "n1"): "p-e",
    }


def test_a_link_to_an_identifier_not_held_joins_nothing():
    seen = [(("user_id", "u"), "p-u", 1)]
    assert domain.persons_of(seen, [(("user_id", "u"), ("email", "gone"))]) == {("user_id", "u"): "p-u"}


def test_withheld_sealed_values_are_left_out_and_allowed_ones_stay_tokens():
    value = {"email": TOKEN, "phone": TOKEN, "url": f"https://x.io/?email={TOKEN}&q=1", "total": 3}
    kept, taken = domain.keep_allowed(value, "properties", VERDICT, replace_tokens, class_name)
    assert kept == {"email": None, "phone": TOKEN, "url": "https://x.io/?email=&q=1", "total": 3}
    assert taken == ["email"]


def test_a_withheld_id_is_masked_the_same_way_each_time_and_an_allowed_one_is_clear():
    mask = lambda field, value: f"h({field},{value})"  # noqa: E731
    assert domain.masked_id(VERDICT, "user_id", "u-1", mask) == "u-1"
    assert domain.masked_id(VERDICT, "anonymous_id", "a-1", mask) == "mask:h(anonymous_id,a-1)"
    assert domain.masked_id(VERDICT, "anonymous_id", "", mask) is None


def test_erasing_takes_out_every_sealed_value():
    assert domain.erased({"a": [TOKEN, 1], "b": "x"}, "traits", replace_tokens) == {"a": [None, 1], "b": "x"}


def test_link_states():
    assert domain.link_state(True, False, False) == "active"
    assert domain.link_state(False, True, False) == "held"
    assert domain.link_state(False, False, False) == "refused"
    assert domain.link_state(True, False, True) == "retracted"


def test_times():
    assert domain.timestamp("2024-05-01T10:00:00Z").isoformat() == "2024-05-01T10:00:00+00:00"
    assert domain.timestamp("") is None and domain.timestamp("not a time") is None
