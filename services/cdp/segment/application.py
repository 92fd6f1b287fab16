"""Segment: audience definitions, and memberships that follow profile changes and collected calls.

Segment follows profile's log (traits, the first form's event counts, merges and splits) and the
collector's log (calls of targeted events, each call's person from identity's Resolve, read your
writes). A change re-evaluates only the audiences it can touch (indexes from trait and event names,
and from an audience to those that use it); time edges re-evaluate a person through its timer.
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
from cdp.platform.ids import derived_id
from cdp.platform.personal import reveal_tree
from cdp.platform.published import decode, topic_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, is_token
from cdp.segment import codec, domain, engine, language, lifecycle
from cdp.segment.literals import Literals, comparisons_of, key_paths

PROFILE_TOPICS = topic_of(profile_pb2.ProfileChanged, profile_pb2.ProfileMerged, profile_pb2.ProfileSplit)
COLLECTOR_TOPICS = topic_of(collector_pb2.EventAccepted)
_ProfileRecord = profile_pb2.ProfileChanged | profile_pb2.ProfileMerged | profile_pb2.ProfileSplit
PUBLISHED = topic_of(
    pb.AudienceCreated, pb.AudienceUpdated, pb.AudienceArchived, pb.MembershipEntered, pb.MembershipExited
)
INTERNAL = topic_of(pb.EventObserved, pb.KeyMoved)
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
    return domain.define(audience.name, conditions_from_proto(audience.conditions), root)


def event_name(event) -> str:
    """As profile counts calls: a track call by its event name, others as "$page", "$screen"..."""
    return event.event if event.type == "track" else f"${event.type}"


def call_keys(event) -> list[Key]:
    """The call's keys, the one its facts are kept under first (its user id, if any)."""
    keys: list[Key] = [("user_id", event.user_id) if event.user_id else ("anonymous_id", event.anonymous_id)]
    if event.user_id and event.anonymous_id:
        keys.append(("anonymous_id", event.anonymous_id))
    return keys


