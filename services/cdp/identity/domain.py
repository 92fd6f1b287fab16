"""Identity resolution as an evidence graph (customer 360, not dedup).

Every link between two identifiers is evidence: the call that showed them together, or a
matching model's score. A link policy admits or refuses each piece when it is first seen; refused
evidence stays, inactive, with the refusing decision, so a later decision can admit it. Persons
are the connected components of admitted evidence.

Person ids are a pure function of the log: a person's id is that of its oldest identifier (the
first seen). A merge keeps the older person's id; a split leaves it with the part holding that
identifier, and the other part takes its own oldest identifier's id; so a re-merge restores an id.

The state is the fold of identity's own events (IdentifierSeen, LinkEvidenced, LinkRedecided,
LinkRetracted, ReviewDecided), in log order. Merges and splits are their consequences: apply()
returns them, the application publishes them, and a rebuild recomputes them without reading them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

Identifier = tuple[str, str]  # (type, value); an email or phone value is its blind index

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
PHONE = "phone"
PERSONAL_TYPES = frozenset({EMAIL, PHONE})  # held by blind index, sealed in clear

SEEN_TOGETHER = "seen-together"
ALIAS = "alias"
PROBABILISTIC = "probabilistic"

LINK, REFUSE, HOLD = "link", "refuse", "hold"


# Events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    edge_id: str
    a: Identifier
    b: Identifier
    event_id: str  # the call that showed them together ("" for a model's)
    rule: str
    rule_version: str
    score: float
    active: bool
    decision_id: str
    reason: str = ""
    retracted: bool = False
    at: str = ""
    weights: tuple[tuple[str, str, float], ...] = ()
    held: bool = False  # inactive, waiting for a review


@dataclass(frozen=True)
class IdentifierSeen:
    identifier: Identifier
    event_id: str


@dataclass(frozen=True)
class LinkEvidenced:
    edge: Edge


@dataclass(frozen=True)
class LinkRedecided:
    edge_id: str
    active: bool
    decision_id: str
    reason: str
    actor: str = ""
    at: str = ""


@dataclass(frozen=True)
class LinkRetracted:
    edge_id: str
    reason: str
    basis: str = ""
    actor: str = ""
    at: str = ""


@dataclass(frozen=True)
class ReviewRequested:
    review_id: str
    edge_id: str
    band: str


@dataclass(frozen=True)
class ReviewDecided:
    review_id: str
    approved: bool
    decision_id: str
    actor: str
    reason: str = ""
    at: str = ""


GraphEvent = IdentifierSeen | LinkEvidenced | LinkRedecided | LinkRetracted | ReviewRequested | ReviewDecided


# Consequences ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonsMerged:
    survivor_id: str
    merged_id: str
    identifiers: tuple[Identifier, ...]  # moved to the survivor
    event_id: str
    edge_id: str
    decision_id: str
    fresh: bool = False  # the merged person was first seen in this same call: nothing to tell


@dataclass(frozen=True)
class PersonSplit:
    person_id: str
    parts: tuple[tuple[str, tuple[Identifier, ...]], ...]  # (person id, identifiers), the kept part first
    reason: str
    edge_id: str
    actor: str


Consequence = PersonsMerged | PersonSplit


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to a person: merged, split, refused, held, retracted, reviewed."""

    kind: str
    at: str
    others: tuple[str, ...] = ()  # the other persons concerned
    edge_id: str = ""
    event_id: str = ""
    decision_id: str = ""
    reason: str = ""
    actor: str = ""


# Deciding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """What a link policy is asked: may these identifiers become one person?"""

    rule: str
    counts: dict[str, int]  # identifiers by type in the person the link would make
    persons: int  # existing persons it would join
    identifiers: int  # identifiers in the person it would make
    protected: bool  # one of the persons joined is protected
    band: str = ""  # a model's: link or review


