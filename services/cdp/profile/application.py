"""Profile: follows the collector (calls) and identity (merges); publishes whole profiles."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso, parse_iso
from cdp.platform.errors import InvalidArgument, NotFound
from cdp.platform.held import (
    PAIR_TEXT,
    Codec,
    Held,
    json_codec,
    key_pair,
    key_text,
    pair_key,
    proto_codec,
    text_key,
    written,
)
from cdp.platform.ids import derived_id
from cdp.platform.personal import subject_of
from cdp.platform.published import decode, topic_of
from cdp.platform.snapshots import Later, SnapshotStore, shape_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault
from cdp.profile import consent, domain
from cdp.profile.computed_app import COMPUTED_TOPICS, ComputedTraitsMixin, without_computed
from cdp.profile.computing import ComputedTraits

COLLECTOR_TOPICS = topic_of(collector_pb2.EventAccepted)
IDENTITY_TOPICS = topic_of(identity_pb2.PersonsMerged, identity_pb2.PersonSplit, identity_pb2.SubjectForgotten)
_IdentityRecord = identity_pb2.PersonsMerged | identity_pb2.PersonSplit | identity_pb2.SubjectForgotten
# What followers of profile read.
PUBLISHED = topic_of(pb.ProfileChanged, pb.ProfileMerged, pb.ProfileSplit)
# Accounts and who belongs to them, for followers that want them (segment's account audiences).
ACCOUNT_TOPICS = topic_of(pb.AccountChanged, pb.AccountMembershipChanged)
# PartObserved is profile's own (its state); CallsObserved is for the timeline's read model only.
INTERNAL = topic_of(pb.PartObserved)
KEY_TYPES = ("user_id", "anonymous_id")


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
        consent={
            k: pb.ConsentState(granted=v.granted, event_id=v.event_id, at=v.at, source=v.source, form=v.form)
            for k, v in state.consent.items()
        },
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
        consent={
            k: consent.ConsentState(v.granted, v.event_id, v.at, v.source, v.form) for k, v in profile.consent.items()
        },
    )


def _account_bytes(traits: dict[str, domain.TraitValue]) -> bytes:
    return pb.Account(traits={k: _trait_proto(v) for k, v in traits.items()}).SerializeToString()


def _account_of(raw: bytes) -> dict[str, domain.TraitValue]:
    return {k: _trait_state(v) for k, v in pb.Account.FromString(raw).traits.items()}


# How the state's mappings are written in a snapshot (cdp.platform.held).
PARTIALS = Codec(
    pair_key, key_pair, lambda p: to_proto(p).SerializeToString(), lambda raw: from_proto(pb.Profile.FromString(raw))
)
KEY_SETS = json_codec(sorted, lambda keys: {(str(t), str(v)) for t, v in keys})
PUBLISHED_PROFILES = proto_codec(pb.Profile)
ACCOUNTS = Codec(text_key, key_text, _account_bytes, _account_of)
COMPUTED = proto_codec(pb.ComputedTrait)


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


class ProfileApp(ComputedTraitsMixin, EventSourced):
    """Keeps what the calls of each key (user id, else anonymous id) say, and the person of each
    key: from identity's answers to Resolve, and from its merges and splits. A person's profile is
    the fold of its keys' partials, whichever of the two logs was followed first."""

    topics = (*PUBLISHED, *ACCOUNT_TOPICS, *INTERNAL, *COMPUTED_TOPICS)

    def __init__(
        self,
        uow: UnitOfWork,
        identity: Resolver,
        clock: Clock = SYSTEM_CLOCK,
        vault: Vault | None = None,
        snapshots: SnapshotStore | None = None,
    ):
        self.identity = identity
        self.vault = vault  # opens personal values computed traits compare; they are sealed again
        super().__init__(uow, clock, snapshots)

    def reset(self) -> None:
        """State is the fold of profile's own events: each key's partial and person (PartObserved),
        the merges and splits, and the latest snapshot of each profile."""
        self.state = domain.Profiles()
        # The latest published snapshot of each profile, as built once for its ProfileChanged:
        # GetProfiles serves these rather than building each again.
        self.published: dict[str, pb.Profile] = {}
        # Each account's own traits: the fold of every group call naming it, whoever made it.
        self.accounts: dict[str, dict[str, domain.TraitValue]] = {}
        self.computed = ComputedTraits(self.vault)

    def rebuild(self) -> None:
        super().rebuild()
        self.refold_computed()  # the calls computed traits read, once every definition is known
        self.arm_computed()  # timers are state: armed again from it (an overdue one is due now)

    # Snapshots: each key's partial and person, each person's keys and published profile, the
    # accounts, as pages read back as they are touched (cdp.platform.held); values as the log
    # holds them (personal ones as tokens). The profiles' fold cache is not kept: it is built again.

    def snapshot_state(self) -> dict[str, Any]:
        s = self.state
        return {
            # Partials and key sets change in place: written now, under the lock.
            "partials": written(s.partials, PARTIALS),
            "keys": written(s.keys, KEY_SETS),
            "absorbed": {p: sorted(merged) for p, merged in s.absorbed.items()},
            "into": dict(s.into),
            # Owners, published profiles, accounts and definitions are replaced, never changed: copied.
            "owner": Later(functools.partial(written, dict(s.owner), PAIR_TEXT)),
            "published": Later(functools.partial(written, dict(self.published), PUBLISHED_PROFILES)),
            "accounts": Later(functools.partial(written, dict(self.accounts), ACCOUNTS)),
            "computed": Later(functools.partial(written, dict(self.computed.traits), COMPUTED)),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"partials", "keys", "absorbed", "into", "owner", "published", "accounts", "computed"}:
            raise ValueError("profile snapshot: unexpected fields")
        s, held = self.state, self.held
        held.hold(s, "partials", Held(state["partials"], PARTIALS))
        held.hold(s, "keys", Held(state["keys"], KEY_SETS))
        held.hold(s, "owner", Held(state["owner"], PAIR_TEXT))
        s.absorbed = {str(p): {str(m) for m in merged} for p, merged in state["absorbed"].items()}
        s.into = {str(m): str(p) for m, p in state["into"].items()}
        held.hold(self, "published", Held(state["published"], PUBLISHED_PROFILES))
        held.hold(self, "accounts", Held(state["accounts"], ACCOUNTS))
        for trait in Held(state["computed"], COMPUTED).plain().values():
            self.computed.register(trait)

    def snapshot_shape(self) -> str:
        return shape_of(type(self), domain.Profiles, written, ComputedTraits)

    def apply(self, message) -> None:
        if isinstance(message, pb.PartObserved):
            key = (message.key_type, message.key_value)
            self.state.put(key, message.person_id, from_proto(message.partial))
        elif isinstance(message, pb.ProfileChanged):
            self.published[message.profile.person_id] = message.profile
            # The partial of a person's only key may be written with its profile alone; a profile
            # stored before partials were has no PartObserved behind it at all: it is kept whole.
            self.state.adopt(from_proto(without_computed(message.profile)))
        elif isinstance(message, pb.ProfileMerged):
            self.state.merge(message.survivor_id, message.merged_id, ())
            self.published.pop(message.merged_id, None)
        elif isinstance(message, pb.ProfileSplit):
            self.state.split(message.person_id, [(p, ()) for p in message.part_person_ids])
        elif isinstance(message, pb.AccountChanged):
            self.accounts[message.account.group_id] = {k: _trait_state(v) for k, v in message.account.traits.items()}
        elif isinstance(message, pb.ComputedTraitCreated):
            self.computed.register(message.computed_trait)

    async def person_of(self, person_id: str, identifier: tuple[str, str] | None) -> str:
        """The person a request names by id or by identifier; raises NotFound or InvalidArgument."""
        if not person_id and identifier and identifier[1]:
            person_id = (await self.identity.resolve([identifier])).get(identifier, "")
            if not person_id:
                raise NotFound(f"identifier: no person has this {identifier[0]}")
        if not person_id:
            raise InvalidArgument("person_id", "give a person id or an identifier")
        return person_id

    def person_of_subject(self, subject: str) -> str:
        """The person whose key a personal value is sealed under ("user_id:u1"), as profile knows it."""
        kind, _, value = subject.partition(":")
        return self.state.person_of((kind, value))

    def snapshots(self, person_ids) -> list[pb.Profile]:
        return [self.published[p] for p in person_ids if p in self.published]

    # Following ---------------------------------------------------------------

    async def handle_collected(self, notifications) -> Sequence[StoredEvent]:
        calls = [cast(collector_pb2.EventAccepted, decode(n.topic, n.payload)) for n in notifications]
        keys = list(dict.fromkeys(k for c in calls for k in self._keys_of(c.event)))
        persons = await self._resolve(keys, notifications[-1].id)
        touched: dict[domain.Key, None] = {}
        moved: dict[domain.Key, None] = {}  # new keys, and keys identity now gives another person
        changed: dict[str, str] = {}
        accounts: dict[str, str] = {}  # account -> the call that last changed its traits
        observed: list[pb.ObservedCall] = []
        for call in calls:
            event = call.event
            # The user id's person, else the anonymous id's (a junk user id, "null" say, is none).
            key = next((k for k in self._keys_of(event) if persons.get(k)), None)
            if key is None:
                continue  # only a call whose ids are all junk (blocked by cdp.identity) has no person
            person_id = persons[key]
            if self.state.person_of(key) != person_id:
                moved[key] = None
            # Identity's answer is at least as new as anything profile has followed of its log: a
            # key it now gives another person takes its partial there (and leaves the other's).
            timestamp = _utc(event.timestamp)
            subject = subject_of(event.user_id, event.anonymous_id)
            is_group = event.type == "group" and bool(event.group_id)
            group_traits = _as_trait_values(_json_object(event.traits)) if is_group else {}
            persons_changed = self.state.observe(
                key,
                person_id,
                call_type=event.type,
                event_name=event.event,
                timestamp=timestamp,
                source_id=call.source_id,
                event_id=call.event_id,
                traits=person_traits(event),
                group_id=event.group_id if is_group else "",
                group_traits=group_traits if is_group else None,
                subject=subject,
                consent=consent.choices(
                    _json_object(event.context), event_id=call.event_id, at=timestamp, source_id=call.source_id
                ),
            )
            if is_group:
                provenance = domain.TraitValue("", call.source_id, call.event_id, timestamp, subject, event.type)
                if domain.set_traits(self.accounts.setdefault(event.group_id, {}), group_traits, provenance):
                    accounts[event.group_id] = call.event_id
            observed.append(_observed(call, key, person_id, timestamp, subject))
            touched[key] = None
            for p in persons_changed:
                changed[p] = call.event_id
        # One event per key and one snapshot per person per batch: followers see the latest once
        # (none of a person identity has merged away, whose keys these calls showed elsewhere).
        publish = [(p, cause) for p, cause in changed.items() if not self.state.is_merged(p)]
        # A key that stays the only one of a person whose profile is written needs no event of its
        # own: the profile is its partial (apply() takes it back from there).
        published = {p for p, _ in publish}
        parts = [k for k in touched if k in moved or not self._sole(k, published)]
        # The calls first: the timeline gives a key's calls to its person as its PartObserved says.
        timeline = pb.CallsObserved(calls=observed)
        self.computed.observe(observed, self.clock.now())
        return [
            *([self.next_event(derived_id("profile-calls", calls[0].event_id), timeline)] if observed else []),
            *(self._account_changed(a, cause) for a, cause in accounts.items()),
            *self._parts(parts),
            *(e for p, cause in publish for e in self._changed(p, cause)),
        ]

    def _sole(self, key: domain.Key, published: set[str]) -> bool:
        person_id = self.state.person_of(key)
        return person_id in published and self.state.sole_key(person_id) == key

    async def handle_identity(self, notifications) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        batch = _Changes()
        for n in notifications:
            record = cast(_IdentityRecord, decode(n.topic, n.payload))  # IDENTITY_TOPICS
            if isinstance(record, identity_pb2.SubjectForgotten):
                erased = self.state.erase(record.person_id, is_personal)
                if erased or self.forget_computed(record.person_id):
                    batch.note(erased, [record.person_id], "")
            elif isinstance(record, identity_pb2.PersonsMerged):
                out.extend(self._merged(record, batch))
            else:
                out.append(self._split(record, batch))
        # After the merges and splits, in their order: one event per key and one snapshot per
        # person the batch changed (a person merged away and not restored since has none).
        publish = [(p, cause) for p, cause in batch.persons.items() if not self.state.is_merged(p)]
        return [*out, *self._parts(batch.keys), *(e for p, cause in publish for e in self._changed(p, cause))]

    def _merged(self, merged: identity_pb2.PersonsMerged, batch: _Changes) -> list[StoredEvent]:
        # Whether or not the merged person has a profile yet, the survivor's lists them:
        # a profile does not depend on which log was followed first.
        keys = _keys(merged.identifiers)
        if not keys:
            # Identity named none of the keys it moved: all the merged person's, as profile knows them.
            keys = sorted(self.state.keys_of(merged.merged_id))
        moved, changed = self.state.merge(merged.survivor_id, merged.merged_id, keys)
        # The survivor first, then any person a key was taken from.
        batch.note(moved, [merged.survivor_id, *sorted(changed)], merged.event_id)
        gone = self.published.pop(merged.merged_id, None)
        message = pb.ProfileMerged(survivor_id=merged.survivor_id, merged_id=merged.merged_id)
        out = [self._next(merged.merged_id, message)]
        # The merged person leaves its accounts (the survivor joins them with its next profile).
        for account in sorted({a.group_id for a in gone.accounts} if gone else set()):
            out.append(self._membership(account, merged.merged_id, False, merged.event_id))
        return out

    def _split(self, split: identity_pb2.PersonSplit, batch: _Changes) -> StoredEvent:
        parts = [(part.person_id, _keys(part.identifiers)) for part in split.parts if part.person_id]
        moved, changed = self.state.split(split.person_id, parts)
        part_ids = list(dict.fromkeys(p for p, _ in parts))
        if split.person_id in part_ids:
            part_ids = [split.person_id, *(p for p in part_ids if p != split.person_id)]
        # The reduced person first, then every part, then any person a key was taken from.
        batch.note(moved, [split.person_id, *part_ids, *sorted(changed)], split.edge_id)
        return self._next(split.person_id, pb.ProfileSplit(person_id=split.person_id, part_person_ids=part_ids))

    @staticmethod
    def _keys_of(event) -> list[domain.Key]:
        """The call's keys, the one it is kept under first (its user id, if any)."""
        keys = [domain.key_of(event.user_id, event.anonymous_id)]
        if event.user_id and event.anonymous_id:
            keys.append(("anonymous_id", event.anonymous_id))
        return keys

    async def _resolve(self, keys: list[tuple[str, str]], position: int) -> dict[tuple[str, str], str]:
        return await self.identity.resolve(keys, after_position=position)

    def _parts(self, keys) -> list[StoredEvent]:
        out = []
        for key in sorted(keys):
            message = pb.PartObserved(
                key_type=key[0],
                key_value=key[1],
                person_id=self.state.person_of(key),
                partial=to_proto(self.state.partials[key]),
            )
            out.append(self.next_event(derived_id("profile-part", *key), message))
        return out

    def _changed(self, person_id: str, cause: str) -> list[StoredEvent]:
        """The person's new profile, and the accounts it joined or left since its last one."""
        snapshot = pb.ProfileChanged(
            profile=self.with_computed(to_proto(self.state.profile(person_id))),
            cause_event_id=cause,
            changed_at=self.now_iso(),
        )
        before = self.published.get(person_id)
        was = {a.group_id for a in before.accounts} if before else set()
        now = {a.group_id for a in snapshot.profile.accounts}
        self.published[person_id] = snapshot.profile
        out = [self._next(person_id, snapshot)]
        for account in sorted(was ^ now):
            out.append(self._membership(account, person_id, account in now, cause))
        return out

    def _membership(self, account_id: str, person_id: str, member: bool, cause: str) -> StoredEvent:
        message = pb.AccountMembershipChanged(
            account_id=account_id, person_id=person_id, member=member, cause_event_id=cause, changed_at=self.now_iso()
        )
        return self._next(person_id, message)

    def _account_changed(self, account_id: str, cause: str) -> StoredEvent:
        traits = self.accounts[account_id]
        account = pb.Account(group_id=account_id, traits={k: _trait_proto(v) for k, v in traits.items()})
        message = pb.AccountChanged(account=account, cause_event_id=cause, changed_at=self.now_iso())
        return self.next_event(derived_id("profile-account", account_id), message)

    def _next(self, person_id: str, message) -> StoredEvent:
        return self.next_event(uuid.UUID(person_id), message)


