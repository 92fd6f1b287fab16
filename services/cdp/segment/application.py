"""Segment: audience definitions, and memberships that follow profile changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.platform.clock import now_iso
from cdp.platform.decisions import Decider
from cdp.platform.ids import derived_id
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.store import EventStore
from cdp.platform.vault import Vault, is_token
from cdp.segment import domain

PROFILE_TOPICS = topic_of(profile_pb2.ProfileChanged, profile_pb2.ProfileMerged)
PUBLISHED = topic_of(pb.AudienceCreated, pb.MembershipEntered, pb.MembershipExited)
AUDIENCE_DECISION = "data.cdp.audience.decision"


class NotAllowed(Exception):
    def __init__(self, reasons: list[str], decision_id: str):
        super().__init__("; ".join(reasons) or "not allowed by policy")
        self.reasons = reasons
        self.decision_id = decision_id


def conditions_from_proto(conditions) -> list[domain.Condition]:
    out: list[domain.Condition] = []
    for index, c in enumerate(conditions):
        if c.HasField("trait"):
            try:
                value = orjson.loads(c.trait.value) if c.trait.value else None
            except orjson.JSONDecodeError:
                raise domain.InvalidAudience(f"conditions[{index}].trait.value: must be JSON") from None
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


class SegmentApp:
    def __init__(self, store: EventStore, decider: Decider, vault: Vault | None = None):
        self.store = store
        self.decider = decider
        self.vault = vault  # audiences may target personal traits: they are read, never kept
        self.rebuild()

    def rebuild(self) -> None:
        self.audiences: dict[str, pb.Audience] = {}
        self.definitions: dict[str, domain.AudienceDefinition] = {}
        self.memberships = domain.Memberships()
        self.versions: dict[str, int] = {}
        for n in self.store.replay(PUBLISHED):
            self._apply(decode(n.topic, n.state))
            self.versions[str(n.originator_id)] = n.originator_version

    def _apply(self, message) -> None:
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

    async def create_audience(self, name: str, conditions, caller, follower) -> pb.Audience:
        """Create an audience, with its current members, in one transaction.

        Members come from every profile the follower has seen, read under its lock, so the
        audience starts from exactly the state later changes are applied to, and a crash
        leaves either the audience with its members or neither.
        """
        definition = domain.define(name, conditions_from_proto(conditions))
        decision = self.decider.decide(
            AUDIENCE_DECISION,
            {
                "action": "create",
                "caller": caller.as_input(),
                "audience": {"name": definition.name, "traits": definition.traits(), "events": definition.events()},
            },
            caller=caller.subject,
        )
        if not decision.result.get("allow"):
            self.decider.flush()  # a refusal is recorded too
            raise NotAllowed(list(decision.result.get("reasons", [])), decision.id)
        audience = pb.Audience(
            audience_id=str(uuid.uuid4()),
            name=definition.name,
            conditions=conditions,
            version=1,
            created_by=caller.subject,
            decision_id=decision.id,
        )
        created = pb.AudienceCreated(audience=audience, created_at=now_iso())
        async with follower.lock:
            profiles = await self._profiles_seen(follower)
            self._apply(created)
            try:
                events = [stored(uuid.UUID(audience.audience_id), 1, created)]
                only = {audience.audience_id: self.definitions[audience.audience_id]}
                for profile in profiles:
                    events.extend(self.evaluate(profile, "", only))
                self.store.append(events + self.decider.take_records())
            except Exception:
                self.decider.discard()
                self.rebuild()
                raise
            self.decider.committed()
        return audience

    # Following ---------------------------------------------------------------

    async def handle_profiles(self, notifications) -> Sequence[StoredEvent]:
        out: list[StoredEvent] = []
        for n in notifications:
            message = decode(n.topic, n.payload)
            if isinstance(message, profile_pb2.ProfileChanged):
                out.extend(self.evaluate(message.profile, message.cause_event_id, self.definitions))
            else:
                for audience_id in self.memberships.audiences_of(message.merged_id):
                    out.append(self._membership(False, audience_id, message.merged_id, ""))
        return out

    def evaluate(
        self, profile: profile_pb2.Profile, cause: str, definitions: dict[str, domain.AudienceDefinition]
    ) -> list[StoredEvent]:
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
            at=now_iso(),
        )
        self._apply(message)
        originator = derived_id("membership", audience_id, person_id)
        version = self.versions.get(str(originator), 0) + 1
        self.versions[str(originator)] = version
        return stored(originator, version, message)

    async def _profiles_seen(self, follower) -> list[profile_pb2.Profile]:
        """The latest profile of every person, as of the follower's position in profile's log."""
        latest: dict[str, profile_pb2.Profile] = {}
        async for n in follower.history():
            message = decode(n.topic, n.payload)
            if isinstance(message, profile_pb2.ProfileChanged):
                latest[message.profile.person_id] = message.profile
            else:
                latest.pop(message.merged_id, None)
        return list(latest.values())

    def members(self, audience_id: str) -> list[str]:
        return sorted(self.memberships.members.get(audience_id, ()))
