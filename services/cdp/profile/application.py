"""Profile: follows the collector (calls) and identity (merges); publishes whole profiles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso, parse_iso
from cdp.platform.errors import InvalidArgument, NotFound
from cdp.platform.personal import subject_of
from cdp.platform.published import decode, topic_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.profile import domain

COLLECTOR_TOPICS = topic_of(collector_pb2.EventAccepted)
IDENTITY_TOPICS = topic_of(identity_pb2.PersonsMerged, identity_pb2.SubjectForgotten)
_IdentityRecord = identity_pb2.PersonsMerged | identity_pb2.SubjectForgotten
PUBLISHED = topic_of(pb.ProfileChanged, pb.ProfileMerged)


def _trait_proto(value: domain.TraitValue) -> pb.TraitValue:
    return pb.TraitValue(
        value=value.value,
        source_id=value.source_id,
        event_id=value.event_id,
        updated_at=value.updated_at,
        subject=value.subject,
        event_type=value.event_type,
        erased=value.erased,
    )


def _trait_state(value: pb.TraitValue) -> domain.TraitValue:
    return domain.TraitValue(
        value.value, value.source_id, value.event_id, value.updated_at, value.subject, value.event_type, value.erased
    )


def is_personal(value: domain.TraitValue) -> bool:
    """A personal value is stored as the JSON string of its token."""
    return value.value.startswith('"pii:v1:')


def to_proto(state: domain.ProfileState) -> pb.Profile:
    return pb.Profile(
        person_id=state.person_id,
        traits={k: _trait_proto(v) for k, v in state.traits.items()},
        event_counts=state.event_counts,
        first_seen=state.first_seen,
        last_seen=state.last_seen,
        accounts=[
            pb.Account(group_id=g, traits={k: _trait_proto(v) for k, v in t.items()})
            for g, t in sorted(state.accounts.items())
        ],
        merged_person_ids=state.merged_person_ids,
    )


def from_proto(profile: pb.Profile) -> domain.ProfileState:
    return domain.ProfileState(
        person_id=profile.person_id,
        traits={k: _trait_state(v) for k, v in profile.traits.items()},
        event_counts=dict(profile.event_counts),
        first_seen=profile.first_seen,
        last_seen=profile.last_seen,
        accounts={a.group_id: {k: _trait_state(v) for k, v in a.traits.items()} for a in profile.accounts},
        merged_person_ids=list(profile.merged_person_ids),
    )


def _json_object(text: str) -> dict:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


def _as_trait_values(values: dict) -> dict[str, str]:
    return {str(k): orjson.dumps(v).decode() for k, v in values.items()}


def _utc(text: str) -> str:
    try:
        return format_iso(parse_iso(text))
    except ValueError:
        return text


def person_traits(event) -> dict[str, str]:
    """Identify traits may come at the top level or in context.traits; the top level wins."""
    if event.type != "identify":
        return {}
    traits = dict(_json_object(event.context).get("traits") or {})
    traits.update(_json_object(event.traits))
    return _as_trait_values(traits)


class Resolver(Protocol):
    """Identity's answer: the person of each identifier, once identity has followed the collector
    past after_position (0: as it stands)."""

    async def resolve(
        self, identifiers: Sequence[tuple[str, str]], after_position: int = 0
    ) -> dict[tuple[str, str], str]: ...


class ProfileApp(EventSourced):
    topics = PUBLISHED

    def __init__(self, uow: UnitOfWork, identity: Resolver, clock: Clock = SYSTEM_CLOCK):
        self.identity = identity
        super().__init__(uow, clock)

    def reset(self) -> None:
        """State is the fold of profile's own events: the latest snapshot of each person."""
        self.profiles: dict[str, domain.ProfileState] = {}
        # The latest published snapshot of each profile, as built once for its ProfileChanged:
        # GetProfiles serves these rather than building each again.
        self.published: dict[str, pb.Profile] = {}

    def apply(self, message) -> None:
        if isinstance(message, pb.ProfileChanged):
            self.profiles[message.profile.person_id] = from_proto(message.profile)
            self.published[message.profile.person_id] = message.profile
        else:
            self._drop(message.merged_id)

    async def person_of(self, person_id: str, identifier: tuple[str, str] | None) -> str:
        """The person a request names by id or by identifier; raises NotFound or InvalidArgument."""
        if not person_id and identifier and identifier[1]:
            person_id = (await self.identity.resolve([identifier])).get(identifier, "")
            if not person_id:
                raise NotFound(f"identifier: no person has this {identifier[0]}")
        if not person_id:
            raise InvalidArgument("person_id", "give a person id or an identifier")
        return person_id

    def snapshots(self, person_ids) -> list[pb.Profile]:
        return [self.published[p] for p in person_ids if p in self.published]

    def _drop(self, person_id: str) -> domain.ProfileState | None:
        self.published.pop(person_id, None)
        return self.profiles.pop(person_id, None)

    # Following ---------------------------------------------------------------

    async def handle_collected(self, notifications) -> Sequence[StoredEvent]:
        calls = [cast(collector_pb2.EventAccepted, decode(n.topic, n.payload)) for n in notifications]
        keys = list(dict.fromkeys(self._key(c.event) for c in calls))
        persons = await self._resolve(keys, notifications[-1].id)
        changed: dict[str, str] = {}
        for call in calls:
            event = call.event
            person_id = persons.get(self._key(event))
            if not person_id:
                continue  # identity links every accepted call; none is left unknown
            profile = self.profiles.get(person_id) or domain.ProfileState(person_id)
            self.profiles[person_id] = profile
            domain.observe(
                profile,
                call_type=event.type,
                event_name=event.event,
                timestamp=_utc(event.timestamp),
                source_id=call.source_id,
                event_id=call.event_id,
                traits=person_traits(event),
                group_id=event.group_id if event.type == "group" else "",
                group_traits=_as_trait_values(_json_object(event.traits)) if event.type == "group" else None,
                subject=subject_of(event.user_id, event.anonymous_id),
            )
            changed[person_id] = call.event_id
        # One snapshot per person per batch: followers see the latest state once.
        return [self._changed(person_id, cause) for person_id, cause in changed.items()]

    async def handle_identity(self, notifications) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        for n in notifications:
            merged = cast(_IdentityRecord, decode(n.topic, n.payload))  # IDENTITY_TOPICS
            if isinstance(merged, identity_pb2.SubjectForgotten):
                profile = self.profiles.get(merged.person_id)
                if profile is not None and domain.erase(profile, is_personal):
                    out.append(self._changed(merged.person_id, ""))
                continue
            # Whether or not the merged person has a profile yet, the survivor's lists them:
            # a profile does not depend on which log was followed first.
            gone = self._drop(merged.merged_id) or domain.ProfileState(merged.merged_id)
            survivor = self.profiles.setdefault(merged.survivor_id, domain.ProfileState(merged.survivor_id))
            domain.merge(survivor, gone)
            out.append(
                self._next(
                    merged.merged_id, pb.ProfileMerged(survivor_id=merged.survivor_id, merged_id=merged.merged_id)
                )
            )
            out.append(self._changed(merged.survivor_id, merged.event_id))
        return out

    @staticmethod
    def _key(event) -> tuple[str, str]:
        return ("user_id", event.user_id) if event.user_id else ("anonymous_id", event.anonymous_id)

    async def _resolve(self, keys: list[tuple[str, str]], position: int) -> dict[tuple[str, str], str]:
        return await self.identity.resolve(keys, after_position=position)

    def _changed(self, person_id: str, cause: str) -> StoredEvent:
        snapshot = pb.ProfileChanged(
            profile=to_proto(self.profiles[person_id]), cause_event_id=cause, changed_at=self.now_iso()
        )
        self.published[person_id] = snapshot.profile
        return self._next(person_id, snapshot)

    def _next(self, person_id: str, message) -> StoredEvent:
        return self.next_event(uuid.UUID(person_id), message)
