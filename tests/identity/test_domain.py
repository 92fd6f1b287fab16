"""The evidence graph: links decided by a policy, persons as components, stable ids, splits, and
a rebuild from the log that gives exactly the live graph."""

from __future__ import annotations

import uuid
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.identity import domain
from cdp.identity.domain import Identifier, IdentityGraph

LIMITS = {"user_id": 1}


class Limits:
    """A link policy like the default one: one user id, five of anything else, a breaker at 3 persons."""

    def __init__(self, limits=None, breaker: int = 3):
        self.limits = limits or LIMITS
        self.breaker = breaker
        self.asked: list[domain.Proposal] = []

    def decide(self, proposal: domain.Proposal) -> domain.Verdict:
        self.asked.append(proposal)
        over = [t for t, n in proposal.counts.items() if n > self.limits.get(t, 5)]
        if over or proposal.protected:
            return domain.Verdict(domain.REFUSE, tuple(f"limit {t}" for t in over) or ("protected",), "d-refuse")
        if proposal.persons > self.breaker:
            return domain.Verdict(domain.HOLD, ("breaker",), "d-hold")
        return domain.Verdict(domain.LINK, (), "d-link")


def person_id(identifier: Identifier) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, "\x1f".join(identifier)))


class World:
    """A graph with its log: what the application does, without the store."""

    def __init__(self, policy=None):
        self.graph = IdentityGraph(person_id)
        self.policy = policy or Limits()
        self.log: list[domain.GraphEvent] = []
        self.consequences: list[domain.Consequence] = []
        self.calls = 0

    def commit(self, events):
        for event in events:
            self.log.append(event)
            self.consequences.extend(self.graph.apply(event))

    def call(self, *identifiers: Identifier, protected=frozenset()):
        self.calls += 1
        event_id = f"e{self.calls}"
        ordered = sorted(identifiers, key=lambda i: 0 if i[0] == "user_id" else 2 if i[0] == "anonymous_id" else 1)
        events = self.graph.propose_call(
            ordered,
            event_id,
            domain.SEEN_TOGETHER,
            "r1",
            self.policy,
            lambda a, b: self.edge_id(a, b, event_id),
            lambda ids: any(i in protected for i in ids),
        )
        self.commit(events)
        return event_id

    @staticmethod
    def edge_id(a, b, cause):
        x, y = domain.pair(a, b)
        return f"{cause}:{x[1]}-{y[1]}"

    def retract(self, edge_ids):
        self.commit(self.graph.retractions(edge_ids, "test"))

    def person(self, identifier: Identifier) -> str | None:
        return self.graph.resolve(identifier)

    def rebuilt(self) -> IdentityGraph:
        graph = IdentityGraph(person_id)
        for event in self.log:
            graph.apply(event)
        return graph


U = lambda v: ("user_id", v)  # noqa: E731
A = lambda v: ("anonymous_id", v)  # noqa: E731
E = lambda v: ("email", v)  # noqa: E731


def test_anonymous_browsing_then_sign_in_is_one_person():
    w = World()
    w.call(A("a1"))
    w.call(U("alice"), A("a1"))
    w.call(U("alice"), E("alice@x"))
    assert w.person(A("a1")) == w.person(U("alice")) == w.person(E("alice@x"))
    # The oldest identifier names the person.
    assert w.person(U("alice")) == person_id(A("a1"))


def test_a_shared_device_never_joins_two_user_ids():
    w = World()
    w.call(U("alice"), A("kiosk"))
    w.call(U("bob"), A("kiosk"))
    assert w.person(U("alice")) != w.person(U("bob"))
    assert w.person(A("kiosk")) == w.person(U("alice"))  # first come
    refused = [e for e in w.graph.edges.values() if not e.active]
    expected = [(U("bob"), A("kiosk"), "limit user_id", "d-refuse")]
    assert [(e.a, e.b, e.reason, e.decision_id) for e in refused] == expected
    # Seen together again: the evidence is known, nothing new is decided.
    asked = len(w.policy.asked)
    w.call(U("bob"), A("kiosk"))
    assert len(w.policy.asked) == asked


def test_thirty_users_on_one_qa_device_stay_thirty_persons():
    w = World()
    for n in range(30):
        w.call(U(f"u{n}"), A("qa-device"))
    persons = {w.person(U(f"u{n}")) for n in range(30)}
    assert len(persons) == 30
    assert all(len(w.graph.members[p]) <= 2 for p in persons)


