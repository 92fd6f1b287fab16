"""Identity: follows the collector's log and keeps the identity graph.

Emails are personal data: the graph keys them by a keyed hash (a blind index)
and the stored events hold them only encrypted, under the subject of the call
that brought them. Forgetting a person destroys their subjects' keys, so their
emails drop out of the graph now and on every rebuild.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.identity import domain
from cdp.platform.clock import SYSTEM_CLOCK, Clock
from cdp.platform.errors import InvalidArgument, NotFound, Unavailable
from cdp.platform.eventlog import Upstream
from cdp.platform.ids import derived_id
from cdp.platform.personal import identifier_subjects, subject_of
from cdp.platform.published import decode, topic_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, blind_index, is_token

UPSTREAM = "collector"
PUBLISHED = (pb.PersonCreated, pb.IdentifierLinked, pb.PersonsMerged, pb.MergeBlocked, pb.SubjectForgotten)
TOPICS_FOLLOWED = topic_of(collector_pb2.EventAccepted)
EMAIL_CONTEXT = ("identity", "email")  # event type and field of an email held by identity


def new_person_id(identifier: domain.Identifier) -> str:
    return str(derived_id("person", *identifier))


def _may_carry_email(event) -> bool:
    return event.type in ("identify", "alias") and ("email" in event.traits or "email" in event.context)


def _email_value(event) -> object:
    """The email an identify or alias call carries, in traits or context.traits (a token when personal)."""
    for text, nested in ((event.traits, False), (event.context, True)):
        if not text or "email" not in text:
            continue
        value = orjson.loads(text)
        if nested:
            value = value.get("traits") if isinstance(value, dict) else None
        if isinstance(value, dict) and "email" in value:
            return value["email"]
    return None


class IdentityApp(EventSourced):
    topics = topic_of(*PUBLISHED)

    def __init__(
        self, uow: UnitOfWork, vault: Vault, master_key: bytes, collector: Upstream, clock: Clock = SYSTEM_CLOCK
    ):
        self.vault = vault
        self._index_key = master_key
        self.collector = collector  # the collector's log, as far as identity has followed it
        super().__init__(uow, clock)

    def email_key(self, email: str) -> str:
        return blind_index(self._index_key, "email", email)

    def reset(self) -> None:
        """State is the fold of identity's own events (erased emails fall out)."""
        self.graph = domain.IdentityGraph()
        # Email tokens by blind index: what the next event of an identifier is stored with.
        self.email_tokens: dict[str, pb.Identifier] = {}

    def apply(self, message) -> None:
        self.graph.apply(self.from_proto(message))

    # Translation between the published language and the domain --------------

    def _identifier(self, identifier: pb.Identifier) -> domain.Identifier | None:
        if identifier.type != domain.EMAIL:
            return (identifier.type, identifier.value)
        email = self.vault.decrypt(identifier.subject, *EMAIL_CONTEXT, identifier.value)
        if email is None:
            return None  # forgotten
        key = self.email_key(email)
        self.email_tokens[key] = identifier
        return (domain.EMAIL, key)

    def from_proto(self, message) -> domain.IdentityEvent:
        if isinstance(message, pb.PersonCreated):
            return domain.PersonCreated(message.person_id, self._identifier(message.identifier), message.event_id)
        if isinstance(message, pb.IdentifierLinked):
            return domain.IdentifierLinked(message.person_id, self._identifier(message.identifier), message.event_id)
        if isinstance(message, pb.PersonsMerged):
            return domain.PersonsMerged(message.survivor_id, message.merged_id, (), message.event_id)
        if isinstance(message, pb.SubjectForgotten):
            return domain.SubjectForgotten(message.person_id, message.keys_destroyed, message.requested_by)
        return domain.MergeBlocked(message.person_id, message.other_person_id, message.rule, message.event_id)

    def _proto_identifier(self, identifier: domain.Identifier | None) -> pb.Identifier:
        # Only what link() decided is published, and that names its identifier.
        assert identifier is not None
        if identifier[0] == domain.EMAIL:
            return self.email_tokens[identifier[1]]
        return pb.Identifier(type=identifier[0], value=identifier[1])

    def to_proto(self, event: domain.IdentityEvent):
        if isinstance(event, domain.PersonCreated):
            return pb.PersonCreated(
                person_id=event.person_id, identifier=self._proto_identifier(event.identifier), event_id=event.event_id
            )
        if isinstance(event, domain.IdentifierLinked):
            return pb.IdentifierLinked(
                person_id=event.person_id, identifier=self._proto_identifier(event.identifier), event_id=event.event_id
            )
        if isinstance(event, domain.PersonsMerged):
            # Which identifiers moved follows from the graph; emails are not repeated here.
            moved = [pb.Identifier(type=t, value=v) for t, v in event.identifiers if t != domain.EMAIL]
            return pb.PersonsMerged(
                survivor_id=event.survivor_id, merged_id=event.merged_id, identifiers=moved, event_id=event.event_id
            )
        if isinstance(event, domain.SubjectForgotten):
            return pb.SubjectForgotten(
                person_id=event.person_id, keys_destroyed=event.keys_destroyed, requested_by=event.requested_by
            )
        return pb.MergeBlocked(
            person_id=event.person_id, other_person_id=event.other_person_id, rule=event.rule, event_id=event.event_id
        )

    # Following the collector ------------------------------------------------

    def call_identifiers(self, event) -> list[domain.Identifier]:
        email_key = ""
        if _may_carry_email(event):
            value = _email_value(event)
            subject = subject_of(event.user_id, event.anonymous_id)
            if is_token(value):
                value = self.vault.decrypt(subject, event.type, "email", value)
                value = orjson.loads(value) if value is not None else None
            email = domain.normal_email(value)
            if email:
                email_key = self.email_key(email)
                if email_key not in self.email_tokens:
                    token = self.vault.encrypt(subject, *EMAIL_CONTEXT, email)
                    self.email_tokens[email_key] = pb.Identifier(type=domain.EMAIL, value=token, subject=subject)
        previous = self.graph.previous_identifier(event.previous_id) if event.previous_id else None
        return domain.identifiers_of(event.user_id, event.anonymous_id, previous, email_key)

    async def handle(self, notifications) -> Sequence[StoredEvent]:
        """Link the identifiers of each collected call (a follower handler)."""
        out: list[StoredEvent] = []
        calls = [cast(collector_pb2.EventAccepted, decode(n.topic, n.payload)) for n in notifications]
        # One key transaction for the subjects whose emails are decrypted and sealed again below.
        subjects = {subject_of(c.event.user_id, c.event.anonymous_id) for c in calls if _may_carry_email(c.event)}
        if subjects:
            self.vault.keys_for(subjects)
        for accepted in calls:
            for event in self.graph.link(self.call_identifiers(accepted.event), accepted.event_id, new_person_id):
                out.append(self._stored(event))
        return out

    def _stored(self, event: domain.IdentityEvent) -> StoredEvent:
        # Each person is an originator: its events are versioned in order.
        person = event.survivor_id if isinstance(event, domain.PersonsMerged) else event.person_id
        return self.next_event(uuid.UUID(person), self.to_proto(event))

    # Commands and queries -----------------------------------------------------

    def resolve(self, kind: str, value: str) -> str | None:
        if kind == domain.EMAIL:
            email = domain.normal_email(value)
            return self.graph.resolve((kind, self.email_key(email))) if email else None
        return self.graph.resolve((kind, value))

    async def resolve_after(
        self, identifiers: Sequence[tuple[str, str]], after_position: int, wait_s: float
    ) -> tuple[list[str], int]:
        """The person of each identifier ("" if none) once identity has followed the collector
        past after_position (read-your-writes for followers downstream); and that position."""
        if after_position and not await self.collector.reached(after_position, wait_s):
            raise Unavailable(
                f"after_position: identity has followed the collector to {self.collector.position}, "
                f"not yet {after_position}; retry"
            )
        return [self.resolve(kind, value) or "" for kind, value in identifiers], self.collector.position

    def person_of(self, person_id: str, identifier: tuple[str, str] | None) -> str:
        """The person a request names by id or by identifier; raises NotFound or InvalidArgument."""
        if not person_id and identifier and identifier[1]:
            person_id = self.resolve(*identifier) or ""
            if not person_id:
                raise NotFound(f"identifier: no person has this {identifier[0]}")
        if not person_id:
            raise InvalidArgument("person_id", "give a person id or an identifier")
        if self.graph.identifiers.get(self.graph.canonical(person_id)) is None:
            raise NotFound("person_id: no such person")
        return self.graph.canonical(person_id)

    async def forget(self, person_id: str, requested_by: str) -> tuple[str, int, int]:
        """Destroy the keys of every identifier linked to the person, and record it; returns
        (the person, keys destroyed, identifiers). Serialised with the follower's batches."""
        async with self.uow.transaction() as tx:
            person_id = self.graph.canonical(person_id)
            identifiers = list(self.graph.identifiers.get(person_id, []))
            subjects = identifier_subjects(identifiers)
            destroyed = self.vault.destroy(subjects)
            for key, token in list(self.email_tokens.items()):
                if token.subject in subjects:
                    del self.email_tokens[key]
            tx.add([self._stored(self.graph.forget(person_id, destroyed, requested_by))])
        return person_id, destroyed, len(identifiers)

    def person(self, person_id: str) -> pb.Person | None:
        person_id = self.graph.canonical(person_id)
        identifiers = self.graph.identifiers.get(person_id)
        if identifiers is None:
            return None
        return pb.Person(
            person_id=person_id,
            # Emails are shown as their blind index, never in clear.
            identifiers=[pb.Identifier(type=t, value=v) for t, v in identifiers],
            merged_person_ids=self.graph.merged_from.get(person_id, []),
        )
