"""Profile's commands and reactions for computed traits: declare one (under cdp.audience, backfilled
in the same transaction), add their values to every profile profile publishes, and fire each
person's timer when a windowed value changes with no call (an overdue one at start)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.auth import Caller
from cdp.platform.errors import Conflict, NotFound, PermissionDenied
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, topic_of
from cdp.profile import computed
from cdp.profile.computing import SOURCE, ComputedTraits

COMPUTED_TOPICS = topic_of(pb.ComputedTraitCreated)
CALLS = topic_of(pb.CallsObserved)
AUDIENCE_DECISION = "data.cdp.audience.decision"


def without_computed(profile: pb.Profile) -> pb.Profile:
    """The profile as its partials know it: computed values are the computed traits' own."""
    if not any(t.source_id == SOURCE and t.computed for t in profile.traits.values()):
        return profile
    out = pb.Profile()
    out.CopyFrom(profile)
    for name in [n for n, t in out.traits.items() if t.source_id == SOURCE and t.computed]:
        del out.traits[name]
    return out


class ComputedTraitsMixin:
    """Mixed into ProfileApp (which has the state, the store, the unit of work and _changed)."""

    computed: ComputedTraits
    state: Any
    store: Any
    uow: Any
    clock: Any
    published: dict[str, pb.Profile]

    if TYPE_CHECKING:

        def _changed(self, person_id: str, cause: str) -> list[StoredEvent]: ...

        def next_event(self, originator: uuid.UUID, message: Any) -> StoredEvent: ...

        def now_iso(self) -> str: ...

    def with_computed(self, profile: pb.Profile) -> pb.Profile:
        """The profile with its person's computed traits at this instant; arms its timer."""
        values, edge = self.computed.values(self.state.keys.get(profile.person_id, ()), self.clock.now())
        self.computed.timers.arm(profile.person_id, edge)
        for name, value in values.items():
            profile.traits[name].CopyFrom(value)
        return profile

    def refold_computed(self, only: set[str] | None = None) -> set[str]:
        """Observe the calls profile's log holds for these traits (None: all); returns the persons
        whose keys kept some."""
        if not self.computed.definitions:
            return set()
        keys: set[Any] = set()
        for n in self.store.replay(CALLS):
            message = cast(pb.CallsObserved, decode(n.topic, n.state))
            keys |= self.computed.observe(message.calls, self.clock.now(), only)
        return {p for k in keys if (p := self.state.person_of(k)) and not self.state.is_merged(p)}

    def forget_computed(self, person_id: str) -> bool:
        """A forgotten person's sealed computed values are sealed again from their calls, which
        their keys no longer open: erased. Whether the person has one (its profile must change)."""
        published = self.published.get(person_id)
        if published is None:
            return False
        if not any(t.source_id == SOURCE and t.computed and t.subject for t in published.traits.values()):
            return False
        self.computed.forget_sealed()
        return True

    # Commands ----------------------------------------------------------------------------------

    def computed_trait(self, name: str) -> pb.ComputedTrait:
        found = self.computed.traits.get(name)
        if found is None:
            raise NotFound(f"name: no computed trait {name!r}")
        return found

    async def create_computed_trait(self, name: str, definition_json: str, caller: Caller) -> pb.ComputedTrait:
        try:
            decoded = orjson.loads(definition_json)
        except orjson.JSONDecodeError as e:
            raise computed.InvalidComputedTrait(f"definition: is not JSON ({e})") from None
        definition = computed.parse(name, decoded)
        if name in self.computed.traits:
            raise Conflict(f"name: a computed trait {name!r} exists")
        decision = self.uow.decider.decide(
            AUDIENCE_DECISION,
            {
                "action": "create",
                "kind": "computed_trait",
                "caller": caller.as_input(),
                "audience": {
                    "name": name,
                    "traits": [],
                    "properties": definition.properties(),
                    "events": [definition.event],
                },
            },
            caller=caller.subject,
        )
        if not decision.result.get("allow"):
            self.uow.commit()  # a refusal is recorded too
            raise PermissionDenied(list(decision.result.get("reasons", [])), decision.id)
        personal = dict(decision.result.get("personal", {}))
        _check_personal(definition, personal)
        trait = pb.ComputedTrait(
            name=name,
            definition_json=orjson.dumps(definition.to_json()).decode(),
            version=1,
            created_by=caller.subject,
            created_at=self.now_iso(),
            decision_id=decision.id,
        )
        created = pb.ComputedTraitCreated(computed_trait=trait)
        async with self.uow.transaction() as tx:
            self.computed.register(trait)
            tx.add([self.next_event(derived_id("profile-computed-trait", name), created)])
            for person_id in sorted(self.refold_computed({name})):
                tx.add(self._changed(person_id, ""))
        return trait

    # Timers ------------------------------------------------------------------------------------

    def arm_computed(self) -> list[str]:
        """Arm every person's timer from the state; returns those whose published values are not
        their values now (a change that came due while the service was down): due at once."""
        self.computed.timers.clear()
        if not self.computed.definitions:
            return []  # nothing computed: no published profile to read (restored, it stays unread)
        self.computed.remember_sealed(
            (n, t) for p in self.published.values() for n, t in p.traits.items() if t.source_id == SOURCE and t.computed
        )
        due = []
        persons = {p for k in self.computed.observed if (p := self.state.person_of(k)) and not self.state.is_merged(p)}
        now = self.clock.now()
        for person_id in sorted(persons):
            values, edge = self.computed.values(self.state.keys.get(person_id, ()), now)
            self.computed.timers.arm(person_id, edge)
            if self._differs(person_id, values):
                self.computed.timers.arm(person_id, now)
                due.append(person_id)
        return due

    def _differs(self, person_id: str, values: dict[str, pb.TraitValue]) -> bool:
        published = self.published.get(person_id)
        before = (
            {n: t for n, t in published.traits.items() if t.source_id == SOURCE and t.computed} if published else {}
        )
        return any(before.get(n) != values.get(n) for n in {*before, *values})

    async def fire_due(self) -> int:
        """Publish the profile of every person whose timer is due, if a value changed; how many fired."""
        due = self.computed.timers.due(self.clock.now())
        if not due:
            return 0
        async with self.uow.transaction() as tx:
            for person_id in due:
                if self.state.is_merged(person_id):
                    continue
                values, edge = self.computed.values(self.state.keys.get(person_id, ()), self.clock.now())
                if self._differs(person_id, values):
                    tx.add(self._changed(person_id, ""))
                else:
                    self.computed.timers.arm(person_id, edge)
        return len(due)

    async def run_timers(self) -> None:
        """The timer task: fire each timer at its instant (rebuilding the state armed them, an
        overdue one for now)."""
        while True:
            await self.fire_due()
            timers = self.computed.timers
            timers.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(timers.wake.wait(), timers.wait_s(self.clock.now()))


def _check_personal(definition: computed.Definition, personal: dict[str, str]) -> None:
    """A personal property is read sealed: its values may be chosen (and stay sealed), never added
    up, and a filter's literal on it would be kept in clear, so it is refused."""
    if definition.property in personal and definition.fn in computed.NUMERIC:
        raise computed.InvalidComputedTrait(
            f"definition.fn: {definition.fn} of {definition.property} (personal: {personal[definition.property]})"
            " is refused; count, most_frequent, first, last, unique or unique_count may read it"
        )
    for i, w in enumerate(definition.where):
        if w.trait in personal:
            raise computed.InvalidComputedTrait(
                f"definition.where[{i}].property: {w.trait} is personal ({personal[w.trait]}): a computed trait"
                " may not filter on it"
            )
