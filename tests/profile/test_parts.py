"""Profiles kept per key: a person's profile is the fold of its keys' partials, so a merge is a
union and a split a recomputation that gives back exactly what each part's calls say."""

from __future__ import annotations

from cdp.profile import domain

P, Q, R = "p", "q", "r"
U1, A1, A2 = ("user_id", "u1"), ("anonymous_id", "a1"), ("anonymous_id", "a2")


def call(event_id: str, ts: str, call_type: str = "track", event_name: str = "Viewed", **traits: str) -> dict:
    return dict(
        call_type=call_type,
        event_name=event_name if call_type == "track" else "",
        timestamp=f"2026-01-0{ts}T00:00:00.000Z",
        source_id="s",
        event_id=event_id,
        traits=dict(traits),
    )


CALLS = {
    U1: [call("e1", "1", "identify", plan='"free"', email='"pii:v1:x"'), call("e2", "4")],
    A1: [call("e3", "2"), call("e4", "3", "identify", plan='"pro"')],
    A2: [call("e5", "5", "track", "Bought")],
}


def whole(person_id: str, keys, merged=()) -> domain.ProfileState:
    """The profile of a person that had every call of these keys from the start."""
    profile = domain.ProfileState(person_id, merged_person_ids=sorted(merged))
    for key in keys:
        for c in CALLS[key]:
            domain.observe(profile, **c)
    return profile


def seen(owners: dict) -> domain.Profiles:
    profiles = domain.Profiles()
    for key, person in owners.items():
        for c in CALLS[key]:
            profiles.observe(key, person, **c)
    return profiles


def test_a_persons_profile_is_the_fold_of_its_keys_partials():
    profiles = seen({U1: P, A1: P, A2: Q})
    assert profiles.profile(P) == whole(P, [U1, A1])
    assert profiles.profile(Q) == whole(Q, [A2])
    assert profiles.partials[A1] == whole("", [A1])
    assert profiles.profile(P).traits["plan"].value == '"pro"'  # a1's identify is the later one


def test_a_merge_is_the_union_of_both_sets_of_partials():
    profiles = seen({U1: P, A1: P, A2: Q})
    moved, changed = profiles.merge(P, Q, [A2])
    assert (moved, changed) == ({A2}, {P, Q})
    assert profiles.profile(P) == whole(P, [U1, A1, A2], merged=[Q])
    assert profiles.profile(Q) == whole(Q, [])  # nothing of its own left


def test_a_split_recomputes_each_part_from_its_keys_exactly():
    profiles = seen({U1: P, A1: P, A2: P})
    moved, changed = profiles.split(P, [(Q, [A1, A2])])
    assert (moved, changed) == ({A1, A2}, {P, Q})
    assert profiles.profile(P) == whole(P, [U1])  # plan: free again, no Bought
    assert profiles.profile(Q) == whole(Q, [A1, A2])
    assert profiles.profile(P).traits["plan"].value == '"free"'


def test_keys_a_split_does_not_name_stay_where_they_are():
    profiles = seen({U1: P, A1: P, A2: P})
    profiles.split(P, [(P, [U1]), (Q, [A1])])
    assert profiles.person_of(A2) == P
    assert profiles.profile(P) == whole(P, [U1, A2])


def test_a_merge_then_a_split_gives_back_the_profiles_as_they_were():
    profiles = seen({U1: P, A1: P, A2: Q})
    profiles.merge(R, Q, [])  # q had been merged into r before: it stays under q
    profiles.split(R, [(Q, [])])
    before = {p: profiles.profile(p) for p in (P, Q)}
    profiles.merge(P, Q, [A2])
    assert profiles.profile(P).merged_person_ids == [Q]
    profiles.split(P, [(P, [U1, A1]), (Q, [A2])])
    assert {p: profiles.profile(p) for p in (P, Q)} == before
    assert before[P] == whole(P, [U1, A1])


def test_a_restored_person_brings_back_the_persons_merged_into_it():
    profiles = seen({U1: P, A1: Q, A2: R})
    profiles.merge(Q, R, [A2])
    profiles.merge(P, Q, [A1, A2])
    assert profiles.profile(P).merged_person_ids == [Q, R]
    profiles.split(P, [(Q, [A1, A2])])
    assert profiles.profile(P).merged_person_ids == []
    assert profiles.profile(Q) == whole(Q, [A1, A2], merged=[R])


def test_a_call_observed_under_another_person_takes_its_key_there():
    profiles = seen({U1: P, A1: P})
    assert profiles.observe(A1, Q, **call("e9", "6")) == {P, Q}
    assert profiles.profile(P) == whole(P, [U1])
    assert profiles.profile(Q).event_counts == {"Viewed": 2, "$identify": 1}


def test_the_cached_fold_follows_new_calls():
    profiles = seen({U1: P})
    profiles.profile(P)  # built and kept
    profiles.observe(A1, P, **CALLS[A1][0])
    profiles.observe(A1, P, **CALLS[A1][1])
    assert profiles.profile(P) == whole(P, [U1, A1])
    assert profiles.profile(P) == domain.fold(P, [profiles.partials[U1], profiles.partials[A1]])


def test_erasing_a_person_erases_its_partials_so_a_split_cannot_bring_a_value_back():
    profiles = seen({U1: P, A1: P})
    assert profiles.erase(P, lambda v: v.value.startswith('"pii:')) == {U1}
    profiles.split(P, [(Q, [U1])])
    assert profiles.profile(Q).traits["email"].erased
    assert profiles.erase(Q, lambda v: v.value.startswith('"pii:')) == set()
