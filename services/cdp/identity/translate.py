"""Between identity's published language (protobuf) and its domain."""

from __future__ import annotations

import functools
import uuid

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.identity import domain
from cdp.identity.domain import Identifier
from cdp.platform.ids import derived_id


@functools.lru_cache(maxsize=4096)  # asked twice for each new identifier: as a node, and in its record
def new_person_id(identifier: Identifier) -> str:
    """A person's id: that of its oldest identifier."""
    return str(derived_id("person", *identifier))


def identifier(message: pb.Identifier) -> Identifier:
    return (message.type, message.value)


def identifier_proto(value: Identifier) -> pb.Identifier:
    return pb.Identifier(type=value[0], value=value[1])


def evidence(edge: domain.Edge) -> pb.Evidence:
    return pb.Evidence(
        edge_id=edge.edge_id,
        a=identifier_proto(edge.a),
        b=identifier_proto(edge.b),
        event_id=edge.event_id,
        rule=edge.rule,
        rule_version=edge.rule_version,
        score=edge.score,
        active=edge.active,
        decision_id=edge.decision_id,
        reason=edge.reason,
        retracted=edge.retracted,
        at=edge.at,
        weights=[pb.FieldWeight(field=f, level=level, weight=w) for f, level, w in edge.weights],
        held=edge.held,
    )


def edge(message: pb.Evidence) -> domain.Edge:
    return domain.Edge(
        message.edge_id,
        identifier(message.a),
        identifier(message.b),
        message.event_id,
        message.rule,
        message.rule_version,
        message.score,
        message.active,
        message.decision_id,
        message.reason,
        message.retracted,
        message.at,
        tuple((w.field, w.level, w.weight) for w in message.weights),
        message.held,
    )


def to_domain_all(message) -> list[domain.GraphEvent]:
    """The graph events a stored message holds, in order ([] for what the graph does not fold)."""
    if isinstance(message, pb.CallEvidenced):
        # Seen first, then each link with the review it asked for: the order they were decided in.
        events: list[domain.GraphEvent] = [
            domain.IdentifierSeen(identifier(s.identifier), s.event_id) for s in message.seen
        ]
        reviews = {r.edge_id: r for r in message.reviews}
        for link in message.links:
            events.append(domain.LinkEvidenced(edge(link)))
            if link.edge_id in reviews:
                r = reviews[link.edge_id]
                events.append(domain.ReviewRequested(r.review_id, r.edge_id, r.band))
        return events
    event = to_domain(message)
    return [event] if event is not None else []


def call_record(event_id: str, events, sealed: dict[Identifier, str]) -> pb.CallEvidenced:
    """One call's IdentifierSeen, LinkEvidenced and ReviewRequested events as one record."""
    record = pb.CallEvidenced(event_id=event_id)
    for event in events:
        if isinstance(event, domain.IdentifierSeen):
            record.seen.append(to_proto(event, sealed.get(event.identifier, "")))
        elif isinstance(event, domain.LinkEvidenced):
            record.links.append(evidence(event.edge))
        else:
            record.reviews.append(to_proto(event))
    return record


def to_domain(message) -> domain.GraphEvent | None:
    """The graph event a stored message is; None for what the graph does not fold."""
    if isinstance(message, pb.IdentifierSeen):
        return domain.IdentifierSeen(identifier(message.identifier), message.event_id)
    if isinstance(message, pb.LinkEvidenced):
        return domain.LinkEvidenced(edge(message.evidence))
    if isinstance(message, pb.LinkRedecided):
        return domain.LinkRedecided(
            message.edge_id, message.active, message.decision_id, message.reason, message.actor, message.at
        )
    if isinstance(message, pb.LinkRetracted):
        return domain.LinkRetracted(message.edge_id, message.reason, message.basis, message.actor, message.at)
    if isinstance(message, pb.ReviewRequested):
        return domain.ReviewRequested(message.review_id, message.edge_id, message.band)
    if isinstance(message, pb.ReviewDecided):
        return domain.ReviewDecided(
            message.review_id, message.approved, message.decision_id, message.actor, message.reason, message.at
        )
    return None


def to_proto(event, sealed: str = ""):
    if isinstance(event, domain.IdentifierSeen):
        return pb.IdentifierSeen(
            identifier=identifier_proto(event.identifier),
            event_id=event.event_id,
            person_id=new_person_id(event.identifier),
            sealed=sealed,
        )
    if isinstance(event, domain.LinkEvidenced):
        return pb.LinkEvidenced(evidence=evidence(event.edge))
    if isinstance(event, domain.LinkRedecided):
        return pb.LinkRedecided(
            edge_id=event.edge_id,
            active=event.active,
            decision_id=event.decision_id,
            reason=event.reason,
            actor=event.actor,
            at=event.at,
        )
    if isinstance(event, domain.LinkRetracted):
        return pb.LinkRetracted(
            edge_id=event.edge_id, reason=event.reason, basis=event.basis, actor=event.actor, at=event.at
        )
    if isinstance(event, domain.ReviewRequested):
        return pb.ReviewRequested(review_id=event.review_id, edge_id=event.edge_id, band=event.band)
    if isinstance(event, domain.ReviewDecided):
        return pb.ReviewDecided(
            review_id=event.review_id,
            approved=event.approved,
            decision_id=event.decision_id,
            actor=event.actor,
            reason=event.reason,
            at=event.at,
        )
    if isinstance(event, domain.PersonsMerged):
        return pb.PersonsMerged(
            survivor_id=event.survivor_id,
            merged_id=event.merged_id,
            identifiers=[identifier_proto(i) for i in event.identifiers],
            event_id=event.event_id,
            edge_id=event.edge_id,
            decision_id=event.decision_id,
        )
    if isinstance(event, domain.PersonSplit):
        return pb.PersonSplit(
            person_id=event.person_id,
            parts=[
                pb.PersonPart(person_id=p, identifiers=[identifier_proto(i) for i in ids]) for p, ids in event.parts
            ],
            reason=event.reason,
            edge_id=event.edge_id,
            actor=event.actor,
        )
    raise TypeError(f"not an identity event: {type(event).__name__}")


def originator(event) -> uuid.UUID:
    """The originator an event is versioned under: the identifier, the edge, the review, the person."""
    if isinstance(event, domain.IdentifierSeen):
        return derived_id("identifier", *event.identifier)
    if isinstance(event, domain.LinkEvidenced):
        return uuid.UUID(event.edge.edge_id)
    if isinstance(event, domain.LinkRedecided | domain.LinkRetracted):
        return uuid.UUID(event.edge_id)
    if isinstance(event, domain.ReviewRequested | domain.ReviewDecided):
        return derived_id("identity-review", event.review_id)
    if isinstance(event, domain.PersonsMerged):
        return uuid.UUID(event.survivor_id)
    if isinstance(event, domain.PersonSplit):
        return uuid.UUID(event.person_id)
    raise TypeError(f"not an identity event: {type(event).__name__}")


def history_entry(person_id: str, item: domain.HistoryItem) -> pb.HistoryEntry:
    return pb.HistoryEntry(
        at=item.at,
        kind=item.kind,
        person_id=person_id,
        other_person_ids=list(item.others),
        edge_id=item.edge_id,
        event_id=item.event_id,
        decision_id=item.decision_id,
        reason=item.reason,
        actor=item.actor,
    )
