"""Identity resolution: identifiers linked into persons (customer 360, not dedup).

Every identifier seen together in one call belongs to one person. When a call
joins identifiers of two persons they are merged, the older person surviving,
unless both carry different user ids: a user id names exactly one person, so
that merge is blocked and recorded instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Union

Identifier = tuple[str, str]  # (type, value)

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"


@dataclass(frozen=True)
class PersonCreated:
    person_id: str
    identifier: Identifier
    event_id: str


@dataclass(frozen=True)
class IdentifierLinked:
    person_id: str
    identifier: Identifier
    event_id: str


@dataclass(frozen=True)
class PersonsMerged:
    survivor_id: str
    merged_id: str
    identifiers: tuple[Identifier, ...]
    event_id: str


@dataclass(frozen=True)
class MergeBlocked:
    person_id: str
    other_person_id: str
    rule: str
    event_id: str


IdentityEvent = Union[PersonCreated, IdentifierLinked, PersonsMerged, MergeBlocked]


def identifiers_of(user_id: str, anonymous_id: str, previous_id: str, email: str) -> list[Identifier]:
    """The identifiers one call carries, normalised; the strongest first."""
    found: list[Identifier] = []
    if user_id:
        found.append((USER_ID, user_id))
    if previous_id:
        # alias: previousId is the old user id, or an anonymous id before sign-up.
        found.append((USER_ID, previous_id))
    if email and "@" in email:
        found.append((EMAIL, email.strip().lower()))
    if anonymous_id:
        found.append((ANONYMOUS_ID, anonymous_id))
    return list(dict.fromkeys(found))


@dataclass
class IdentityGraph:
    """The state: which person each identifier belongs to."""

    person_of: dict[Identifier, str] = field(default_factory=dict)
    identifiers: dict[str, list[Identifier]] = field(default_factory=dict)
    merged_into: dict[str, str] = field(default_factory=dict)
    merged_from: dict[str, list[str]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)  # person -> creation order

    # Deciding --------------------------------------------------------------

    def link(self, found: Iterable[Identifier], event_id: str, new_person_id) -> list[IdentityEvent]:
        """The events that joining these identifiers causes; applied as they are decided."""
        found = list(found)
        if not found:
            return []
        events: list[IdentityEvent] = []
        persons = list(dict.fromkeys(p for i in found if (p := self.person_of.get(i))))
        if not persons:
            first = found[0]
            events.append(self._emit(PersonCreated(new_person_id(first), first, event_id)))
            persons = [events[-1].person_id]
        survivor = min(persons, key=lambda p: self.created[p])
        for other in persons:
            if other == survivor:
                continue
            if self._user_ids_conflict(survivor, other):
                events.append(self._emit(MergeBlocked(survivor, other, "persons with different user ids are not merged", event_id)))
            else:
                moved = tuple(self.identifiers[other])
                events.append(self._emit(PersonsMerged(survivor, other, moved, event_id)))
        for identifier in found:
            if identifier not in self.person_of:
                owner = self._owner_for(identifier, found, survivor)
                events.append(self._emit(IdentifierLinked(owner, identifier, event_id)))
        return events

    def _owner_for(self, identifier: Identifier, found: list[Identifier], survivor: str) -> str:
        # With a blocked merge the call's own user id says whose new identifiers these are.
        if identifier[0] != USER_ID:
            for other in found:
                if other[0] == USER_ID and other in self.person_of:
                    return self.canonical(self.person_of[other])
        return survivor

    def _user_ids_conflict(self, a: str, b: str) -> bool:
        ids_a = {v for t, v in self.identifiers[a] if t == USER_ID}
        ids_b = {v for t, v in self.identifiers[b] if t == USER_ID}
        return bool(ids_a and ids_b and not ids_a & ids_b)

    def _emit(self, event: IdentityEvent) -> IdentityEvent:
        self.apply(event)
        return event

    # Evolving --------------------------------------------------------------

    def apply(self, event: IdentityEvent) -> None:
        if isinstance(event, PersonCreated):
            self.created[event.person_id] = len(self.created)
            self.identifiers[event.person_id] = [event.identifier]
            self.person_of[event.identifier] = event.person_id
        elif isinstance(event, IdentifierLinked):
            self.identifiers[event.person_id].append(event.identifier)
            self.person_of[event.identifier] = event.person_id
        elif isinstance(event, PersonsMerged):
            moved = self.identifiers.pop(event.merged_id, [])
            for identifier in moved:
                self.person_of[identifier] = event.survivor_id
            self.identifiers[event.survivor_id].extend(moved)
            self.merged_into[event.merged_id] = event.survivor_id
            self.merged_from.setdefault(event.survivor_id, []).append(event.merged_id)
            self.merged_from[event.survivor_id].extend(self.merged_from.pop(event.merged_id, []))

    # Reading ---------------------------------------------------------------

    def canonical(self, person_id: str) -> str:
        while person_id in self.merged_into:
            person_id = self.merged_into[person_id]
        return person_id

    def resolve(self, identifier: Identifier) -> str | None:
        person = self.person_of.get(identifier)
        return self.canonical(person) if person else None
