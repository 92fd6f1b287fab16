"""Identity: follows the collector's log and keeps the identity graph."""

from __future__ import annotations

import uuid
from typing import Sequence

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.identity import domain
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.store import EventStore

UPSTREAM = "collector"
PUBLISHED = (pb.PersonCreated, pb.IdentifierLinked, pb.PersonsMerged, pb.MergeBlocked)


def new_person_id(identifier: domain.Identifier) -> str:
    return str(derived_id("person", *identifier))


def email_of(event) -> str:
    """The email an identify call carries, in traits or context.traits."""
    for text, path in ((event.traits, ()), (event.context, ("traits",))):
        if not text or "email" not in text:
            continue
        value = orjson.loads(text)
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, dict) and isinstance(value.get("email"), str):
            return value["email"]
    return ""


def call_identifiers(event) -> list[domain.Identifier]:
    email = email_of(event) if event.type in ("identify", "alias") else ""
    return domain.identifiers_of(event.user_id, event.anonymous_id, event.previous_id, email)


def _identifier(i: domain.Identifier) -> pb.Identifier:
    return pb.Identifier(type=i[0], value=i[1])


def to_proto(event: domain.IdentityEvent):
    if isinstance(event, domain.PersonCreated):
        return pb.PersonCreated(person_id=event.person_id, identifier=_identifier(event.identifier), event_id=event.event_id)
    if isinstance(event, domain.IdentifierLinked):
        return pb.IdentifierLinked(person_id=event.person_id, identifier=_identifier(event.identifier), event_id=event.event_id)
    if isinstance(event, domain.PersonsMerged):
        return pb.PersonsMerged(survivor_id=event.survivor_id, merged_id=event.merged_id,
                                identifiers=[_identifier(i) for i in event.identifiers], event_id=event.event_id)
    return pb.MergeBlocked(person_id=event.person_id, other_person_id=event.other_person_id, rule=event.rule, event_id=event.event_id)


def from_proto(message) -> domain.IdentityEvent:
    if isinstance(message, pb.PersonCreated):
        return domain.PersonCreated(message.person_id, (message.identifier.type, message.identifier.value), message.event_id)
    if isinstance(message, pb.IdentifierLinked):
        return domain.IdentifierLinked(message.person_id, (message.identifier.type, message.identifier.value), message.event_id)
    if isinstance(message, pb.PersonsMerged):
        return domain.PersonsMerged(message.survivor_id, message.merged_id,
                                    tuple((i.type, i.value) for i in message.identifiers), message.event_id)
    return domain.MergeBlocked(message.person_id, message.other_person_id, message.rule, message.event_id)


class IdentityApp:
    def __init__(self, store: EventStore):
        self.store = store
        self.graph = domain.IdentityGraph()
        self.versions: dict[str, int] = {}
        self.rebuild()

    def rebuild(self) -> None:
        """State is the fold of identity's own events."""
        self.graph = domain.IdentityGraph()
        self.versions = {}
        for n in self.store.replay(topic_of(*PUBLISHED)):
            self.graph.apply(from_proto(decode(n.topic, n.state)))
            self.versions[str(n.originator_id)] = n.originator_version

    async def handle(self, notifications) -> Sequence[StoredEvent]:
        """Link the identifiers of each collected call (a follower handler)."""
        out: list[StoredEvent] = []
        for n in notifications:
            accepted = decode(n.topic, n.payload)
            for event in self.graph.link(call_identifiers(accepted.event), accepted.event_id, new_person_id):
                out.append(self._stored(event))
        return out

    def _stored(self, event: domain.IdentityEvent) -> StoredEvent:
        # Each person is an originator: its events are versioned in order.
        person = event.survivor_id if isinstance(event, domain.PersonsMerged) else event.person_id
        version = self.versions.get(person, 0) + 1
        self.versions[person] = version
        return stored(uuid.UUID(person), version, to_proto(event))

    def person(self, person_id: str) -> pb.Person | None:
        person_id = self.graph.canonical(person_id)
        identifiers = self.graph.identifiers.get(person_id)
        if identifiers is None:
            return None
        return pb.Person(
            person_id=person_id,
            identifiers=[_identifier(i) for i in identifiers],
            merged_person_ids=self.graph.merged_from.get(person_id, []),
        )


TOPICS_FOLLOWED = topic_of(collector_pb2.EventAccepted)
