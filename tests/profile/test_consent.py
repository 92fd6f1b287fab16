"""Consent from both SDK forms, per category with provenance; the latest by timestamp wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.profile.consent import (
    MAX_CATEGORIES_PER_CALL,
    RUDDERSTACK_FORM,
    SEGMENT_FORM,
    ConsentState,
    choices,
    fold,
)


def test_segment_category_preferences_give_one_choice_per_category():
    context = {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}}
    found = choices(context, event_id="e1", at="2026-01-01T00:00:01Z", source_id="web")
    assert found == {
        "Advertising": ConsentState(False, "e1", "2026-01-01T00:00:01Z", "web", SEGMENT_FORM),
        "Analytics": ConsentState(True, "e1", "2026-01-01T00:00:01Z", "web", SEGMENT_FORM),
    }


def test_rudderstack_consent_management_gives_allowed_and_denied_ids_with_the_provider():
    context = {
        "consentManagement": {
            "provider": "oneTrust",
            "allowedConsentIds": ["C0001", "C0002"],
            "deniedConsentIds": ["C0004"],
            "resolutionStrategy": "and",
        }
    }
    found = choices(context, event_id="e2", at="t2", source_id="server")
    assert {k: (v.granted, v.source, v.form) for k, v in found.items()} == {
        "C0001": (True, "oneTrust", RUDDERSTACK_FORM),
        "C0002": (True, "oneTrust", RUDDERSTACK_FORM),
        "C0004": (False, "oneTrust", RUDDERSTACK_FORM),
    }
    # No provider named: the call's source stands for it.
    found = choices({"consentManagement": {"deniedConsentIds": ["ads"]}}, event_id="e3", at="t3", source_id="app")
    assert found["ads"].source == "app" and not found["ads"].granted


def test_a_category_both_allowed_and_denied_in_one_call_is_denied():
    context = {
        "consent": {"categoryPreferences": {"ads": False}},
        "consentManagement": {"allowedConsentIds": ["ads", "email"], "deniedConsentIds": ["email"]},
    }
    found = choices(context, event_id="e", at="t", source_id="s")
    assert (found["ads"].granted, found["email"].granted) == (False, False)


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"consent": None},
        {"consent": "yes"},
        {"consent": {"categoryPreferences": ["Advertising"]}},
        {"consent": {"categoryPreferences": {"Advertising": "false", "Analytics": 1, "": True, "x" * 129: True}}},
        {"consentManagement": {"allowedConsentIds": "C0001", "deniedConsentIds": [1, None, {"id": "C2"}]}},
        {"consentManagement": []},
    ],
)
def test_malformed_consent_states_nothing(context):
    assert choices(context, event_id="e", at="t", source_id="s") == {}


def test_a_call_naming_too_many_categories_keeps_the_first_ones():
    many = [f"c{i}" for i in range(MAX_CATEGORIES_PER_CALL + 10)]
    context = {
        "consent": {"categoryPreferences": dict.fromkeys(many[:50], True)},
        "consentManagement": {"deniedConsentIds": many[40:], "allowedConsentIds": ["c1"]},
    }
    found = choices(context, event_id="e", at="t", source_id="s")
    assert list(found) == many[:MAX_CATEGORIES_PER_CALL]
    assert not found["c45"].granted and found["c1"].granted and found["c39"].granted


def test_a_late_older_choice_does_not_overwrite_a_newer_one():
    newer = ConsentState(False, "e2", "2026-01-01T00:00:02Z", "web", SEGMENT_FORM)
    older = ConsentState(True, "e1", "2026-01-01T00:00:01Z", "web", SEGMENT_FORM)
    held = {"Advertising": newer}
    assert fold(held, {"Advertising": older}) is False
    assert held == {"Advertising": newer}
    assert fold(held, {"Advertising": ConsentState(True, "e3", "2026-01-01T00:00:03Z", "app", SEGMENT_FORM)})
    assert held["Advertising"].granted and held["Advertising"].event_id == "e3"


calls = st.tuples(st.sampled_from(["ads", "analytics"]), st.sampled_from(["t1", "t2", "t3"]), st.sampled_from("abc"))


def stated(category: str, at: str, event: str) -> ConsentState:
    """One call's choice: the same call always states the same thing."""
    return ConsentState(hash((category, at, event)) % 2 == 0, f"{at}-{event}", at, "s", SEGMENT_FORM)


@given(st.lists(calls, max_size=10), st.randoms())
def test_folding_is_order_independent(made, random):
    in_order: dict[str, ConsentState] = {}
    for category, at, event in made:
        fold(in_order, {category: stated(category, at, event)})
    shuffled = list(made)
    random.shuffle(shuffled)
    other: dict[str, ConsentState] = {}
    for category, at, event in shuffled:
        fold(other, {category: stated(category, at, event)})
    assert in_order == other
    for category, state in in_order.items():  # the latest stated wins
        assert state.at == max(at for c, at, _ in made if c == category)