def decoded_traits(profile: profile_pb2.Profile, needed: set[str], vault: Vault | None) -> dict[str, Any]:
    """The traits conditions look at, personal ones decrypted; erased values are absent."""
    out: dict[str, Any] = {}
    for name in needed:
        trait = profile.traits.get(name)
        if trait is None or trait.erased:
            continue
        value = orjson.loads(trait.value)
        if is_token(value):
            text = vault.decrypt(trait.subject, trait.event_type, name, value) if vault else None
            if text is None:
                continue
            value = orjson.loads(text)
        out[name] = value
    return out


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
        super().__init__(uow, clock)

    def reset(self) -> None:
        self.audiences: dict[str, pb.Audience] = {}
        self.definitions: dict[str, domain.AudienceDefinition] = {}  # in creation order: uses come after
        self.memberships = domain.Memberships()
        self.created: dict[str, int] = {}  # audience -> its place in creation order
        self.by_trait: dict[str, set[str]] = {}  # trait -> audiences whose conditions read it
        self.by_event: dict[str, set[str]] = {}  # event name -> audiences
        self.dependents: dict[str, set[str]] = {}  # audience -> audiences that use its membership
        self.predicates: dict[str, list[language.Predicate]] = {}  # event name -> predicates on it
        self.horizon: dict[language.Predicate, Any] = {}  # how far back its calls are needed
        self.kept: dict[language.Predicate, set[str]] = {}  # properties whose values are kept
        self.keys: dict[Key, str] = {}  # key -> person
        self.facts: dict[str, dict[language.Predicate, engine.Facts]] = {}  # person -> predicate -> facts
        self.next_change: dict[str, dict[str, datetime]] = {}  # person -> audience -> instant
        self.timers: list[tuple[datetime, str]] = []  # (instant, person), a heap; stale entries skipped
        self.armed: dict[str, datetime] = {}  # person -> the instant last pushed
        self.history = lifecycle.MembershipHistory()  # entries and exits, indexed (kept by apply)
        self._walked: dict[str, tuple[Any, Any, Any]] = {}  # audience -> (definition, horizons, aggregated)
        self._replaying = False

    def rebuild(self) -> None:
        """State from segment's own log: facts are folded once every predicate is known."""
        self._replaying = True
        try:
            super().rebuild()
        finally:
            self._replaying = False
        self._refold(set(self.horizon))
        self.arm_all()

    def apply(self, message) -> None:
        if isinstance(message, pb.AudienceCreated):
            self._register(message.audience)
        elif isinstance(message, pb.MembershipEntered):
            self.memberships.enter(message.audience_id, message.person_id)
            self._record(message, True)
        elif isinstance(message, pb.MembershipExited):
            self.memberships.exit(message.audience_id, message.person_id)
            self._record(message, False)
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
        for trait in definition.traits():
            self.by_trait.setdefault(trait, set()).add(audience_id)
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
        """Out of the indexes (an event's name stays targeted: its calls are observed once only)."""
        definition = self.definitions[audience_id]
        for trait in definition.traits():
            self.by_trait.get(trait, set()).discard(audience_id)
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
        """Re-evaluate these audiences (None: all) for one person; arm the person's timer."""
        definitions = definitions if definitions is not None else self.literals.opened(self.definitions)
        targets = self._expand(self.definitions if audience_ids is None else audience_ids)
        profile = self.profiles.get(person_id)
        needed = {t for a in targets for t in definitions[a].traits()}
        traits = decoded_traits(profile, needed, self.vault) if profile is not None else {}
        facts = self.facts.get(person_id, {})
        stored_of: dict[language.Predicate, language.Predicate] = {}  # opened -> as facts are kept
        for a in targets:
            if definitions[a] is not self.definitions[a]:
                opened = engine.predicates(definitions[a].root)
                stored_of.update(zip(opened, engine.predicates(self.definitions[a].root), strict=True))
        person = engine.Person(
            traits,
            dict(profile.event_counts) if profile is not None else {},
            lambda p: facts.get(stored_of.get(p, p), engine.EMPTY),
            lambda a: self.memberships.has(a, person_id),
        )
        now = self.clock.now()
        out: list[StoredEvent] = []
        changes = self.next_change.setdefault(person_id, {})
        for audience_id in targets:
            inside, edge = engine.evaluate(definitions[audience_id].root, person, now)
            if not emit and inside != self.memberships.has(audience_id, person_id):
                edge = now  # a change came due while nothing ran (a restart): fire it at once
            if edge is None:
                changes.pop(audience_id, None)
            else:
                changes[audience_id] = edge
            if emit and inside != self.memberships.has(audience_id, person_id):
                out.append(self._membership(inside, audience_id, person_id, cause_event_id, cause))
        self._arm(person_id)
        return out

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
        for person_id in {*self.profiles, *self.facts}:
            self.evaluate_person(person_id, None, "timer", definitions=definitions, emit=False)

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
        """Used audiences must exist and be active, and no audience may use itself through others."""
        for used in definition.audiences():
            stored = self.audiences.get(used)
            if used != audience_id and stored is not None and stored.status == lifecycle.ARCHIVED:
                raise domain.InvalidAudience(f"definition.audience: audience {used!r} is archived")
            if used != audience_id and used not in self.definitions:
                raise domain.InvalidAudience(f"definition.audience: no audience {used!r}")
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

    def _checked(self, name: str, conditions, definition: pb.Node | None, definition_json: str, audience_id: str):
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
        checked = domain.define(name, conditions_from_proto(conditions), codec.from_proto(node) if node else None)
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
    ) -> pb.Audience:
        """Create an audience, with its current members, in one transaction.

        Members come from every profile segment has followed, read inside the unit of work, so
        the audience starts from exactly the state later changes are applied to, and a crash
        leaves either the audience with its members or neither.
        """
        audience_id = audience_id or str(uuid.uuid4())
        node, checked = self._checked(name, conditions, definition, definition_json, audience_id)
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
            for person_id in sorted({*self.profiles, *self.facts}):
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
            node, checked = self._checked(name, conditions, definition, definition_json, audience_id)
        else:
            stored = domain.AudienceDefinition(name, self.definitions[audience_id].root)
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
            for person_id in sorted({*self.profiles, *self.facts, *members}):
                tx.add(self.evaluate_person(person_id, [audience_id], "updated", definitions=opened))
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
                self._membership(False, audience_id, person_id, "", "archived")
                for person_id in sorted(self.memberships.members.get(audience_id, ()))
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
    ) -> tuple[int, list[str], str]:
        """Who a definition, not stored, would hold now, as create would find them: (size, the
        first person ids of a sample, the decision). Decided and recorded as a read of members;
        nothing else is stored."""
        size = lifecycle.sample_size(sample)
        _, checked = self._checked(name or "preview", conditions, definition, definition_json, "")
        more = {"purpose": purpose.strip()} if purpose.strip() else {}
        decision = self._decide("preview", caller, checked, **more)
        async with self.uow.transaction():  # no events: the decision is committed, state holds still
            members = await self._preview_members(checked)
        return len(members), members[:size], decision.id

    async def _preview_members(self, checked: domain.AudienceDefinition) -> list[str]:
        profiles = dict(self.profiles)
        profiles.update({p.person_id: p for p in await self._profiles_seen()})
        facts = await self._preview_facts(checked.root)
        needed = set(checked.traits())
        now = self.clock.now()
        out = []
        for person_id in sorted({*profiles, *self.facts, *facts}):
            profile = profiles.get(person_id)
            own = facts.get(person_id, {})
            person = engine.Person(
                decoded_traits(profile, needed, self.vault) if profile is not None else {},
                dict(profile.event_counts) if profile is not None else {},
                functools.partial(_facts_of, own),
                functools.partial(self.memberships.has, person_id=person_id),
            )
            if engine.evaluate(checked.root, person, now)[0]:
                out.append(person_id)
        return out

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
        touched: dict[tuple[str, str], set[str]] = {}
        for stored_event in observed:
            message = cast(pb.EventObserved, decode(stored_event.topic, stored_event.state))
            person = self.keys.get((message.key_type, message.key_value), message.person_id)
            touched.setdefault((person, message.event_id), set()).update(self.by_event.get(message.event, ()))
        for (person, event_id), audience_ids in touched.items():
            out.extend(self.evaluate_person(person, audience_ids, "event", event_id, definitions))
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
                if touched is None or touched:
                    out.extend(
                        self.evaluate_person(profile.person_id, touched, "trait", message.cause_event_id, definitions)
                    )
            elif isinstance(message, profile_pb2.ProfileMerged):
                out.extend(self._merged(message, definitions))
            else:
                out.extend(await self._split(message, definitions))
        return out

    def _touched(self, before: profile_pb2.Profile, after: profile_pb2.Profile) -> set[str]:
        """The audiences a profile change can touch: those reading a trait or count that changed."""
        traits = {t for t in {*before.traits, *after.traits} if before.traits.get(t) != after.traits.get(t)}
        counts = {
            e
            for e in {*before.event_counts, *after.event_counts}
            if before.event_counts.get(e) != after.event_counts.get(e)
        }
        out: set[str] = set()
        for t in traits:
            out |= self.by_trait.get(t, set())
        for e in counts:
            out |= {a for a in self.by_event.get(e, ()) if _counts_used(self.definitions[a])}
        return out

    def _merged(self, merged: profile_pb2.ProfileMerged, definitions) -> list[StoredEvent]:
        """The merged person's memberships end; its calls and keys are the survivor's now."""
        out = [
            self._membership(False, a, merged.merged_id, "", "merge")
            for a in self.memberships.audiences_of(merged.merged_id)
        ]
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
            self._membership(False, audience_id, person_id, "", "erased")
            for audience_id, definition in definitions.items()
            if definition.erased()
            for person_id in sorted(self.memberships.members.get(audience_id, ()))
        ]

    def _membership(
        self, entered: bool, audience_id: str, person_id: str, cause_event_id: str, cause: str
    ) -> StoredEvent:
        version_of_audience = self.audiences[audience_id].version
        kind = pb.MembershipEntered if entered else pb.MembershipExited
        message = kind(
            audience_id=audience_id,
            person_id=person_id,
            audience_version=version_of_audience,
            cause_event_id=cause_event_id,
            at=self.now_iso(),
            cause=cause,
        )
        self.apply(message)
        return self.next_event(derived_id("membership", audience_id, person_id), message)

    async def _profiles_seen(self) -> list[profile_pb2.Profile]:
        """The latest profile of every person, as of segment's position in profile's log."""
        latest: dict[str, profile_pb2.Profile] = {}
        async for n in self.profile.history():
            message = cast(_ProfileRecord, decode(n.topic, n.payload))  # PROFILE_TOPICS
            if isinstance(message, profile_pb2.ProfileChanged):
                latest[message.profile.person_id] = message.profile
            elif isinstance(message, profile_pb2.ProfileMerged):
                latest.pop(message.merged_id, None)
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
        self, audience_id: str = "", person_id: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[lifecycle.Change], str]:
        """Entries and exits of an audience, a person, or both, newest first."""
        if audience_id:
            self.audience(audience_id)
        return self.history.page(audience_id, person_id, page_size, page_token)


def _longer(horizon, before) -> bool:
    """Whether a predicate now looks further back than its facts were kept for (None: all time)."""
    if before is None:
        return False
    return horizon is None or horizon > before


def _facts_of(facts: dict[language.Predicate, engine.Facts], predicate: language.Predicate) -> engine.Facts:
    return facts.get(predicate, engine.EMPTY)


def _counts_used(definition: domain.AudienceDefinition) -> bool:
    return any(isinstance(n, domain.EventCondition) for n in definition.nodes())
