"""Segment: audience definitions, and memberships that follow profile changes and collected calls.

Segment follows profile's log (traits, the first form's event counts, accounts, merges and splits)
and the collector's log (calls of targeted events, each call's person from identity's Resolve, read
your writes). A change forgets only the cached truths that read what changed (cdp.segment.truths)
and re-evaluates the audiences they belong to, for the person and for whoever reads it through an
account; time edges re-evaluate a subject (a person, or an account) through its timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.platform.auth import Caller
from cdp.platform.clock import SYSTEM_CLOCK, Clock, parse_iso
from cdp.platform.errors import InvalidArgument, NotFound, PermissionDenied
from cdp.platform.eventlog import Upstream
from cdp.platform.held import (
    PAIR_TEXT,
    Codec,
    Held,
    HeldList,
    json_codec,
    key_pair,
    key_text,
    pair_key,
    places_bytes,
    places_of,
    text_key,
    written,
    written_list,
)
from cdp.platform.ids import derived_id
from cdp.platform.personal import reveal_tree
from cdp.platform.published import decode, topic_of
from cdp.platform.snapshots import Later, SnapshotStore, shape_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, is_token
from cdp.segment import codec, domain, engine, language, lifecycle
from cdp.segment.accounts import Accounts, account_of, account_subject, is_account
from cdp.segment.literals import Literals, comparisons_of, key_paths
from cdp.segment.truths import Truths, Work

PROFILE_TOPICS = topic_of(
    profile_pb2.ProfileChanged, profile_pb2.ProfileMerged, profile_pb2.ProfileSplit, profile_pb2.AccountChanged
)
COLLECTOR_TOPICS = topic_of(collector_pb2.EventAccepted)
_ProfileRecord = (
    profile_pb2.ProfileChanged | profile_pb2.ProfileMerged | profile_pb2.ProfileSplit | profile_pb2.AccountChanged
)
PUBLISHED = topic_of(
    pb.AudienceCreated, pb.AudienceUpdated, pb.AudienceArchived, pb.MembershipEntered, pb.MembershipExited
)
INTERNAL = topic_of(pb.EventObserved, pb.KeyMoved)
LIFECYCLE = (pb.AudienceCreated, pb.AudienceUpdated, pb.AudienceArchived)  # what defines the audiences
OBSERVED = topic_of(pb.EventObserved)
AUDIENCE_DECISION = "data.cdp.audience.decision"
Key = tuple[str, str]


class Resolver(Protocol):
    """Identity's answer: the person of each identifier, once identity has followed the collector
    past after_position (0: as it stands)."""

    async def resolve(
        self, identifiers: Sequence[tuple[str, str]], after_position: int = 0
    ) -> dict[tuple[str, str], str]: ...


def conditions_from_proto(conditions) -> list[domain.Condition]:
    """The first form's conditions; a sealed literal (stored) stays Sealed until literals open it."""
    return cast(list[domain.Condition], codec.legacy_conditions(conditions))


def definition_of(audience: pb.Audience) -> domain.AudienceDefinition:
    root = codec.from_proto(audience.definition) if audience.HasField("definition") else None
    return domain.define(audience.name, conditions_from_proto(audience.conditions), root, audience.level)


def event_name(event) -> str:
    """As profile counts calls: a track call by its event name, others as "$page", "$screen"..."""
    return event.event if event.type == "track" else f"${event.type}"


def call_keys(event) -> list[Key]:
    """The call's keys, the one its facts are kept under first (its user id, if any)."""
    keys: list[Key] = [("user_id", event.user_id) if event.user_id else ("anonymous_id", event.anonymous_id)]
    if event.user_id and event.anonymous_id:
        keys.append(("anonymous_id", event.anonymous_id))
    return keys


def decoded_trait(trait: profile_pb2.TraitValue | None, name: str, vault: Vault | None) -> Any:
    """A trait's value as conditions see it, a personal one decrypted; None when absent or erased."""
    if trait is None or trait.erased:
        return None
    value = orjson.loads(trait.value)
    if is_token(value):
        text = vault.decrypt(trait.subject, trait.event_type, name, value) if vault else None
        return None if text is None else orjson.loads(text)
    return value


class _Reads:
    """What the cached truths read of persons and accounts; decoded traits are memoised for one
    evaluation only (personal values are never kept)."""

    def __init__(self, app: SegmentApp):
        self.app = app
        self.decoded: dict[tuple[str, str], Any] = {}

    def trait(self, person: str, name: str) -> Any:
        key = (person, name)
        if key in self.decoded:
            return self.decoded[key]
        profile = self.app.profiles.get(person)
        value = decoded_trait(profile.traits.get(name), name, self.app.vault) if profile is not None else None
        self.decoded[key] = value
        return value

    def count(self, person: str, event: str) -> int:
        profile = self.app.profiles.get(person)
        return profile.event_counts.get(event, 0) if profile is not None else 0

    def facts(self, person: str, predicate: language.Predicate) -> engine.Facts:
        return self.app.facts.get(person, {}).get(predicate, engine.EMPTY)

    def member(self, subject_id: str, audience_id: str) -> bool:
        return self.app.memberships.has(audience_id, subject_id)

    def account_trait(self, account: str, name: str) -> Any:
        key = (account_subject(account), name)
        if key in self.decoded:
            return self.decoded[key]
        found = self.app.accounts.traits.get(account)
        value = decoded_trait(found.traits.get(name), name, self.app.vault) if found is not None else None
        self.decoded[key] = value
        return value

    def accounts_of(self, person: str) -> Iterable[str]:
        return self.app.accounts.accounts_of(person)

    def members_of(self, account: str) -> Iterable[str]:
        return self.app.accounts.members_of(account)


