"""Segment: audience definitions, and memberships that follow profile changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.platform.auth import Caller
from cdp.platform.clock import SYSTEM_CLOCK, Clock
from cdp.platform.errors import NotFound, PermissionDenied
from cdp.platform.eventlog import Upstream
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, topic_of
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, is_token
from cdp.segment import domain
from cdp.segment.literals import Literals, key_paths

PROFILE_TOPICS = topic_of(profile_pb2.ProfileChanged, profile_pb2.ProfileMerged)
_ProfileRecord = profile_pb2.ProfileChanged | profile_pb2.ProfileMerged
PUBLISHED = topic_of(pb.AudienceCreated, pb.MembershipEntered, pb.MembershipExited)
AUDIENCE_DECISION = "data.cdp.audience.decision"


def conditions_from_proto(conditions) -> list[domain.Condition]:
    """Domain conditions; a sealed literal (stored) stays Sealed until literals open it."""
    out: list[domain.Condition] = []
    for index, c in enumerate(conditions):
        if c.HasField("trait"):
            try:
                value = orjson.loads(c.trait.value) if c.trait.value else None
            except orjson.JSONDecodeError:
                raise domain.InvalidAudience(f"conditions[{index}].trait.value: must be JSON") from None
            if c.trait.subject:
                value = domain.Sealed(c.trait.subject, value if isinstance(value, str) else "")  # "": not a token
            out.append(domain.TraitCondition(c.trait.trait, c.trait.op, value))
        elif c.HasField("event"):
            out.append(domain.EventCondition(c.event.event, c.event.min_count))
        else:
            raise domain.InvalidAudience(f"conditions[{index}]: must be a trait or an event condition")
    return out


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
    topics = PUBLISHED

    def __init__(
        self,
        uow: UnitOfWork,
        profile: Upstream,
        vault: Vault | None = None,
        clock: Clock = SYSTEM_CLOCK,
        *,
        index_key: bytes | None = None,
    ):
        self.decider = uow.decider
        self.profile = profile  # profile's log, as far as segment has followed it
        self.vault = vault  # audiences may target personal traits: they are read, never kept
        # Personal literals are stored sealed; the index key names an email's or phone's subject.
        self.literals = Literals(vault, index_key)
        super().__init__(uow, clock)

    def reset(self) -> None:
        self.audiences: dict[str, pb.Audience] = {}
        self.definitions: dict[str, domain.AudienceDefinition] = {}
        self.memberships = domain.Memberships()

    def apply(self, message) -> None:
        if isinstance(message, pb.AudienceCreated):
            audience = message.audience
            self.audiences[audience.audience_id] = audience
            self.definitions[audience.audience_id] = domain.define(
                audience.name, conditions_from_proto(audience.conditions)
            )
        elif isinstance(message, pb.MembershipEntered):
            self.memberships.enter(message.audience_id, message.person_id)
        elif isinstance(message, pb.MembershipExited):
            self.memberships.exit(message.audience_id, message.person_id)

    # Commands ----------------------------------------------------------------

    async def create_audience(self, name: str, conditions, caller: Caller) -> pb.Audience:
        """Create an audience, with its current members, in one transaction.

        Members come from every profile segment has followed, read inside the unit of work, so
        the audience starts from exactly the state later changes are applied to, and a crash
        leaves either the audience with its members or neither.
        """
        for index, c in enumerate(conditions):
            if c.HasField("trait") and (c.trait.subject or c.trait.masked or c.trait.erased):
                raise domain.InvalidAudience(
                    f"conditions[{index}].trait: subject, masked and erased are set by segment"
                )
        definition = domain.define(name, conditions_from_proto(conditions))
        # The policy sees names (the traits, and key paths of object literals), never a literal.
        targeted = sorted(
            {*definition.traits(), *(p for c in definition.trait_conditions() for p in key_paths(c.trait, c.value))}
        )
        decision = self.decider.decide(
            AUDIENCE_DECISION,
            {
                "action": "create",
                "caller": caller.as_input(),
                "audience": {"name": definition.name, "traits": targeted, "events": definition.events()},
            },
            caller=caller.subject,
        )
        if not decision.result.get("allow"):
            self.uow.commit()  # a refusal is recorded too
            raise PermissionDenied(list(decision.result.get("reasons", [])), decision.id)
        audience_id = str(uuid.uuid4())
        personal = dict(decision.result.get("personal", {}))
        audience = pb.Audience(
            audience_id=audience_id,
            name=definition.name,
            conditions=self.literals.seal(audience_id, conditions, personal),
            version=1,
            created_by=caller.subject,
            decision_id=decision.id,
        )
        created = pb.AudienceCreated(audience=audience, created_at=self.now_iso())
        async with self.uow.transaction() as tx:
            profiles = await self._profiles_seen()
            self.apply(created)
            tx.add([self.next_event(uuid.UUID(audience.audience_id), created)])
            only = self.literals.opened({audience_id: self.definitions[audience_id]})
            for profile in profiles:
                tx.add(self.evaluate(profile, "", only))
        return audience

    # Following ---------------------------------------------------------------

    async def handle_profiles(self, notifications) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        definitions: dict[str, domain.AudienceDefinition] | None = None  # opened once a batch
        for n in notifications:
            message = cast(_ProfileRecord, decode(n.topic, n.payload))  # PROFILE_TOPICS
            if isinstance(message, profile_pb2.ProfileChanged):
                if definitions is None:
                    definitions = self.literals.opened(self.definitions)
                    out.extend(self._erased_exits(definitions))
                out.extend(self.evaluate(message.profile, message.cause_event_id, definitions))
            else:
                for audience_id in self.memberships.audiences_of(message.merged_id):
                    out.append(self._membership(False, audience_id, message.merged_id, ""))
        return out

    def _erased_exits(self, definitions: dict[str, domain.AudienceDefinition]) -> list[StoredEvent]:
        """Everyone leaves an audience whose literal was erased (its person forgotten): it holds for
        nobody now, whether or not their own profile changes."""
        return [
            self._membership(False, audience_id, person_id, "")
            for audience_id, definition in definitions.items()
            if definition.erased()
            for person_id in sorted(self.memberships.members.get(audience_id, ()))
        ]

    def evaluate(
        self, profile: profile_pb2.Profile, cause: str, definitions: dict[str, domain.AudienceDefinition]
    ) -> list[StoredEvent]:
        """Membership changes of one profile; definitions come opened (see Literals.opened)."""
        out: list[StoredEvent] = []
        if not definitions:
            return out
        needed = {name for d in definitions.values() for name in d.traits()}
        traits = decoded_traits(profile, needed, self.vault)
        counts = dict(profile.event_counts)
        for audience_id, definition in definitions.items():
            inside = domain.qualifies(definition, traits, counts)
            if inside != self.memberships.has(audience_id, profile.person_id):
                out.append(self._membership(inside, audience_id, profile.person_id, cause))
        return out

    def _membership(self, entered: bool, audience_id: str, person_id: str, cause: str) -> StoredEvent:
        version_of_audience = self.audiences[audience_id].version
        kind = pb.MembershipEntered if entered else pb.MembershipExited
        message = kind(
            audience_id=audience_id,
            person_id=person_id,
            audience_version=version_of_audience,
            cause_event_id=cause,
            at=self.now_iso(),
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
            else:
                latest.pop(message.merged_id, None)
        return list(latest.values())

    def audience(self, audience_id: str) -> pb.Audience:
        """The stored audience (personal literals sealed); see shown() for a caller."""
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise NotFound(f"audience_id: no audience {audience_id!r}")
        return audience

    def shown(self, audience: pb.Audience, caller: Caller) -> pb.Audience:
        """The audience as this caller may see it: personal literals in clear or masked, erased ones empty."""
        return self.literals.shown(audience, caller.pii_clear)

    def members(self, audience_id: str) -> list[str]:
        """Its members; none once a literal is erased (its condition holds for nobody, and members
        not re-evaluated since are not shown)."""
        self.audience(audience_id)
        if self.literals.opened({audience_id: self.definitions[audience_id]})[audience_id].erased():
            return []
        return sorted(self.memberships.members.get(audience_id, ()))