@dataclass(frozen=True)
class Verdict:
    outcome: str  # link, refuse, hold
    reasons: tuple[str, ...]
    decision_id: str


class LinkPolicy(Protocol):
    def decide(self, proposal: Proposal) -> Verdict: ...


def pair(a: Identifier, b: Identifier) -> tuple[Identifier, Identifier]:
    return (a, b) if a <= b else (b, a)


@dataclass
class IdentityGraph:
    """The evidence, and the persons it makes under the decisions recorded."""

    person_id_for: Callable[[Identifier], str]
    order: dict[Identifier, int] = field(default_factory=dict)  # first-seen order
    born_in: dict[Identifier, str] = field(default_factory=dict)  # the event that introduced it
    edges: dict[str, Edge] = field(default_factory=dict)
    by_pair: dict[tuple[Identifier, Identifier], list[str]] = field(default_factory=dict)
    by_event: dict[str, list[str]] = field(default_factory=dict)
    by_node: dict[Identifier, list[str]] = field(default_factory=dict)
    # Admitted evidence: neighbour -> edge ids
    adjacency: dict[Identifier, dict[Identifier, set[str]]] = field(default_factory=dict)
    person_of: dict[Identifier, str] = field(default_factory=dict)
    members: dict[str, set[Identifier]] = field(default_factory=dict)
    anchor: dict[str, Identifier] = field(default_factory=dict)  # a person's oldest identifier
    reviews: dict[str, str] = field(default_factory=dict)  # open review -> edge id
    review_of: dict[str, str] = field(default_factory=dict)  # edge id -> its review (open or not)
    merged_ids: dict[str, set[str]] = field(default_factory=dict)  # person -> ids of persons it absorbed
    absorbed_into: dict[str, str] = field(default_factory=dict)  # an absorbed person's id -> its person now
    id_anchor: dict[str, Identifier] = field(default_factory=dict)  # an absorbed person id -> its identifier
    history: dict[str, list[HistoryItem]] = field(default_factory=dict)

    # Reading ------------------------------------------------------------------------------

    def resolve(self, identifier: Identifier) -> str | None:
        return self.person_of.get(identifier)

    def identifiers_of(self, person_id: str) -> list[Identifier]:
        return sorted(self.members.get(person_id, ()), key=self.order.__getitem__)

    def counts(self, identifiers: Iterable[Identifier]) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, _ in identifiers:
            out[kind] = out.get(kind, 0) + 1
        return out

    def current(self, person_id: str) -> str | None:
        """The person an id names now: itself, or the person that absorbed it; None if neither."""
        if person_id in self.members:
            return person_id
        return self.absorbed_into.get(person_id)

    def absorbed(self, person_id: str) -> list[str]:
        """The ids of the persons merged into this one (and still part of it)."""
        return sorted(self.merged_ids.get(person_id, ()))

    def is_probabilistic(self, person_id: str) -> bool:
        return any(
            self.edges[e].rule == PROBABILISTIC
            for i in self.members.get(person_id, ())
            for edge_ids in self.adjacency.get(i, {}).values()
            for e in edge_ids
        )

    def evidence_of(self, identifier: Identifier) -> list[Edge]:
        return [self.edges[e] for e in self.by_node.get(identifier, ())]

    def path(self, a: Identifier, b: Identifier) -> list[Edge] | None:
        """Admitted edges from a to b (a shortest path), or None when they are not one person."""
        if self.person_of.get(a) is None or self.person_of.get(a) != self.person_of.get(b):
            return None
        previous: dict[Identifier, tuple[Identifier, str] | None] = {a: None}
        queue = deque([a])
        while queue:
            node = queue.popleft()
            if node == b:
                break
            for neighbour, edge_ids in self.adjacency.get(node, {}).items():
                if neighbour not in previous:
                    previous[neighbour] = (node, min(edge_ids))
                    queue.append(neighbour)
        steps: list[Edge] = []
        node = b
        while (step := previous.get(node)) is not None:
            node, edge_id = step
            steps.append(self.edges[edge_id])
        return list(reversed(steps))

    # Deciding -----------------------------------------------------------------------------

    def propose_call(
        self,
        identifiers: Sequence[Identifier],
        event_id: str,
        rule: str,
        rule_version: str,
        policy: LinkPolicy,
        edge_id: Callable[[Identifier, Identifier], str],
        protected: Callable[[Iterable[Identifier]], bool],
        at: str = "",
    ) -> list[GraphEvent]:
        """The evidence one call brings: identifiers first seen, and a link from the call's
        strongest identifier to each other one not yet evidenced with it.

        identifiers come strongest first (the policy's priority), and are added in that order: one
        whose person would break a rule with what is added so far is left out (its link refused,
        and kept as evidence), and the rest still link. So a user id never joins a person holding
        another, and a shared anonymous id joins nobody new. A held link (the mass-merge breaker)
        waits for a review.
        """
        found = list(dict.fromkeys(identifiers))
        events: list[GraphEvent] = [IdentifierSeen(i, event_id) for i in found if i not in self.order]
        if len(found) < 2:
            return events
        head = found[0]
        joined = [head]
        fresh = [i for i in found[1:] if not self.evidenced(head, i)]
        # The call as a whole first: a merge too big to make unreviewed is held whole.
        whole = self._proposal([head, *fresh], rule, protected) if fresh else None
        held_whole = policy.decide(whole) if whole is not None and whole.persons > 1 else None
        if held_whole is not None and held_whole.outcome != HOLD:
            held_whole = None
        for other in found[1:]:
            if other not in fresh:
                # Decided when the pair was first seen: it counts only if it was admitted.
                if self.person_of.get(other) == self.person_of.get(head):
                    joined.append(other)
                continue
            proposal = self._proposal([*joined, other], rule, protected)
            verdict = held_whole or (policy.decide(proposal) if proposal is not None else None)
            active = verdict is None or verdict.outcome == LINK
            held = verdict is not None and verdict.outcome == HOLD
            reason = "" if active or verdict is None else "; ".join(verdict.reasons) or "refused"
            edge = Edge(
                edge_id(head, other),
                head,
                other,
                event_id,
                rule,
                rule_version,
                1.0,
                active,
                verdict.decision_id if verdict else "",
                reason,
                at=at,
                held=held,
            )
            events.append(LinkEvidenced(edge))
            if held:
                events.append(ReviewRequested(edge.edge_id, edge.edge_id, HOLD))
            if active:
                joined.append(other)
        return events

    def evidenced(self, a: Identifier, b: Identifier) -> bool:
        """Whether evidence joining a and b stands (admitted, refused or held; not retracted)."""
        return any(not self.edges[e].retracted for e in self.by_pair.get(pair(a, b), ()))

    def propose_match(
        self,
        a: Identifier,
        b: Identifier,
        score: float,
        band: str,
        model_version: str,
        weights: tuple[tuple[str, str, float], ...],
        policy: LinkPolicy,
        edge_id: str,
        protected: Callable[[Iterable[Identifier]], bool],
        at: str = "",
    ) -> list[GraphEvent]:
        """A model's evidence that two known identifiers are one person."""
        if self.evidenced(a, b):
            return []
        proposal = self._proposal([a, b], PROBABILISTIC, protected, band)
        if proposal is None:
            return []
        verdict = policy.decide(proposal)
        active, held = verdict.outcome == LINK, verdict.outcome == HOLD
        reason = "" if active else "; ".join(verdict.reasons)
        edge = Edge(
            edge_id,
            a,
            b,
            "",
            PROBABILISTIC,
            model_version,
            score,
            active,
            verdict.decision_id,
            reason,
            at=at,
            weights=weights,
            held=held,
        )
        events: list[GraphEvent] = [LinkEvidenced(edge)]
        if held:
            events.append(ReviewRequested(edge_id, edge_id, band or HOLD))
        return events

    def _proposal(
        self,
        identifiers: Sequence[Identifier],
        rule: str,
        protected: Callable[[Iterable[Identifier]], bool],
        band: str = "",
    ) -> Proposal | None:
        persons = {p for i in identifiers if (p := self.person_of.get(i)) is not None}
        new = [i for i in identifiers if i not in self.person_of]
        if len(persons) + len(new) < 2:
            return None
        union = [m for p in persons for m in self.members[p]] + new
        return Proposal(
            rule=rule,
            counts=self.counts(union),
            persons=len(persons),
            identifiers=len(union),
            protected=len(persons) > 1 and protected(m for p in persons for m in self.members[p]),
            band=band,
        )

    def review(
        self,
        review_id: str,
        approve: bool,
        decision_id: str,
        actor: str,
        reason: str,
        at: str,
        policy: LinkPolicy,
        protected: Callable[[Iterable[Identifier]], bool],
    ) -> ReviewDecided:
        """A reviewer's verdict on a held link. An approval overrides the hold, not the rules: a
        link that would now break a limit (or join a protected person) is not made."""
        edge = self.edges[self.reviews[review_id]]
        if approve:
            band = LINK if edge.rule == PROBABILISTIC else ""
            proposal = self._proposal([edge.a, edge.b], edge.rule, protected, band)
            verdict = policy.decide(proposal) if proposal is not None else None
            if verdict is not None and verdict.outcome == REFUSE:
                refused = "approval refused: " + "; ".join(verdict.reasons)
                return ReviewDecided(review_id, False, verdict.decision_id, actor, refused, at)
        return ReviewDecided(review_id, approve, decision_id, actor, reason, at)

    def reconsider(self, edge_id: str, verdict: Verdict, actor: str, at: str = "") -> LinkRedecided | None:
        """A new decision on an edge (a new policy, or a retrained model); None if unchanged."""
        edge = self.edges[edge_id]
        active = verdict.outcome == LINK
        if edge.retracted or edge.active == active or (edge.held and verdict.outcome == HOLD):
            return None
        return LinkRedecided(edge_id, active, verdict.decision_id, "; ".join(verdict.reasons), actor, at)

    def proposal_for(
        self, edge: Edge, protected: Callable[[Iterable[Identifier]], bool], band: str = ""
    ) -> Proposal | None:
        """The proposal an inactive edge would make now."""
        return self._proposal([edge.a, edge.b], edge.rule, protected, band)

    def retractions(
        self, edge_ids: Iterable[str], reason: str, basis: str = "", actor: str = "", at: str = ""
    ) -> list[LinkRetracted]:
        return [
            LinkRetracted(e, reason, basis, actor, at) for e in dict.fromkeys(edge_ids) if not self.edges[e].retracted
        ]

    def split_edges(self, person_id: str, part: set[Identifier] | None) -> list[str]:
        """The admitted edges to remove to split part off the person (None: every identifier alone)."""
        out: list[str] = []
        for node in self.members.get(person_id, ()):
            for neighbour, edge_ids in self.adjacency.get(node, {}).items():
                if node < neighbour and (part is None or (node in part) != (neighbour in part)):
                    out.extend(sorted(edge_ids))
        return out

    # Evolving -----------------------------------------------------------------------------

    def apply(self, event: GraphEvent) -> list[Consequence]:
        """Fold one event in; returns the merges and splits it caused."""
        if isinstance(event, IdentifierSeen):
            self._seen(event.identifier, event.event_id)
            return []
        if isinstance(event, LinkEvidenced):
            return self._evidenced(event.edge)
        if isinstance(event, LinkRedecided):
            edge = self.edges[event.edge_id]
            self.reviews.pop(self.review_of.get(event.edge_id, ""), None)  # decided: no longer held
            self.edges[event.edge_id] = replace(
                edge, active=event.active, decision_id=event.decision_id, reason=event.reason, held=False
            )
            if event.active:
                return self._connect(self.edges[event.edge_id], event.at)
            return self._disconnect(edge, event.reason, event.at, event.actor)
        if isinstance(event, LinkRetracted):
            edge = self.edges[event.edge_id]
            self.edges[event.edge_id] = replace(edge, active=False, retracted=True, reason=event.reason, held=False)
            self.reviews.pop(self.review_of.get(event.edge_id, ""), None)  # nothing left to review
            item = HistoryItem("retracted", event.at, (), edge.edge_id, edge.event_id, "", event.reason, event.actor)
            self._note({self.person_of[edge.a], self.person_of[edge.b]}, item)
            return self._disconnect(edge, event.reason, event.at, event.actor) if edge.active else []
        if isinstance(event, ReviewRequested):
            self.reviews[event.review_id] = event.edge_id
            self.review_of[event.edge_id] = event.review_id
            return []
        # ReviewDecided
        edge_id = self.reviews.pop(event.review_id, "")
        if not edge_id:
            return []
        edge = self.edges[edge_id]
        self.edges[edge_id] = replace(
            edge, active=event.approved, decision_id=event.decision_id, reason=event.reason, held=False
        )
        kind = "approved" if event.approved else "rejected"
        item = HistoryItem(kind, event.at, (), edge_id, edge.event_id, event.decision_id, event.reason, event.actor)
        self._note({self.person_of[edge.a], self.person_of[edge.b]}, item)
        return self._connect(self.edges[edge_id], event.at) if event.approved else []

    def _seen(self, identifier: Identifier, event_id: str) -> None:
        if identifier in self.order:
            return
        self.order[identifier] = len(self.order)
        self.born_in[identifier] = event_id
        person = self.person_id_for(identifier)
        self.person_of[identifier] = person
        self.members[person] = {identifier}
        self.anchor[person] = identifier

    def _evidenced(self, edge: Edge) -> list[Consequence]:
        for node in (edge.a, edge.b):
            self._seen(node, edge.event_id)  # a model's edges join identifiers seen before
            self.by_node.setdefault(node, []).append(edge.edge_id)
        self.edges[edge.edge_id] = edge
        self.by_pair.setdefault(pair(edge.a, edge.b), []).append(edge.edge_id)
        if edge.event_id:
            self.by_event.setdefault(edge.event_id, []).append(edge.edge_id)
        if not edge.active:
            pa, pb = self.person_of[edge.a], self.person_of[edge.b]
            kind = "held" if edge.held else "refused"
            for person, other in ((pa, pb), (pb, pa)):
                others = (other,) if other != person else ()
                item = HistoryItem(kind, edge.at, others, edge.edge_id, edge.event_id, edge.decision_id, edge.reason)
                self._note({person}, item)
            return []
        return self._connect(edge, edge.at, evidenced_now=True)

    def _connect(self, edge: Edge, at: str, evidenced_now: bool = False) -> list[Consequence]:
        a, b = edge.a, edge.b
        self.adjacency.setdefault(a, {}).setdefault(b, set()).add(edge.edge_id)
        self.adjacency.setdefault(b, {}).setdefault(a, set()).add(edge.edge_id)
        pa, pb = self.person_of[a], self.person_of[b]
        if pa == pb:
            return []
        survivor, merged = (pa, pb) if self.order[self.anchor[pa]] < self.order[self.anchor[pb]] else (pb, pa)
        moved = self.members.pop(merged)
        moved_anchor = self.anchor.pop(merged)
        for node in moved:
            self.person_of[node] = survivor
        self.members[survivor] |= moved
        identifiers = tuple(sorted(moved, key=self.order.__getitem__))
        absorbed = self.merged_ids.setdefault(survivor, set())
        absorbed |= self.merged_ids.pop(merged, set())
        # A person first seen in the call that merges it was never a person of its own outside it.
        fresh = evidenced_now and bool(edge.event_id) and self.born_in[moved_anchor] == edge.event_id
        if not fresh:
            absorbed.add(merged)
            self.id_anchor[merged] = moved_anchor
        for absorbed_id in absorbed:
            self.absorbed_into[absorbed_id] = survivor
        merge = PersonsMerged(survivor, merged, identifiers, edge.event_id, edge.edge_id, edge.decision_id, fresh)
        self.history.setdefault(survivor, []).extend(self.history.pop(merged, []))
        if not fresh:
            item = HistoryItem("merged", at, (merged,), edge.edge_id, edge.event_id, edge.decision_id)
            self._note({survivor}, item)
        return [merge]

    def _disconnect(self, edge: Edge, reason: str, at: str, actor: str = "") -> list[Consequence]:
        a, b = edge.a, edge.b
        links = self.adjacency.get(a, {}).get(b)
        if not links or edge.edge_id not in links:
            return []
        links.discard(edge.edge_id)
        self.adjacency[b][a].discard(edge.edge_id)  # each direction holds its own set of the same ids
        if links:
            return []  # other evidence still joins them
        del self.adjacency[a][b]
        del self.adjacency[b][a]
        part = self._component(a)
        if b in part:
            return []
        person = self.person_of[a]
        whole = self.members[person]
        keep, other = (part, whole - part) if self.anchor[person] in part else (whole - part, part)
        new_anchor = min(other, key=self.order.__getitem__)
        new_person = self.person_id_for(new_anchor)
        self.members[person] = keep
        self.members[new_person] = other
        self.anchor[new_person] = new_anchor
        for node in other:
            self.person_of[node] = new_person
        absorbed = self.merged_ids.pop(person, set())
        self.absorbed_into.pop(new_person, None)  # a person of its own again
        for part_id, part_members in ((person, keep), (new_person, other)):
            ids = {p for p in absorbed if self.id_anchor[p] in part_members and p != part_id}
            if ids:
                self.merged_ids[part_id] = ids
            for absorbed_id in ids:
                self.absorbed_into[absorbed_id] = part_id
        split = PersonSplit(
            person,
            (
                (person, tuple(sorted(keep, key=self.order.__getitem__))),
                (new_person, tuple(sorted(other, key=self.order.__getitem__))),
            ),
            reason,
            edge.edge_id,
            actor,
        )
        self.history[new_person] = list(self.history.get(person, []))
        self._note({person}, HistoryItem("split", at, (new_person,), edge.edge_id, edge.event_id, "", reason, actor))
        self._note({new_person}, HistoryItem("split", at, (person,), edge.edge_id, edge.event_id, "", reason, actor))
        return [split]

    def _component(self, start: Identifier) -> set[Identifier]:
        seen = {start}
        queue = deque([start])
        while queue:
            for neighbour in self.adjacency.get(queue.popleft(), {}):
                if neighbour not in seen:
                    seen.add(neighbour)
                    queue.append(neighbour)
        return seen

    def _note(self, persons: set[str], item: HistoryItem) -> None:
        for person_id in persons:
            self.history.setdefault(person_id, []).append(item)


