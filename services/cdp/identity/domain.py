"""Identity resolution: identifiers linked into persons (customer 360, not dedup).

Every identifier seen together in one call belongs to one person. When a call
joins identifiers of two persons they are merged, the older person surviving,
unless both carry different user ids: a user id names exactly one person, so
that merge is blocked and recorded instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

Identifier = tuple[str, str]  # (type, value)

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"


@dataclass(frozen=True)
class PersonCreated:
    person_id: str
    identifier: Identifier | None  # None: its value was erased (a forgotten email, read back)
    event_id: str


@dataclass(frozen=True)
class IdentifierLinked:
    person_id: str
    identifier: Identifier | None  # None: its value was erased (a forgotten email, read back)
    event_id: str


@dataclass(frozen=True)
class PersonsMerged:
    survivor_id: str
    merged_id: str
    identifiers: tuple[Identifier, ...]
    event_id: str


@dataclass(frozen=True)
class SubjectForgotten:
    """The person's data keys were destroyed; their emails are no longer known."""

    person_id: str
    keys_destroyed: int
    requested_by: str


@dataclass(frozen=True)
class MergeBlocked:
    person_id: str
    other_person_id: str
    rule: str
    event_id: str


IdentityEvent = PersonCreated | IdentifierLinked | PersonsMerged | MergeBlocked | SubjectForgotten
_Event = TypeVar("_Event", bound=IdentityEvent)


def normal_email(text: object) -> str | None:
    """An email as an identifier: trimmed and lower-cased; None when it is not one."""
    if not isinstance(text, str):
        return None
    email = text.strip().lower()
    return email if "@" in email.strip("@") else None


def identifiers_of(user_id: str, anonymous_id: str, previous: Identifier | None, email_key: str) -> list[Identifier]:
    """The identifiers one call carries, the strongest first.

    email_key stands for the call's email: a keyed hash of it, since the graph
    must find a person by email without holding the email in clear.
    """
    found: list[Identifier] = []
    if user_id:
        found.append((USER_ID, user_id))
    if previous:
        found.append(previous)
    if email_key:
        found.append((EMAIL, email_key))
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

    def link(
        self, found: Iterable[Identifier], event_id: str, new_person_id: Callable[[Identifier], str]
    ) -> list[IdentityEvent]:
        """The events that joining these identifiers causes; applied as they are decided."""
        found = list(found)
        if not found:
            return []
        events: list[IdentityEvent] = []
        persons = list(dict.fromkeys(p for i in found if (p := self.person_of.get(i))))
        if not persons:
            first = found[0]
            created = self._emit(PersonCreated(new_person_id(first), first, event_id))
            events.append(created)
            persons = [created.person_id]
        survivor = min(persons, key=lambda p: self.created[p])
        for other in persons:
            if other == survivor:
                continue
            if self._user_ids_conflict(survivor, other):
                events.append(
                    self._emit(
                        MergeBlocked(survivor, other, "persons with different user ids are not merged", event_id)
                    )
                )
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

    def _emit(self, event: _Event) -> _Event:
        self.apply(event)
        return event

    def forget(self, person_id: str, keys_destroyed: int, requested_by: str) -> SubjectForgotten:
        return self._emit(SubjectForgotten(self.canonical(person_id), keys_destroyed, requested_by))

    # Evolving --------------------------------------------------------------
    # An identifier of None is one whose value was erased: the event still counts.

    def apply(self, event: IdentityEvent) -> None:
        if isinstance(event, PersonCreated):
            self.created[event.person_id] = len(self.created)
            self.identifiers[event.person_id] = []
            self._link(event.person_id, event.identifier)
        elif isinstance(event, IdentifierLinked):
            self._link(event.person_id, event.identifier)
        elif isinstance(event, SubjectForgotten):
            kept = [i for i in self.identifiers.get(event.person_id, []) if i[0] != EMAIL]
            for identifier in self.identifiers.get(event.person_id, []):
                if identifier[0] == EMAIL:
                    del self.person_of[identifier]
            self.identifiers[event.person_id] = kept
        elif isinstance(event, PersonsMerged):
            moved = self.identifiers.pop(event.merged_id, [])
            for identifier in moved:
                self.person_of[identifier] = event.survivor_id
            self.identifiers[event.survivor_id].extend(moved)
            self.merged_into[event.merged_id] = event.survivor_id
            self.merged_from.setdefault(event.survivor_id, []).append(event.merged_id)
            self.merged_from[event.survivor_id].extend(self.merged_from.pop(event.merged_id, []))

    def _link(self, person_id: str, identifier: Identifier | None) -> None:
        if identifier is not None:
            self.identifiers[person_id].append(identifier)
            self.person_of[identifier] = person_id

    # Reading ---------------------------------------------------------------

    def previous_identifier(self, previous_id: str) -> Identifier:
        """What an alias's previousId names: an anonymous id seen before sign-up, else an old user id."""
        if (ANONYMOUS_ID, previous_id) in self.person_of:
            return (ANONYMOUS_ID, previous_id)
        return (USER_ID, previous_id)

    def canonical(self, person_id: str) -> str:
        while person_id in self.merged_into:
            person_id = self.merged_into[person_id]
        return person_id

    def resolve(self, identifier: Identifier) -> str | None:
        person = self.person_of.get(identifier)
        return self.canonical(person) if person else None
