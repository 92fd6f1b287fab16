"""Identity resolution: linking, merging, blocked merges, and replay equality."""

from __future__ import annotations

from cdp.identity import domain
from cdp.identity.domain import ANONYMOUS_ID, EMAIL, USER_ID


def new_id(identifier):
    return f"p:{identifier[0]}:{identifier[1]}"


def test_identifiers_of_a_call_come_strongest_first():
    assert domain.identifiers_of("u1", "a1", (USER_ID, "old"), "hash-of-email") == [
        (USER_ID, "u1"),
        (USER_ID, "old"),
        (EMAIL, "hash-of-email"),
        (ANONYMOUS_ID, "a1"),
    ]
    assert domain.identifiers_of("", "a1", None, "") == [(ANONYMOUS_ID, "a1")]


def test_an_alias_previous_id_may_be_an_anonymous_id():
    graph = domain.IdentityGraph()
    visitor = graph.link([(ANONYMOUS_ID, "visitor")], "e1", new_id)[0].person_id
    graph.link([(USER_ID, "u1")], "e2", new_id)
    assert graph.previous_identifier("visitor") == (ANONYMOUS_ID, "visitor")
    assert graph.previous_identifier("old-user") == (USER_ID, "old-user")
    graph.link([(USER_ID, "u1"), graph.previous_identifier("visitor")], "e3", new_id)
    assert graph.resolve((USER_ID, "u1")) == graph.resolve((ANONYMOUS_ID, "visitor")) == visitor


def test_emails_are_normalised():
    assert domain.normal_email(" Ada@Example.COM ") == "ada@example.com"
    assert domain.normal_email("not-an-email") is None
    assert domain.normal_email("@") is None
    assert domain.normal_email(42) is None


def test_forgetting_drops_the_persons_emails_only():
    graph = domain.IdentityGraph()
    person = graph.link([(USER_ID, "u1"), (EMAIL, "h1"), (ANONYMOUS_ID, "a1")], "e1", new_id)[0].person_id
    graph.forget(person, 2, "privacy-officer")
    assert graph.resolve((EMAIL, "h1")) is None
    assert graph.resolve((USER_ID, "u1")) == person
    assert graph.identifiers[person] == [(USER_ID, "u1"), (ANONYMOUS_ID, "a1")]


def test_an_erased_identifier_still_creates_its_person():
    graph = domain.IdentityGraph()
    graph.apply(domain.PersonCreated("p1", None, "e1"))
    assert graph.identifiers["p1"] == [] and graph.created["p1"] == 0


def test_identifiers_seen_together_become_one_person():
    graph = domain.IdentityGraph()
    events = graph.link([(ANONYMOUS_ID, "a1")], "e1", new_id)
    assert isinstance(events[0], domain.PersonCreated)
    person = events[0].person_id
    graph.link([(USER_ID, "u1"), (ANONYMOUS_ID, "a1")], "e2", new_id)
    assert graph.resolve((USER_ID, "u1")) == person
    assert graph.link([(ANONYMOUS_ID, "a1")], "e3", new_id) == []


def test_a_call_joining_two_persons_merges_into_the_older():
    graph = domain.IdentityGraph()
    older = graph.link([(ANONYMOUS_ID, "a1")], "e1", new_id)[0].person_id
    younger = graph.link([(USER_ID, "u1")], "e2", new_id)[0].person_id
    events = graph.link([(USER_ID, "u1"), (ANONYMOUS_ID, "a1")], "e3", new_id)
    merged = [e for e in events if isinstance(e, domain.PersonsMerged)]
    assert merged == [domain.PersonsMerged(older, younger, ((USER_ID, "u1"),), "e3")]
    assert graph.resolve((USER_ID, "u1")) == older
    assert graph.canonical(younger) == older
    assert graph.merged_from[older] == [younger]


def test_persons_with_different_user_ids_are_not_merged():
    graph = domain.IdentityGraph()
    alice = graph.link([(USER_ID, "alice"), (ANONYMOUS_ID, "shared-laptop")], "e1", new_id)[0].person_id
    bob = graph.link([(USER_ID, "bob")], "e2", new_id)[0].person_id
    events = graph.link([(USER_ID, "bob"), (ANONYMOUS_ID, "shared-laptop"), (EMAIL, "bob@x.io")], "e3", new_id)
    assert any(isinstance(e, domain.MergeBlocked) for e in events)
    assert graph.resolve((USER_ID, "bob")) == bob
    assert graph.resolve((USER_ID, "alice")) == alice
    # The call's own user id says whose new identifiers these are.
    assert graph.resolve((EMAIL, "bob@x.io")) == bob


def test_replaying_the_events_rebuilds_the_same_graph():
    graph = domain.IdentityGraph()
    history = []
    for i, ids in enumerate(
        [
            [(ANONYMOUS_ID, "a1")],
            [(USER_ID, "u1")],
            [(USER_ID, "u1"), (ANONYMOUS_ID, "a1")],
            [(USER_ID, "u2"), (ANONYMOUS_ID, "a2")],
            [(USER_ID, "u2"), (EMAIL, "x@y.z")],
        ]
    ):
        history += graph.link(ids, f"e{i}", new_id)
    replayed = domain.IdentityGraph()
    for event in history:
        replayed.apply(event)
    assert replayed.person_of == graph.person_of
    assert replayed.merged_into == graph.merged_into