def test_the_weakest_identifier_is_left_out_and_the_rest_still_links():
    w = World()
    w.call(U("alice"), E("team@x"))
    w.call(U("bob"), E("bob@x"), E("team@x"), A("b1"))
    bob = w.person(U("bob"))
    assert bob != w.person(U("alice"))
    assert w.person(E("bob@x")) == w.person(A("b1")) == bob
    assert w.person(E("team@x")) == w.person(U("alice"))


def test_a_sixth_email_is_refused():
    w = World()
    for n in range(7):
        w.call(U("u"), E(f"m{n}"))
    person = w.person(U("u"))
    assert sum(1 for t, _ in w.graph.members[person] if t == "email") == 5
    assert w.person(E("m6")) != person


def test_merge_keeps_the_older_id_split_gives_it_back_and_re_merge_restores_the_other():
    w = World()
    w.call(A("a1"))  # oldest
    w.call(E("x@y"), A("a2"))
    older, younger = w.person(A("a1")), w.person(A("a2"))
    w.call(U("u1"), A("a1"), A("a2"))
    assert w.person(A("a2")) == older
    merges = [c for c in w.consequences if isinstance(c, domain.PersonsMerged) and not c.fresh]
    assert [(m.survivor_id, m.merged_id) for m in merges] == [(older, younger)]
    assert w.graph.absorbed(older) == [younger]
    joining = [e.edge_id for e in w.graph.edges.values() if e.b == A("a2") and e.a == U("u1")]
    w.retract(joining)
    assert w.person(A("a1")) == older and w.person(A("a2")) == younger
    (split,) = [c for c in w.consequences if isinstance(c, domain.PersonSplit)]
    assert split.person_id == older and [p for p, _ in split.parts] == [older, younger]
    assert w.graph.absorbed(older) == []
    w.call(U("u1"), A("a2"))  # evidence again, from a new call
    assert w.person(A("a2")) == older


def test_retracting_one_of_two_pieces_of_evidence_splits_nothing():
    w = World()
    w.call(U("u"), A("a"))
    w.call(U("u"), E("m"))
    w.call(E("m"), A("a"))
    edge = next(e.edge_id for e in w.graph.edges.values() if {e.a, e.b} == {U("u"), A("a")})
    w.retract([edge])
    assert w.person(A("a")) == w.person(U("u"))  # still joined through the email


def test_a_retracted_piece_of_evidence_leaves_both_directions_of_the_graph():
    w = World()
    w.call(U("u"), A("a"))
    # A second piece of evidence for the same pair (as an alias call or a reviewed match brings).
    w.commit(
        [domain.LinkEvidenced(domain.Edge("alias:u-a", U("u"), A("a"), "e9", domain.ALIAS, "r1", 1.0, True, "d", ""))]
    )
    edges = {e.edge_id for e in w.graph.edges.values() if {e.a, e.b} == {U("u"), A("a")}}
    assert len(edges) == 2
    first = next(e for e in edges if e != "alias:u-a")
    w.retract([first])
    assert w.person(A("a")) == w.person(U("u"))  # still joined by the alias
    for a, b in ((U("u"), A("a")), (A("a"), U("u"))):
        assert w.graph.adjacency[a][b] == {"alias:u-a"}, (a, b)
    w.retract(["alias:u-a"])
    assert w.person(A("a")) != w.person(U("u"))


def test_the_breaker_holds_a_mass_merge_and_a_review_admits_it():
    w = World(Limits(breaker=2))
    for n in range(3):
        w.call(A(f"a{n}"), E(f"m{n}"))
    w.call(E("big"), A("a0"), A("a1"), A("a2"))
    assert len({w.person(A(f"a{n}")) for n in range(3)}) == 3
    held = [e for e in w.graph.edges.values() if e.held]
    assert held and all(not e.active for e in held)
    for edge in held:
        review = w.graph.review_of[edge.edge_id]
        w.commit([w.graph.review(review, True, "d-review", "steward", "", "", w.policy, lambda ids: False)])
    assert len({w.person(A(f"a{n}")) for n in range(3)}) == 1
    assert not w.graph.reviews


def test_protected_persons_never_merge():
    w = World()
    w.call(U("qa"), A("a1"))
    w.call(E("x"), A("a2"))
    w.call(A("a1"), A("a2"), protected={U("qa")})
    assert w.person(A("a1")) != w.person(A("a2"))


def test_a_manual_split_of_every_identifier():
    w = World()
    w.call(U("u"), A("a"), E("m"))
    person = w.person(U("u"))
    w.retract(w.graph.split_edges(person, None))
    assert len({w.person(i) for i in (U("u"), A("a"), E("m"))}) == 3
    assert w.person(U("u")) == person  # the oldest keeps the id


