"""Profiles fold order-independently: the same calls in any order give the same profile."""

from __future__ import annotations

import itertools

from cdp.profile import domain


def calls():
    return [
        dict(
            call_type="identify",
            event_name="",
            timestamp="2024-01-01T00:00:01.000Z",
            source_id="s",
            event_id="e1",
            traits={"plan": '"free"', "email": '"a@b.c"'},
        ),
        dict(
            call_type="identify",
            event_name="",
            timestamp="2024-01-02T00:00:00.000Z",
            source_id="s2",
            event_id="e2",
            traits={"plan": '"pro"'},
        ),
        dict(
            call_type="track",
            event_name="Order Completed",
            timestamp="2024-01-01T12:00:00.000Z",
            source_id="s",
            event_id="e3",
            traits={},
        ),
        dict(
            call_type="group",
            event_name="",
            timestamp="2024-01-03T00:00:00.000Z",
            source_id="s",
            event_id="e4",
            traits={},
            group_id="acme",
            group_traits={"industry": '"retail"'},
        ),
    ]


def fold(order):
    profile = domain.ProfileState("p")
    for c in order:
        domain.observe(profile, **c)
    return profile


def test_latest_trait_wins_with_its_provenance_and_counts_add_up():
    profile = fold(calls())
    assert profile.traits["plan"] == domain.TraitValue(
        '"pro"', "s2", "e2", "2024-01-02T00:00:00.000Z", event_type="identify"
    )
    assert profile.traits["email"].event_id == "e1"
    assert profile.event_counts == {"$identify": 2, "Order Completed": 1, "$group": 1}
    assert (profile.first_seen, profile.last_seen) == ("2024-01-01T00:00:01.000Z", "2024-01-03T00:00:00.000Z")
    assert profile.accounts["acme"]["industry"].value == '"retail"'


def test_any_order_gives_the_same_profile():
    expected = fold(calls())
    for order in itertools.permutations(calls()):
        assert fold(order) == expected


def test_merging_equals_having_seen_everything_on_one_person():
    a, b = domain.ProfileState("a"), domain.ProfileState("b")
    for i, c in enumerate(calls()):
        domain.observe(a if i % 2 else b, **c)
    domain.merge(a, b)
    whole = fold(calls())
    assert (a.traits, a.event_counts, a.first_seen, a.last_seen, a.accounts) == (
        whole.traits,
        whole.event_counts,
        whole.first_seen,
        whole.last_seen,
        whole.accounts,
    )
    assert a.merged_person_ids == ["b"]


def test_erasing_marks_personal_values_and_keeps_the_rest():
    profile = fold(calls())
    assert domain.erase(profile, lambda value: value.value == '"a@b.c"')
    assert profile.traits["email"].erased and profile.traits["email"].value == "null"
    assert not profile.traits["plan"].erased
    assert not domain.erase(profile, lambda value: value.value == '"a@b.c"')  # nothing left to erase