class SegmentApp(EventSourced):
    topics = (*PUBLISHED, *INTERNAL)

    def __init__(
        self,
        uow: UnitOfWork,
        profile: Upstream,
        vault: Vault | None = None,
        clock: Clock = SYSTEM_CLOCK,
        *,
        index_key: bytes | None = None,
        collector: Upstream | None = None,
        identity: Resolver | None = None,
        snapshots: SnapshotStore | None = None,
    ):
        self.decider = uow.decider
        self.profile = profile  # profile's log, as far as segment has followed it
        self.collector = collector  # the collector's log: calls, for event conditions
        self.identity = identity
        self.vault = vault  # audiences may target personal traits: they are read, never kept
        # Personal literals are stored sealed; the index key names an email's or phone's subject.
        self.literals = Literals(vault, index_key)
        self.wake = asyncio.Event()  # a timer was armed earlier than the timer task waits for
        self.profiles: dict[str, profile_pb2.Profile] = {}  # the latest followed (tokens, never decrypted)
        self.accounts = Accounts()  # as followed from profile's log, like the profiles
        self.reads = _Reads(self)
        self._replaying = False  # set by rebuild() around the fold (not by reset(), which it calls)
        super().__init__(uow, clock, snapshots)

    def reset(self) -> None:
        self.audiences: dict[str, pb.Audience] = {}
        self.definitions: dict[str, domain.AudienceDefinition] = {}  # in creation order: uses come after
        self.memberships = domain.Memberships()
        self.created: dict[str, int] = {}  # audience -> its place in creation order
        self.by_event: dict[str, set[str]] = {}  # event name -> audiences
        self.dependents: dict[str, set[str]] = {}  # audience -> audiences that use its membership
        self.predicates: dict[str, list[language.Predicate]] = {}  # event name -> predicates on it
        self.horizon: dict[language.Predicate, Any] = {}  # how far back its calls are needed
        self.kept: dict[language.Predicate, set[str]] = {}  # properties whose values are kept
        self.keys: dict[Key, str] = {}  # key -> person
        self.facts: dict[str, dict[language.Predicate, engine.Facts]] = {}  # person -> predicate -> facts
        self.truths = Truths()  # compiled audiences and each subject's cached truth values
        self.next_change: dict[str, dict[str, datetime]] = {}  # subject -> audience -> instant
        self.timers: list[tuple[datetime, str]] = []  # (instant, subject), a heap; stale entries skipped
        self.armed: dict[str, datetime] = {}  # subject -> the instant last pushed
        self.history = lifecycle.MembershipHistory()  # entries and exits, indexed (kept by apply)
        self.lifecycle: list[Any] = []  # the audiences' creations, updates and archives, in log order
        self._walked: dict[str, tuple[Any, Any, Any]] = {}  # audience -> (definition, horizons, aggregated)
        self._work: Work = {}  # subjects to re-evaluate because what they read changed
        self._draining = False

    def rebuild(self) -> None:
        """State from segment's own log: facts are folded once every predicate is known."""
        self._replaying = True
        try:
            super().rebuild()
        finally:
            self._replaying = False
        self._refold(set(self.horizon))
        self.arm_all()

    # Snapshots: the audiences' lifecycle events (applied again: the definitions, their indexes and
    # compiled truths follow), the memberships, their history and each key's person, as pages read
    # back as they are touched (cdp.platform.held). Event facts are folded again from the calls the
    # log observed, with each key's person as it stands (as a full fold does).

    def snapshot_state(self) -> dict[str, Any]:
        # Copied under the lock (sets and lists grow in place; changes and persons are immutable),
        # laid out after it.
        h = self.history
        members = {a: set(m) for a, m in self.memberships.members.items()}
        by_audience, by_person = (
            {a: list(p) for a, p in h.by_audience.items()},
            {s: list(p) for s, p in h.by_person.items()},
        )
        by_pair = {k: list(p) for k, p in h.by_pair.items()}
        return {
            "lifecycle": written_list(self.lifecycle, _lifecycle_bytes),
            "members": Later(functools.partial(written, members, MEMBERS, page=1)),
            "keys": Later(functools.partial(written, dict(self.keys), PAIR_TEXT)),
            "changes": Later(functools.partial(written_list, list(h.changes), _change_bytes)),
            "by_audience": Later(functools.partial(written, by_audience, PLACES, page=1)),
            "by_person": Later(functools.partial(written, by_person, PLACES)),
            "by_pair": Later(functools.partial(written, by_pair, PAIR_PLACES)),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"lifecycle", "members", "keys", "changes", "by_audience", "by_person", "by_pair"}:
            raise ValueError("segment snapshot: unexpected fields")
        for message in HeldList(state["lifecycle"], _lifecycle_of).plain():
            self.apply(message)
        held, h = self.held, self.history
        held.hold(self.memberships, "members", Held(state["members"], MEMBERS))
        held.hold(self, "keys", Held(state["keys"], PAIR_TEXT))
        held.hold(h, "changes", HeldList(state["changes"], _change_of))
        held.hold(h, "by_audience", Held(state["by_audience"], PLACES))
        held.hold(h, "by_person", Held(state["by_person"], PLACES))
        held.hold(h, "by_pair", Held(state["by_pair"], PAIR_PLACES))

    def snapshot_shape(self) -> str:
        return shape_of(type(self), lifecycle.MembershipHistory, domain.Memberships, written)

    def apply(self, message) -> None:
        if isinstance(message, LIFECYCLE):
            self.lifecycle.append(message)
        if isinstance(message, pb.AudienceCreated):
            self._register(message.audience)
        elif isinstance(message, pb.MembershipEntered | pb.MembershipExited):
            subject = message.account_id or message.person_id
            entered = isinstance(message, pb.MembershipEntered)
            if entered:
                self.memberships.enter(message.audience_id, subject)
            else:
                self.memberships.exit(message.audience_id, subject)
            self._record(message, entered)
            if not self._replaying:  # what reads this membership reads it anew
                if message.account_id:
                    slots = self.truths.by_audience_of_account.get(message.audience_id, ())
                    self.truths.forget_account(self._work, subject, slots, self.reads)
                else:
                    slots = self.truths.by_audience.get(message.audience_id, ())
                    self.truths.forget(self._work, subject, slots, self.reads, self.clock.now())
        elif isinstance(message, pb.AudienceUpdated):
            self._reregister(message.audience)
        elif isinstance(message, pb.AudienceArchived):
            self._archived(message.audience)
        elif isinstance(message, pb.KeyMoved):
            self.keys[(message.key_type, message.key_value)] = message.person_id
        elif isinstance(message, pb.EventObserved):
            self.keys[(message.key_type, message.key_value)] = message.person_id
            if not self._replaying:
                self._fold(message, self.predicates.get(message.event, []))

    def _register(self, audience: pb.Audience) -> None:
        audience_id = audience.audience_id
        definition = definition_of(audience)
        self.audiences[audience_id] = audience
        self.definitions[audience_id] = definition
        self.created[audience_id] = len(self.created)
        sealed = any(isinstance(c.value, domain.Sealed) for c in definition.comparisons())
        self.truths.register(audience_id, definition.root, definition.level, sealed)
        for name in definition.events():
            self.by_event.setdefault(name, set()).add(audience_id)
        for used in definition.audiences():
            self.dependents.setdefault(used, set()).add(audience_id)
        for predicate, h in engine.horizons(definition.root).items():
            if predicate not in self.horizon:
                self.predicates.setdefault(predicate.event, []).append(predicate)
                self.horizon[predicate] = h
            else:
                prev = self.horizon[predicate]
                self.horizon[predicate] = None if prev is None or h is None else max(prev, h)
        for predicate, props in engine.aggregated(definition.root).items():
            self.kept.setdefault(predicate, set()).update(props)

    def _unregister(self, audience_id: str) -> None:
        """Out of the indexes and the cached truths (an event's name stays targeted: its calls are
        observed once only)."""
        definition = self.definitions[audience_id]
        self.truths.unregister(audience_id)
        for name in definition.events():
            self.by_event.get(name, set()).discard(audience_id)
        for used in definition.audiences():
            self.dependents.get(used, set()).discard(audience_id)

    def _reregister(self, audience: pb.Audience) -> None:
        """A new version: indexed by what it reads now, evaluated after the audiences it uses."""
        self._unregister(audience.audience_id)
        order = sorted(self.created, key=self.created.__getitem__)
        self._register(audience)
        uses = {a: d.audiences() for a, d in self.definitions.items()}
        ordered = lifecycle.dependency_order(order, uses)
        self.created = {a: i for i, a in enumerate(ordered)}
        self.definitions = {a: self.definitions[a] for a in ordered if a in self.definitions}
        self._reindex_predicates()

    def _archived(self, audience: pb.Audience) -> None:
        """Kept to be shown, no longer evaluated (its members left before)."""
        audience_id = audience.audience_id
        self._unregister(audience_id)
        self.audiences[audience_id] = audience
        del self.definitions[audience_id]
        del self.created[audience_id]  # the others keep their order, in places 0..n-1 (the next is n)
        self.created = {a: i for i, a in enumerate(sorted(self.created, key=self.created.__getitem__))}
        for changes in self.next_change.values():
            changes.pop(audience_id, None)
        self._reindex_predicates()

    def _reindex_predicates(self) -> None:
        """The predicates, horizons and kept properties of the definitions in use now: a call is
        matched only against predicates some definition has (a version replaced or an archived
        audience leaves none behind), and the facts of predicates no longer used are dropped."""
        self.predicates, self.horizon, self.kept = {}, {}, {}
        for audience_id, definition in self.definitions.items():
            cached = self._walked.get(audience_id)
            if cached is None or cached[0] is not definition:  # walked once per version (replays)
                cached = (definition, engine.horizons(definition.root), engine.aggregated(definition.root))
                self._walked[audience_id] = cached
            _, horizons, aggregated = cached
            for predicate, h in horizons.items():
                if predicate not in self.horizon:
                    self.predicates.setdefault(predicate.event, []).append(predicate)
                    self.horizon[predicate] = h
                else:
                    prev = self.horizon[predicate]
                    self.horizon[predicate] = None if prev is None or h is None else max(prev, h)
            for predicate, props in aggregated.items():
                self.kept.setdefault(predicate, set()).update(props)
        for by_predicate in self.facts.values():
            for predicate in [p for p in by_predicate if p not in self.horizon]:
                del by_predicate[predicate]

    def _record(self, message: pb.MembershipEntered | pb.MembershipExited, entered: bool) -> None:
        self.history.add(
            lifecycle.Change(
                message.audience_id,
                message.person_id,
                entered,
                message.audience_version,
                message.cause,
                message.cause_event_id,
                message.at,
                message.account_id,
            )
        )

    # Event facts -------------------------------------------------------------------------------

    def _opened_predicates(self) -> dict[language.Predicate, language.Predicate]:
        """Each stored predicate with its sealed literals opened (to match calls, then dropped)."""
        opened = self.literals.opened(self.definitions)
        out: dict[language.Predicate, language.Predicate] = {}
        for audience_id, definition in self.definitions.items():
            stored = engine.predicates(definition.root)
            clear = engine.predicates(opened[audience_id].root)
            out.update(zip(stored, clear, strict=True))
        return out

    def _fold(
        self,
        message: pb.EventObserved,
        predicates: Iterable[language.Predicate],
        opened: dict[language.Predicate, language.Predicate] | None = None,
        person_id: str | None = None,
    ) -> None:
        predicates = list(predicates)
        if not predicates:
            return
        opened = opened if opened is not None else self._opened_predicates()
        properties = orjson.loads(message.properties or "{}")
        if self.vault is not None and any(opened[p].where for p in predicates):
            subject = f"{message.key_type}:{message.key_value}"
            properties = reveal_tree(self.vault, subject, "track", "properties", properties)  # dropped after
        at = parse_iso(message.timestamp)
        person = person_id or self.keys.get((message.key_type, message.key_value), message.person_id)
        now = self.clock.now()
        for predicate in predicates:
            if not engine.matches(opened[predicate], properties, now):
                continue
            values = {}
            for prop in self.kept.get(predicate, ()):
                value = engine.number(engine.lookup(properties, prop))
                if value is not None:
                    values[prop] = value
            facts = self.facts.setdefault(person, {}).setdefault(predicate, engine.Facts())
            facts.add(at, values)
            horizon = self.horizon.get(predicate)
            if horizon is not None:
                facts.prune(now - horizon)

    def _refold(self, predicates: set[language.Predicate], persons: set[str] | None = None) -> None:
        """Facts of these predicates (of these persons) from the calls segment's log observed."""
        if not predicates:
            return
        for person, by_predicate in self.facts.items():
            if persons is None or person in persons:
                for predicate in predicates:
                    by_predicate.pop(predicate, None)
        opened = self._opened_predicates()
        for n in self.store.replay(OBSERVED):
            message = cast(pb.EventObserved, decode(n.topic, n.state))
            person = self.keys.get((message.key_type, message.key_value), message.person_id)
            if persons is not None and person not in persons:
                continue
            targeted = [p for p in self.predicates.get(message.event, []) if p in predicates]
            self._fold(message, targeted, opened, person)

    # Evaluating --------------------------------------------------------------------------------

    def _expand(self, audience_ids: Iterable[str]) -> list[str]:
        """These audiences and those using their membership, transitively, in creation order (an
        audience only uses older ones, so each is evaluated after what it reads)."""
        if not self.dependents:  # no audience uses another's membership
            created = self.created
            return sorted((a for a in audience_ids if a in created), key=created.__getitem__)  # (archived: not in it)
        todo, seen = list(audience_ids), set()
        while todo:
            a = todo.pop()
            if a in seen or a not in self.definitions:
                continue
            seen.add(a)
            todo.extend(self.dependents.get(a, ()))
        return sorted(seen, key=self.created.__getitem__)

    def evaluate_person(
        self,
        person_id: str,
        audience_ids: Iterable[str] | None,
        cause: str,
        cause_event_id: str = "",
        definitions: dict[str, domain.AudienceDefinition] | None = None,
        emit: bool = True,
    ) -> list[StoredEvent]:
        """Re-evaluate these audiences (None: all, from scratch) for one subject (a person, or an
        account as account_subject() names it) and arm its timer; then every subject that reads
        what changed (through an account, or an audience's membership), for the same cause."""
        definitions = definitions if definitions is not None else self.literals.opened(self.definitions)
        if self._draining:
            return self._evaluate(person_id, audience_ids, cause, cause_event_id, definitions, emit)
        self._draining = True
        try:
            out = self._evaluate(person_id, audience_ids, cause, cause_event_id, definitions, emit)
            if self._work:
                out.extend(self._drain(cause, cause_event_id, definitions, emit))
            return out
        finally:
            self._draining = False
            self.reads.decoded.clear()

    def _drain(
        self, cause: str, cause_event_id: str, definitions: dict[str, domain.AudienceDefinition], emit: bool = True
    ) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        while self._work:
            subject = next(iter(self._work))
            audience_ids = self._work.pop(subject)
            every = audience_ids is None  # a subject new here: every audience of its level, as cached
            out.extend(
                self._evaluate(subject, audience_ids, cause, cause_event_id, definitions, emit, from_scratch=not every)
            )
        return out

    def _evaluate(
        self,
        subject: str,
        audience_ids: Iterable[str] | None,
        cause: str,
        cause_event_id: str,
        definitions: dict[str, domain.AudienceDefinition],
        emit: bool,
        from_scratch: bool = True,
    ) -> list[StoredEvent]:
        account = is_account(subject)
        subject_id = account_of(subject) if account else subject
        level = "account" if account else "person"
        levels = self.truths.level
        if audience_ids is None:
            targets = [a for a in self.definitions if levels[a] == level]  # creation order
            if from_scratch:
                if account:
                    self.truths.drop_account(subject_id)
                else:
                    self.truths.drop(self._work, subject_id, self.reads)
        else:
            targets = [a for a in self._expand(audience_ids) if levels[a] == level]
        now = self.clock.now()
        out: list[StoredEvent] = []
        changes = self.next_change.setdefault(subject, {})
        moved = False
        truths, sealed, reads, members = self.truths, self.truths.sealed, self.reads, self.memberships.members
        cache = truths.cache_of(subject_id, account)
        for audience_id in targets:
            if audience_id in sealed:
                inside, edge = self._opened_truth(audience_id, subject_id, account, now, definitions)
            else:  # nothing to open
                inside, edge = truths.answer(audience_id, subject_id, account, now, reads, cache)
            was = subject_id in members.get(audience_id, ())
            if not emit and inside != was:
                edge = now  # a change came due while nothing ran (a restart): fire it at once
            if changes.get(audience_id) != edge:
                moved = True
                if edge is None:
                    del changes[audience_id]
                else:
                    changes[audience_id] = edge
            if emit and inside != was:
                out.append(self._membership(inside, audience_id, subject, cause_event_id, cause))
        if moved or not changes:
            self._arm(subject)  # (no time edge moved: the timer stands)
        return out

    def _opened_truth(
        self,
        audience_id: str,
        subject_id: str,
        account: bool,
        now: datetime,
        definitions: dict[str, domain.AudienceDefinition],
    ) -> tuple[bool, datetime | None]:
        """An audience with sealed literals, answered with them opened (and dropped after)."""
        definition = definitions.get(audience_id)
        if definition is None:  # not opened by the caller (reached through what changed)
            definition = self.literals.opened({audience_id: self.definitions[audience_id]})[audience_id]
        if definition is self.definitions[audience_id]:
            return self.truths.evaluate(audience_id, subject_id, account, now, self.reads, {})
        if definition.erased():
            return False, None
        opened = Truths.opened_leaves(self.truths.plans[audience_id], definition.root, {})
        return self.truths.evaluate(audience_id, subject_id, account, now, self.reads, opened)

    def subjects(self) -> list[str]:
        """Every person and account segment knows of (account ones as account_subject() names them)."""
        persons = sorted({*self.profiles, *self.facts})
        return [*persons, *(account_subject(a) for a in self.accounts.known())]

    def _arm(self, person_id: str) -> None:
        changes = self.next_change.get(person_id)
        if not changes:
            self.next_change.pop(person_id, None)
            self.armed.pop(person_id, None)
            return
        at = min(changes.values())
        if self.armed.get(person_id) == at:
            return  # already in the heap
        if not self.timers or at < self.timers[0][0]:
            self.wake.set()
        self.armed[person_id] = at
        heapq.heappush(self.timers, (at, person_id))

    def next_timer(self) -> datetime | None:
        """The earliest armed instant (stale heap entries dropped)."""
        while self.timers:
            at, person_id = self.timers[0]
            changes = self.next_change.get(person_id)
            if changes and min(changes.values()) == at:
                return at
            heapq.heappop(self.timers)
        return None

    def arm_all(self) -> None:
        """Arm every person's timer from the state (at start: timers are state, not kept apart)."""
        self.next_change, self.timers, self.armed = {}, [], {}
        definitions = self.literals.opened(self.definitions)
        for subject in self.subjects():
            self.evaluate_person(subject, None, "timer", definitions=definitions, emit=False)
        self._work.clear()  # every subject was evaluated

    async def fire_due(self) -> int:
        """Re-evaluate every person whose timer is due (overdue ones included); how many fired."""
        now = self.clock.now()
        due: list[str] = []
        while (at := self.next_timer()) is not None and at <= now:
            _, person_id = heapq.heappop(self.timers)
            self.armed.pop(person_id, None)
            due.append(person_id)
        due = list(dict.fromkeys(due))  # a person armed twice for one instant fires once
        if not due:
            return 0
        async with self.uow.transaction() as tx:
            definitions = self.literals.opened(self.definitions)
            for person_id in due:
                audience_ids = [a for a, t in self.next_change.get(person_id, {}).items() if t <= now]
                tx.add(self.evaluate_person(person_id, audience_ids, "timer", definitions=definitions))
        return len(due)

    async def start_timers(self) -> None:
        """Arm every timer from the state, with the profiles as far as segment followed them."""
        for profile in await self._profiles_seen():
            self.profiles.setdefault(profile.person_id, profile)
        for person_id, profile in self.profiles.items():
            self.accounts.regroup(person_id, [a.group_id for a in profile.accounts])
        self.arm_all()

    async def run_timers(self) -> None:
        """The timer task: arm from the state, then fire each timer at its instant (an overdue one
        at once): no traffic is needed for a window edge to pass."""
        await self.start_timers()
        while True:
            await self.fire_due()
            at = self.next_timer()
            wait = 1.0 if at is None else min(max((at - self.clock.now()).total_seconds(), 0.0), 1.0)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)

    # Commands ----------------------------------------------------------------

    def _definition(self, name: str, conditions, definition: pb.Node | None, definition_json: str):
        """The request's definition as one Node (JSON form checked with its paths), or None."""
        if definition_json:
            if definition is not None:
                raise domain.InvalidAudience("definition_json: give definition or definition_json, not both")
            try:
                decoded = orjson.loads(definition_json)
            except orjson.JSONDecodeError as e:
                raise domain.InvalidAudience(f"definition: is not JSON ({e})") from None
            return codec.to_proto(language.parse(decoded))
        return definition

    def _check_references(self, audience_id: str, definition: domain.AudienceDefinition) -> None:
        """Used audiences must exist, be active and of the level that reads them (an account's
        outside account quantifiers of an account-level audience, a person's elsewhere), and no
        audience may use itself through others."""
        for used in definition.audiences():
            stored = self.audiences.get(used)
            if used != audience_id and stored is not None and stored.status == lifecycle.ARCHIVED:
                raise domain.InvalidAudience(f"definition.audience: audience {used!r} is archived")
            if used != audience_id and used not in self.definitions:
                raise domain.InvalidAudience(f"definition.audience: no audience {used!r}")
        for used, level in language.audience_levels(definition.root, definition.level):
            used_level = self.definitions[used].level if used in self.definitions else level
            if used_level != level:
                here = "an account's" if level == "account" else "a person's"
                raise domain.InvalidAudience(
                    f"definition.audience: audience {used!r} is {used_level}-level; "
                    f"{here} condition reads a {level}-level audience's membership"
                )
        stack, seen = list(definition.audiences()), set()
        while stack:
            a = stack.pop()
            if a == audience_id:
                raise domain.InvalidAudience(
                    f"definition.audience: {audience_id!r} would use its own membership (a cycle)"
                )
            if a in seen or a not in self.definitions:
                continue
            seen.add(a)
            stack.extend(self.definitions[a].audiences())

    def _checked(
        self, name: str, conditions, definition: pb.Node | None, definition_json: str, audience_id: str, level: str
    ):
        """The request's definition, checked: (its Node or None, the domain's definition)."""
        for index, c in enumerate(conditions):
            if c.HasField("trait") and (c.trait.subject or c.trait.masked or c.trait.erased):
                raise domain.InvalidAudience(
                    f"conditions[{index}].trait: subject, masked and erased are set by segment"
                )
        node = self._definition(name, conditions, definition, definition_json)
        if node is not None:
            for where, c in comparisons_of(node):
                if c.subject or c.masked or c.erased:
                    raise domain.InvalidAudience(f"{where}: subject, masked and erased are set by segment")
        checked = domain.define(
            name, conditions_from_proto(conditions), codec.from_proto(node) if node else None, level
        )
        self._check_references(audience_id, checked)
        return node, checked

    def _decide(self, action: str, caller: Caller, checked: domain.AudienceDefinition, **more: Any):
        """The cdp.audience decision, recorded; a refusal is committed and raised."""
        # The policy sees names (traits, event properties, key paths of object literals), never a literal.
        paths = {p for c in checked.comparisons() for p in key_paths(c.trait, c.value)}
        targeted = sorted({*checked.traits(), *paths})
        decision = self.decider.decide(
            AUDIENCE_DECISION,
            {
                "action": action,
                "caller": caller.as_input(),
                "audience": {
                    "name": checked.name,
                    "traits": targeted,
                    "properties": checked.properties(),
                    "events": checked.events(),
                    **more,
                },
            },
            caller=caller.subject,
        )
        if not decision.result.get("allow"):
            self.uow.commit()  # a refusal is recorded too
            reasons = list(decision.result.get("reasons", []))
            field = "purpose" if reasons and all("purpose" in r for r in reasons) else ""
            raise PermissionDenied(reasons, decision.id, field=field)
        return decision

    async def create_audience(
        self,
        name: str,
        conditions,
        caller: Caller,
        definition: pb.Node | None = None,
        definition_json: str = "",
        audience_id: str | None = None,
        *,
        purpose: str = "",
        level: str = "",
    ) -> pb.Audience:
        """Create an audience, with its current members, in one transaction.

        Members come from every profile segment has followed, read inside the unit of work, so
        the audience starts from exactly the state later changes are applied to, and a crash
        leaves either the audience with its members or neither.
        """
        audience_id = audience_id or str(uuid.uuid4())
        node, checked = self._checked(name, conditions, definition, definition_json, audience_id, level)
        decision = self._decide("create", caller, checked, purpose=purpose.strip())
        personal = dict(decision.result.get("personal", {}))
        audience = pb.Audience(
            audience_id=audience_id,
            name=checked.name,
            conditions=self.literals.seal(audience_id, conditions, personal),
            version=1,
            created_by=caller.subject,
            decision_id=decision.id,
            purpose=purpose.strip(),
            status=lifecycle.ACTIVE,
            level=checked.level,
        )
        if node is not None:
            audience.definition.CopyFrom(self.literals.seal_definition(audience_id, node, personal))
        created = pb.AudienceCreated(audience=audience, created_at=self.now_iso())
        async with self.uow.transaction() as tx:
            profiles = await self._profiles_seen()
            known = dict(self.horizon)
            targeted_before = set(self.by_event)
            self.apply(created)
            tx.add([self.next_event(uuid.UUID(audience.audience_id), created)])
            self._refold({p for p in self.horizon if p not in known or _longer(self.horizon[p], known[p])})
            tx.add(await self._backfill(set(self.by_event) - targeted_before))
            for profile in profiles:
                self.profiles[profile.person_id] = profile
            only = self.literals.opened({audience_id: self.definitions[audience_id]})
            for person_id in self.subjects():
                tx.add(self.evaluate_person(person_id, [audience_id], "created", definitions=only))
        return audience

    def _active(self, audience_id: str) -> pb.Audience:
        audience = self.audience(audience_id)
        if audience.status == lifecycle.ARCHIVED:
            raise InvalidArgument("audience_id", f"audience {audience_id!r} is archived")
        return audience

    async def update_audience(
        self,
        audience_id: str,
        caller: Caller,
        *,
        name: str = "",
        purpose: str = "",
        conditions=(),
        definition: pb.Node | None = None,
        definition_json: str = "",
    ) -> pb.Audience:
        """A new version: what is given replaces what it had (a new definition replaces the whole
        one); members are re-evaluated in the same transaction, entries and exits with cause
        "updated" and the new version. Targeting and the purpose are decided again either way."""
        current = self._active(audience_id)
        name = name.strip() or current.name
        purpose = purpose.strip() or current.purpose
        redefined = bool(conditions) or definition is not None or bool(definition_json)
        node = None
        if redefined:
            node, checked = self._checked(name, conditions, definition, definition_json, audience_id, current.level)
        else:
            kept = self.definitions[audience_id]
            stored = domain.AudienceDefinition(name, kept.root, kept.level)
            checked = self.literals.opened({audience_id: stored})[audience_id]  # names of object literals
        decision = self._decide("update", caller, checked, purpose=purpose, audience_id=audience_id)
        personal = dict(decision.result.get("personal", {}))
        audience = pb.Audience()
        audience.CopyFrom(current)
        audience.name, audience.purpose, audience.version = checked.name, purpose, current.version + 1
        audience.status = lifecycle.ACTIVE
        audience.updated_by, audience.updated_at = caller.subject, self.now_iso()
        audience.update_decision_id = decision.id
        if redefined:
            del audience.conditions[:]
            audience.conditions.extend(self.literals.seal(audience_id, conditions, personal))
            audience.ClearField("definition")
            if node is not None:
                audience.definition.CopyFrom(self.literals.seal_definition(audience_id, node, personal))
        updated = pb.AudienceUpdated(audience=audience, updated_at=audience.updated_at)
        async with self.uow.transaction() as tx:
            self._active(audience_id)  # not archived meanwhile
            profiles = await self._profiles_seen()
            known = dict(self.horizon)
            targeted_before = set(self.by_event)
            self.apply(updated)
            tx.add([self.next_event(uuid.UUID(audience_id), updated)])
            self._refold({p for p in self.horizon if p not in known or _longer(self.horizon[p], known[p])})
            tx.add(await self._backfill(set(self.by_event) - targeted_before))
            for profile in profiles:
                self.profiles[profile.person_id] = profile
            opened = self.literals.opened(self.definitions)
            members = self.memberships.members.get(audience_id, set())
            account = audience.level == "account"
            subjects = {s for s in self.subjects() if is_account(s) == account}
            subjects.update(self._subject(audience_id, m) for m in members)
            for subject in sorted(subjects):
                tx.add(self.evaluate_person(subject, [audience_id], "updated", definitions=opened))
        return audience

    async def archive_audience(self, audience_id: str, caller: Caller) -> pb.Audience:
        """Take an audience out of use: its members exit (cause "archived") and it is evaluated no
        more. Refused while an active audience uses its membership (the policy names them)."""
        current = self.audience(audience_id)
        if current.status == lifecycle.ARCHIVED:
            return current
        uses = {a: d.audiences() for a, d in self.definitions.items()}
        checked = self.definitions[audience_id]
        decision = self._decide(
            "archive",
            caller,
            checked,
            purpose=current.purpose,
            audience_id=audience_id,
            used_by=lifecycle.used_by(audience_id, uses),
        )
        async with self.uow.transaction() as tx:
            current = self._active(audience_id)
            users = lifecycle.used_by(audience_id, {a: d.audiences() for a, d in self.definitions.items()})
            if users:  # one was created or changed to use it since the decision
                raise InvalidArgument("audience_id", f"used by the audiences [{', '.join(users)}]")
            audience = pb.Audience()
            audience.CopyFrom(current)
            audience.status = lifecycle.ARCHIVED
            audience.archived_by, audience.archived_at = caller.subject, self.now_iso()
            audience.archive_decision_id = decision.id
            exits = [
                self._membership(False, audience_id, self._subject(audience_id, member), "", "archived")
                for member in sorted(self.memberships.members.get(audience_id, ()))
            ]
            archived = pb.AudienceArchived(audience=audience, archived_at=audience.archived_at)
            self.apply(archived)
            tx.add([*exits, self.next_event(uuid.UUID(audience_id), archived)])
        return audience

    async def preview_audience(
        self,
        caller: Caller,
        conditions=(),
        definition: pb.Node | None = None,
        definition_json: str = "",
        *,
        sample: int = 0,
        name: str = "",
        purpose: str = "",
        level: str = "",
    ) -> tuple[int, list[str], str]:
        """Who a definition, not stored, would hold now, as create would find them: (size, the
        first member ids of a sample (account ids at the account level), the decision). Decided
        and recorded as a read of members; nothing else is stored."""
        size = lifecycle.sample_size(sample)
        _, checked = self._checked(name or "preview", conditions, definition, definition_json, "", level)
        more = {"purpose": purpose.strip()} if purpose.strip() else {}
        decision = self._decide("preview", caller, checked, **more)
        async with self.uow.transaction():  # no events: the decision is committed, state holds still
            members = await self._preview_members(checked)
        return len(members), members[:size], decision.id

    async def _preview_members(self, checked: domain.AudienceDefinition) -> list[str]:
        """The members from scratch (engine.evaluate, not the cached truths, which hold stored
        audiences only): person ids, or account ids for an account-level definition."""
        profiles = dict(self.profiles)
        profiles.update({p.person_id: p for p in await self._profiles_seen(follow_accounts=False)})
        facts = await self._preview_facts(checked.root)
        needed = set(checked.traits())
        now = self.clock.now()
        persons: dict[str, engine.Person] = {}

        def person(person_id: str) -> engine.Person:
            found = persons.get(person_id)
            if found is None:
                profile = profiles.get(person_id)
                traits = profile.traits if profile is not None else {}
                found = persons[person_id] = engine.Person(
                    {n: v for n in needed if (v := decoded_trait(traits.get(n), n, self.vault)) is not None},
                    dict(profile.event_counts) if profile is not None else {},
                    functools.partial(_facts_of, facts.get(person_id, {})),
                    functools.partial(self.memberships.has, person_id=person_id),
                    functools.partial(accounts_of, person_id),
                )
            return found

        def account(account_id: str) -> engine.Account:
            found = self.accounts.traits.get(account_id)
            traits = found.traits if found is not None else {}
            return engine.Account(
                {n: v for n in needed if (v := decoded_trait(traits.get(n), n, self.vault)) is not None},
                lambda: [person(m) for m in sorted(self.accounts.members_of(account_id))],
                functools.partial(self.memberships.has, person_id=account_id),
            )

        def accounts_of(person_id: str) -> list[engine.Account]:
            return [account(a) for a in sorted(self.accounts.accounts_of(person_id))]

        if checked.level == "account":
            return [a for a in self.accounts.known() if engine.evaluate(checked.root, account(a), now)[0]]
        return [p for p in sorted({*profiles, *self.facts, *facts}) if engine.evaluate(checked.root, person(p), now)[0]]

    async def _preview_facts(self, root) -> dict[str, dict[language.Predicate, engine.Facts]]:
        """Each person's facts of the definition's predicates, folded afresh from the calls segment
        observed (targeted events) and the collector's log (others), as create would fold them."""
        wanted: dict[str, list[language.Predicate]] = {}
        for predicate in engine.predicates(root):
            wanted.setdefault(predicate.event, []).append(predicate)
        if not wanted:
            return {}
        calls: list[tuple[str, pb.EventObserved]] = []
        for n in self.store.replay(OBSERVED):
            message = cast(pb.EventObserved, decode(n.topic, n.state))
            if message.event in wanted and message.event in self.by_event:
                calls.append((self.keys.get((message.key_type, message.key_value), message.person_id), message))
        untargeted = {e for e in wanted if e not in self.by_event}
        if untargeted and self.collector is not None:
            accepted = []
            async for notification in self.collector.history():
                call = cast(collector_pb2.EventAccepted, decode(notification.topic, notification.payload))
                if event_name(call.event) in untargeted:
                    accepted.append(call)
            keys = list(dict.fromkeys(k for c in accepted for k in call_keys(c.event)))
            persons = dict(self.keys)
            unknown = [k for k in keys if k not in persons]
            if unknown and self.identity is not None:
                persons.update({k: p for k, p in (await self.identity.resolve(unknown)).items() if p})
            for call in accepted:
                key = next((k for k in call_keys(call.event) if persons.get(k)), None)
                if key is not None:
                    first = call_keys(call.event)[0]
                    message = pb.EventObserved(
                        key_type=first[0],
                        key_value=first[1],
                        event=event_name(call.event),
                        timestamp=call.event.timestamp or self.now_iso(),
                        properties=call.event.properties or "{}",
                    )
                    calls.append((persons[key], message))
        horizons, kept = engine.horizons(root), engine.aggregated(root)
        now = self.clock.now()
        out: dict[str, dict[language.Predicate, engine.Facts]] = {}
        for person_id, message in calls:
            properties = orjson.loads(message.properties or "{}")
            if self.vault is not None and any(p.where for p in wanted[message.event]):
                subject = f"{message.key_type}:{message.key_value}"
                properties = reveal_tree(self.vault, subject, "track", "properties", properties)  # dropped after
            for predicate in wanted[message.event]:
                if not engine.matches(predicate, properties, now):
                    continue
                values = {}
                for prop in kept.get(predicate, ()):
                    value = engine.number(engine.lookup(properties, prop))
                    if value is not None:
                        values[prop] = value
                facts = out.setdefault(person_id, {}).setdefault(predicate, engine.Facts())
                facts.add(parse_iso(message.timestamp), values)
                horizon = horizons.get(predicate)
                if horizon is not None:
                    facts.prune(now - horizon)
        return out

    async def _backfill(self, names: set[str]) -> list[StoredEvent]:
        """Observe the calls of newly targeted events that segment has followed past (before any
        audience targeted them, they were not kept)."""
        if not names or self.collector is None:
            return []
        calls = []
        async for n in self.collector.history():
            accepted = cast(collector_pb2.EventAccepted, decode(n.topic, n.payload))
            if event_name(accepted.event) in names:
                calls.append(accepted)
        return await self._observe(calls, 0)

    # Following ---------------------------------------------------------------

    async def handle_collected(self, notifications) -> Sequence[StoredEvent]:
        calls = [cast(collector_pb2.EventAccepted, decode(n.topic, n.payload)) for n in notifications]
        calls = [c for c in calls if event_name(c.event) in self.by_event]
        if not calls:
            return []
        observed = await self._observe(calls, notifications[-1].id)
        out: list[StoredEvent] = list(observed)
        definitions = self.literals.opened(self.definitions)
        by_predicate = self.truths.by_predicate
        for stored_event in observed:
            message = cast(pb.EventObserved, decode(stored_event.topic, stored_event.state))
            person = self.keys.get((message.key_type, message.key_value), message.person_id)
            work: Work = {}
            now = self.clock.now()
            for predicate in self.predicates.get(message.event, ()):
                self.truths.forget(work, person, by_predicate.get(predicate, ()), self.reads, now)
            touched = work.pop(person, None) or set()
            self._note(work)
            out.extend(self.evaluate_person(person, touched, "event", message.event_id, definitions))
        return out

    async def _observe(self, calls: list, position: int) -> list[StoredEvent]:
        """One EventObserved per call, its person from identity (as of the position: read your writes)."""
        if not calls:
            return []
        keys = list(dict.fromkeys(k for c in calls for k in call_keys(c.event)))
        unknown = [k for k in keys if k not in self.keys] if position == 0 else keys
        persons = dict(self.keys)
        if unknown and self.identity is not None:
            persons.update(
                {k: p for k, p in (await self.identity.resolve(unknown, after_position=position)).items() if p}
            )
        out = []
        for call in calls:
            event = call.event
            key = next((k for k in call_keys(event) if persons.get(k)), None)
            if key is None:
                continue
            message = pb.EventObserved(
                event_id=call.event_id,
                key_type=call_keys(event)[0][0],
                key_value=call_keys(event)[0][1],
                person_id=persons[key],
                event=event_name(event),
                timestamp=event.timestamp or self.now_iso(),
                properties=event.properties or "{}",
            )
            self.apply(message)
            out.append(self.next_event(derived_id("segment-call", call.event_id), message))
        return out

    async def handle_profiles(self, notifications) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        definitions: dict[str, domain.AudienceDefinition] | None = None  # opened once a batch
        for n in notifications:
            message = cast(_ProfileRecord, decode(n.topic, n.payload))  # PROFILE_TOPICS
            if definitions is None:
                definitions = self.literals.opened(self.definitions)
                out.extend(self._erased_exits(definitions))
            if isinstance(message, profile_pb2.ProfileChanged):
                profile = message.profile
                before = self.profiles.get(profile.person_id)
                self.profiles[profile.person_id] = profile
                touched = None if before is None else self._touched(before, profile)
                self._regroup(profile.person_id, [a.group_id for a in profile.accounts])
                if touched is None or touched or self._work:
                    out.extend(
                        self.evaluate_person(profile.person_id, touched, "trait", message.cause_event_id, definitions)
                    )
            elif isinstance(message, profile_pb2.AccountChanged):
                out.extend(self._account_changed(message, definitions))
            elif isinstance(message, profile_pb2.ProfileMerged):
                out.extend(self._merged(message, definitions))
            else:
                out.extend(await self._split(message, definitions))
        if self._work and definitions is not None:
            out.extend(self.evaluate_person(next(iter(self._work)), set(), "trait", "", definitions))
        return out

    def _regroup(self, person_id: str, accounts: Iterable[str]) -> None:
        """The person's accounts are these now: what reads its accounts or their members is noted."""
        changed, new = self.accounts.regroup(person_id, accounts)
        if changed:
            self.truths.regrouped(self._work, person_id, changed, self.reads)
        for account in new:
            self._work[account_subject(account)] = None  # every account-level audience, for it

    def _account_changed(self, message: profile_pb2.AccountChanged, definitions) -> list[StoredEvent]:
        names, new = self.accounts.changed(message.account)
        account = message.account.group_id
        slots = [s for name in names for s in self.truths.by_account_trait.get(name, ())]
        self.truths.forget_account(self._work, account, slots, self.reads)
        if new:
            self._work[account_subject(account)] = None
        if not self._work:
            return []
        return self.evaluate_person(account_subject(account), set(), "trait", message.cause_event_id, definitions)

    def _touched(self, before: profile_pb2.Profile, after: profile_pb2.Profile) -> set[str]:
        """The person's audiences a profile change can touch: those with a leaf reading a trait or
        count that changed. Those leaves' cached truths are forgotten, and the subjects that read
        them through an account are noted to re-evaluate."""
        person = after.person_id
        work: Work = {}
        truths, now = self.truths, self.clock.now()
        self.profiles[person] = after  # what the leaves read again (the caller keeps it too)
        indexed, was, now_traits = truths.by_trait, before.traits, after.traits
        names = indexed if len(indexed) <= len(now_traits) else {*was, *now_traits}
        for t in names:
            slots = indexed.get(t)
            if not slots:
                continue
            before_value, after_value = was.get(t), now_traits.get(t)
            if before_value is None or after_value is None:
                differs = before_value is not after_value
            else:  # conditions read the value and its erasure, not where it came from or when
                differs = before_value.value != after_value.value or before_value.erased != after_value.erased
            if differs:
                if t in truths.thresholds:
                    a, b = _number_of(before_value), _number_of(after_value)
                    if a is not None and b is not None:
                        slots = truths.flippable(t, a, b)  # the others were answered from a, and hold for b
                        self.reads.decoded[(person, t)] = b
                truths.forget(work, person, slots, self.reads, now)
        if truths.by_count:
            for e in {*before.event_counts, *after.event_counts}:
                slots = truths.by_count.get(e)
                if slots and before.event_counts.get(e) != after.event_counts.get(e):
                    truths.forget(work, person, slots, self.reads, now)
        self.reads.decoded.clear()  # personal values are not kept
        touched = work.pop(person, None) or set()
        self._note(work)
        return touched

    def _note(self, work: Work) -> None:
        """Add to what is noted to re-evaluate (None: every audience of the subject's level)."""
        for subject, audience_ids in work.items():
            if subject not in self._work:
                self._work[subject] = audience_ids
            else:
                noted = self._work[subject]
                if noted is not None and audience_ids is not None:
                    noted |= audience_ids
                else:
                    self._work[subject] = None

    def _merged(self, merged: profile_pb2.ProfileMerged, definitions) -> list[StoredEvent]:
        """The merged person's memberships end; its calls and keys are the survivor's now."""
        out = [
            self._membership(False, a, merged.merged_id, "", "merge")
            for a in self.memberships.audiences_of(merged.merged_id)
        ]
        self._regroup(merged.merged_id, ())  # it leaves its accounts; the survivor's profile lists them
        for key, person in sorted(self.keys.items()):
            if person == merged.merged_id:
                message = pb.KeyMoved(key_type=key[0], key_value=key[1], person_id=merged.survivor_id)
                self.apply(message)
                out.append(self.next_event(derived_id("segment-key", *key), message))
        facts = self.facts.pop(merged.merged_id, {})
        survivor = self.facts.setdefault(merged.survivor_id, {})
        for predicate, f in facts.items():
            survivor[predicate] = survivor.get(predicate, engine.Facts()).merged(f)
        self.profiles.pop(merged.merged_id, None)
        self.next_change.pop(merged.merged_id, None)
        self._work.pop(merged.merged_id, None)
        self.truths.persons.pop(merged.merged_id, None)
        out.extend(self.evaluate_person(merged.survivor_id, None, "merge", "", definitions))
        return out

    async def _split(self, split: profile_pb2.ProfileSplit, definitions) -> list[StoredEvent]:
        """The split person's keys go where identity gives them now; their calls follow."""
        keys = [k for k, p in sorted(self.keys.items()) if p == split.person_id]
        persons = await self.identity.resolve(keys) if keys and self.identity is not None else {}
        out: list[StoredEvent] = []
        involved = {split.person_id, *split.part_person_ids}
        for key in keys:
            person = persons.get(key)
            if person and person != split.person_id:
                message = pb.KeyMoved(key_type=key[0], key_value=key[1], person_id=person)
                self.apply(message)
                out.append(self.next_event(derived_id("segment-key", *key), message))
                involved.add(person)
        self._refold(set(self.horizon), involved)
        for person in sorted(involved):
            out.extend(self.evaluate_person(person, None, "split", "", definitions))
        return out

    def _erased_exits(self, definitions: dict[str, domain.AudienceDefinition]) -> list[StoredEvent]:
        """Everyone leaves an audience whose literal was erased (its person forgotten): it holds for
        nobody now, whether or not their own profile changes."""
        return [
            self._membership(False, audience_id, self._subject(audience_id, member), "", "erased")
            for audience_id, definition in definitions.items()
            if definition.erased()
            for member in sorted(self.memberships.members.get(audience_id, ()))
        ]

    def _subject(self, audience_id: str, member: str) -> str:
        return account_subject(member) if self.truths.level[audience_id] == "account" else member

    def _membership(
        self, entered: bool, audience_id: str, person_id: str, cause_event_id: str, cause: str
    ) -> StoredEvent:
        """person_id: the subject, an account as account_subject() names it (account_id is set)."""
        version_of_audience = self.audiences[audience_id].version
        kind = pb.MembershipEntered if entered else pb.MembershipExited
        account = is_account(person_id)
        message = kind(
            audience_id=audience_id,
            person_id="" if account else person_id,
            account_id=account_of(person_id) if account else "",
            audience_version=version_of_audience,
            cause_event_id=cause_event_id,
            at=self.now_iso(),
            cause=cause,
        )
        self.apply(message)
        return self.next_event(derived_id("membership", audience_id, person_id), message)

    async def _profiles_seen(self, follow_accounts: bool = True) -> list[profile_pb2.Profile]:
        """The latest profile of every person, as of segment's position in profile's log (and, to
        follow them, the accounts' traits)."""
        latest: dict[str, profile_pb2.Profile] = {}
        async for n in self.profile.history():
            message = cast(_ProfileRecord, decode(n.topic, n.payload))  # PROFILE_TOPICS
            if isinstance(message, profile_pb2.ProfileChanged):
                latest[message.profile.person_id] = message.profile
            elif isinstance(message, profile_pb2.ProfileMerged):
                latest.pop(message.merged_id, None)
            elif follow_accounts and isinstance(message, profile_pb2.AccountChanged):
                self.accounts.changed(message.account)  # the traits as followed (the same if known)
        return list(latest.values())

    def audience(self, audience_id: str) -> pb.Audience:
        """The stored audience (personal literals sealed); see shown() for a caller."""
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise NotFound(f"audience_id: no audience {audience_id!r}")
        return audience

    def shown(self, audience: pb.Audience, caller: Caller) -> pb.Audience:
        """The audience as this caller may see it: personal literals in clear or masked, erased ones
        empty; one stored before audiences had a status shows as active."""
        out = self.literals.shown(audience, caller.pii_clear)
        out.status = out.status or lifecycle.ACTIVE
        return out

    def members(self, audience_id: str) -> list[str]:
        """Its members; none once a literal is erased (its condition holds for nobody, and members
        not re-evaluated since are not shown), nor once archived."""
        if self.audience(audience_id).status == lifecycle.ARCHIVED:
            return []
        if self.literals.opened({audience_id: self.definitions[audience_id]})[audience_id].erased():
            return []
        return sorted(self.memberships.members.get(audience_id, ()))

    def members_page(self, audience_id: str, page_size: int = 0, page_token: str = "") -> tuple[list[str], str, int]:
        """A page of its members in person id order, the next page's token ("" after the last), the total."""
        return lifecycle.members_page(self.members(audience_id), page_size, page_token)

    def membership_history(
        self,
        audience_id: str = "",
        person_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        account_id: str = "",
    ) -> tuple[list[lifecycle.Change], str]:
        """Entries and exits of an audience, a person (an account), or both, newest first."""
        if audience_id:
            self.audience(audience_id)
        return self.history.page(audience_id, person_id, page_size, page_token, account_id)