def _observed(
    call: collector_pb2.EventAccepted, key: domain.Key, person_id: str, timestamp: str, subject: str
) -> pb.ObservedCall:
    event = call.event
    return pb.ObservedCall(
        key_type=key[0],
        key_value=key[1],
        person_id=person_id,
        event=pb.TimelineEvent(
            event_id=call.event_id,
            type=event.type,
            event=event.event,
            name=event.name,
            timestamp=timestamp,
            received_at=_utc(event.received_at),
            source_id=call.source_id,
            properties=event.properties or "{}",
            traits=event.traits or "{}",
            context=event.context or "{}",
            group_id=event.group_id,
            subject=subject,
        ),
    )


class _Changes:
    """What a batch of identity's events changed: keys (their partial or person) and persons."""

    def __init__(self) -> None:
        self.keys: dict[domain.Key, None] = {}
        self.persons: dict[str, str] = {}  # person -> the cause of its latest change

    def note(self, keys, persons, cause: str) -> None:
        self.keys.update(dict.fromkeys(sorted(keys)))
        for p in persons:
            self.persons[p] = cause


def _keys(identifiers) -> list[domain.Key]:
    """The keys among identity's identifiers (emails and phones are no call's key)."""
    return [(i.type, i.value) for i in identifiers if i.type in KEY_TYPES and i.value]