# Deciding the whole log again ------------------------------------------------------------------


def redecided(
    log: Sequence[GraphEvent],
    person_id_for: Callable[[Identifier], str],
    policy: LinkPolicy,
    edge_id: Callable[[Identifier, Identifier, str], str],
    protected: Callable[[Iterable[Identifier]], bool],
    band_of: Callable[[float], str],
    blocked: Callable[[Identifier], bool] = lambda identifier: False,
) -> IdentityGraph:
    """The graph the same evidence would make had this policy been in force from the start: each
    call's evidence proposed again in log order (limits are first come, first served), a model's
    scores banded again; retractions and reviewers' verdicts stand, policy re-decisions do not."""
    graph = IdentityGraph(person_id_for)
    # A call's identifiers first seen are seen again when its evidence is proposed again.
    proposed_calls = {e.edge.event_id for e in log if isinstance(e, LinkEvidenced) and e.edge.rule != PROBABILISTIC}
    i = 0
    while i < len(log):
        event = log[i]
        if isinstance(event, LinkEvidenced) and event.edge.rule != PROBABILISTIC and event.edge.event_id:
            cause = event.edge.event_id
            group: list[Edge] = []
            while i < len(log) and isinstance(log[i], LinkEvidenced | ReviewRequested):
                current = log[i]
                if isinstance(current, LinkEvidenced):
                    if current.edge.event_id != cause:
                        break
                    group.append(current.edge)
                i += 1
            call = [i for i in (group[0].a, *(e.b for e in group)) if not blocked(i)]
            if not call:
                continue

            def same_edge_id(a: Identifier, b: Identifier, cause: str = cause) -> str:
                return edge_id(a, b, cause)

            proposed = graph.propose_call(
                call,
                cause,
                group[0].rule,
                group[0].rule_version,
                policy,
                same_edge_id,
                protected,
                group[0].at,
            )
            for step in proposed:
                graph.apply(step)
            continue
        i += 1
        if isinstance(event, LinkEvidenced):
            edge = event.edge
            if blocked(edge.a) or blocked(edge.b):
                continue
            for step in graph.propose_match(
                edge.a,
                edge.b,
                edge.score,
                band_of(edge.score),
                edge.rule_version,
                edge.weights,
                policy,
                edge.edge_id,
                protected,
                edge.at,
            ):
                graph.apply(step)
        elif isinstance(event, LinkRedecided):
            edge_now = graph.edges.get(event.edge_id)
            # A retrained model's withdrawal stands (no policy made it); policy re-decisions are redone.
            if edge_now is not None and edge_now.rule == PROBABILISTIC and not event.decision_id:
                graph.apply(event)
        elif isinstance(event, ReviewRequested):
            continue  # proposing again asks for the reviews it needs
        elif isinstance(event, IdentifierSeen) and event.event_id in proposed_calls:
            continue
        elif isinstance(event, LinkRetracted):
            if event.edge_id in graph.edges:
                graph.apply(event)
        elif isinstance(event, ReviewDecided):
            if event.review_id in graph.reviews:
                graph.apply(
                    graph.review(
                        event.review_id,
                        event.approved,
                        event.decision_id,
                        event.actor,
                        event.reason,
                        event.at,
                        policy,
                        protected,
                    )
                )
        else:
            graph.apply(event)
    return graph


def redecisions(live: IdentityGraph, simulated: IdentityGraph, actor: str, at: str) -> list[LinkRedecided]:
    """The changes that make the live graph's admitted evidence what a re-decision made it."""
    out: list[LinkRedecided] = []
    for edge_id, edge in live.edges.items():
        now = simulated.edges.get(edge_id)
        if edge.retracted:
            continue
        if now is None:  # no longer evidence (an identifier now blocked)
            if edge.active:
                out.append(LinkRedecided(edge_id, False, "", "not evidence under the policy in force", actor, at))
            continue
        if now.active == edge.active and now.held == edge.held:
            continue
        reason = now.reason or "admitted by the identity policy in force"
        out.append(LinkRedecided(edge_id, now.active, now.decision_id, reason, actor, at))
    return out


def partition_changes(before: IdentityGraph, after: IdentityGraph) -> tuple[list[str], list[str]]:
    """The persons of `before` that `after` splits, and the persons of `after` that merge several
    of `before`'s."""
    splits = [p for p, members in before.members.items() if len({after.person_of.get(m) for m in members}) > 1]
    merges = [p for p, members in after.members.items() if len({before.person_of.get(m) for m in members}) > 1]
    return sorted(splits), sorted(merges)