def _lifecycle_bytes(message: Any) -> bytes:
    return message.DESCRIPTOR.full_name.encode() + b"\x00" + message.SerializeToString()


def _lifecycle_of(raw: bytes) -> Any:
    name, _, payload = raw.partition(b"\x00")
    return decode(name.decode(), payload)


def _change_bytes(c: lifecycle.Change) -> bytes:
    return orjson.dumps(
        [c.audience_id, c.person_id, c.entered, c.audience_version, c.cause, c.cause_event_id, c.at, c.account_id]
    )


def _change_of(raw: bytes) -> lifecycle.Change:
    audience_id, person_id, entered, version, cause, cause_event_id, at, account_id = orjson.loads(raw)
    return lifecycle.Change(audience_id, person_id, bool(entered), int(version), cause, cause_event_id, at, account_id)


# How the state's mappings are written in a snapshot (cdp.platform.held).
MEMBERS = json_codec(sorted, set)
PLACES = Codec(text_key, key_text, places_bytes, places_of)
PAIR_PLACES = Codec(pair_key, key_pair, places_bytes, places_of)


def _longer(horizon, before) -> bool:
    """Whether a predicate now looks further back than its facts were kept for (None: all time)."""
    if before is None:
        return False
    return horizon is None or horizon > before


def _facts_of(facts: dict[language.Predicate, engine.Facts], predicate: language.Predicate) -> engine.Facts:
    return facts.get(predicate, engine.EMPTY)


def _number_of(trait: profile_pb2.TraitValue | None) -> float | None:
    """A trait's value when it is a number in clear (a personal value is a token, never a number)."""
    if trait is None or trait.erased:
        return None
    value = orjson.loads(trait.value)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