def test_a_looser_policy_decided_again_admits_what_was_refused():
    w = World()
    w.call(U("alice"), A("kiosk"))
    w.call(U("bob"), A("kiosk"))
    looser = domain.redecided(w.log, person_id, Limits({"user_id": 2}), w.edge_id, lambda ids: False, str)
    assert looser.resolve(U("alice")) == looser.resolve(U("bob"))
    splits, merges = domain.partition_changes(w.graph, looser)
    assert splits == [] and merges == [w.person(U("alice"))]
    stricter = domain.redecided(w.log, person_id, Limits({"anonymous_id": 0}), w.edge_id, lambda ids: False, str)
    splits, merges = domain.partition_changes(w.graph, stricter)
    assert splits == [w.person(U("alice"))] and merges == []


def test_explain_path_and_history():
    w = World()
    w.call(U("u"), A("a"))
    w.call(A("a"), E("m"))
    path = w.graph.path(U("u"), E("m"))
    assert [{e.a, e.b} for e in path] == [{U("u"), A("a")}, {A("a"), E("m")}]
    w.call(U("v"), A("a"))
    kinds = [item.kind for item in w.graph.history[w.person(U("u"))]]
    assert "refused" in kinds


# Property: the live graph equals its rebuild and the components of admitted evidence ----------

ids = st.sampled_from(
    [U("u1"), U("u2"), U("u3"), A("a1"), A("a2"), A("a3"), A("a4"), E("m1"), E("m2"), E("m3"), ("crm", "c1")]
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.lists(ids, min_size=1, max_size=4, unique=True)),
        st.tuples(st.just("retract"), st.integers(0, 50)),
        st.tuples(st.just("review"), st.integers(0, 10)),
        st.tuples(st.just("rules"), st.integers(0, 3)),
    ),
    max_size=40,
)


def components(graph: IdentityGraph) -> dict[Identifier, str]:
    """Persons from scratch: components of admitted, unretracted edges; id of the oldest member."""
    adjacency: dict[Identifier, set[Identifier]] = {n: set() for n in graph.order}
    for edge in graph.edges.values():
        if edge.active:
            adjacency[edge.a].add(edge.b)
            adjacency[edge.b].add(edge.a)
    out: dict[Identifier, str] = {}
    for start in graph.order:
        if start in out:
            continue
        seen, queue = {start}, deque([start])
        while queue:
            for n in adjacency[queue.popleft()]:
                if n not in seen:
                    seen.add(n)
                    queue.append(n)
        pid = person_id(min(seen, key=graph.order.__getitem__))
        out.update(dict.fromkeys(seen, pid))
    return out


@settings(max_examples=300, deadline=None)
@given(steps, st.integers(1, 3))
def test_live_graph_equals_rebuild_and_components(plan, breaker):
    w = World(Limits(breaker=breaker))
    for kind, arg in plan:
        if kind == "call":
            w.call(*arg)
        elif kind == "retract":
            live = [e.edge_id for e in w.graph.edges.values() if not e.retracted]
            if live:
                w.retract([live[arg % len(live)]])
        elif kind == "rules":
            w.policy = Limits([{"user_id": 1}, {"user_id": 2}, {"user_id": 1, "anonymous_id": 1}, {}][arg], breaker)
            simulated = domain.redecided(w.log, person_id, w.policy, w.edge_id, lambda ids: False, str)
            w.commit(domain.redecisions(w.graph, simulated, "policy", ""))
            assert w.graph.person_of == simulated.person_of
        elif w.graph.reviews:
            review = sorted(w.graph.reviews)[arg % len(w.graph.reviews)]
            w.commit([w.graph.review(review, arg % 2 == 0, "d", "steward", "", "", w.policy, lambda ids: False)])
    rebuilt = w.rebuilt()
    assert rebuilt.person_of == w.graph.person_of
    assert rebuilt.members == w.graph.members
    assert rebuilt.edges == w.graph.edges
    assert rebuilt.merged_ids == w.graph.merged_ids
    for person, absorbed in w.graph.merged_ids.items():
        assert all(w.graph.current(p) == person for p in absorbed)
    assert w.graph.person_of == components(w.graph)
    # Deciding the whole log again under the same policy makes the same persons.
    again = domain.redecided(w.log, person_id, w.policy, w.edge_id, lambda ids: False, lambda score: "link")
    assert again.person_of == w.graph.person_of
    # No person ever holds more user ids than the policy in force allows.
    for members in w.graph.members.values():
        assert sum(1 for t, _ in members if t == "user_id") <= w.policy.limits.get("user_id", 5)
