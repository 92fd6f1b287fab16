"""Activation: destinations, and deliveries of audience changes to them under egress policy."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.activation import domain
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.api.segment.v1 import segment_pb2
from cdp.platform.accesslog import AccessLog, Read
from cdp.platform.auth import Caller
from cdp.platform.clock import SYSTEM_CLOCK, Clock
from cdp.platform.errors import InvalidArgument, NotFound, PermissionDenied
from cdp.platform.eventlog import Upstream
from cdp.platform.ids import derived_id
from cdp.platform.personal import PII_DECISION
from cdp.platform.published import decode, stored, topic_of
from cdp.platform.sealed import ERASED, class_name, holds_tokens, replace_tokens, tokens_in
from cdp.platform.state import EventSourced
from cdp.platform.store import OriginatorId
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.vault import Vault, is_token

SEGMENT_TOPICS = topic_of(segment_pb2.MembershipEntered, segment_pb2.MembershipExited)
_Membership = segment_pb2.MembershipEntered | segment_pb2.MembershipExited
PUBLISHED = topic_of(pb.DestinationCreated, pb.DeliveryScheduled, pb.DeliveryAttempted, pb.DeliveryDeadLettered)
EGRESS_DECISION = "data.cdp.egress.decision"
AUDIENCE_DECISION = "data.cdp.audience.decision"


def sealed_traits(profile: profile_pb2.Profile) -> dict:
    """A profile's traits for a payload: personal ones stay sealed (token, subject, call type), and
    so do traits holding personal values at depth (the value with its tokens, subject, call type)."""
    out = {}
    for name, trait in profile.traits.items():
        if trait.erased:
            continue
        value = orjson.loads(trait.value)
        if is_token(value):
            out[name] = {SEALED: value, "subject": trait.subject, "event_type": trait.event_type}
        elif holds_tokens(trait.value) and any(True for _ in tokens_in(value, name)):
            out[name] = {NESTED: value, "subject": trait.subject, "event_type": trait.event_type}
        else:
            out[name] = value
    return out


SEALED = "$pii"  # a personal value in a stored payload, decrypted only when it is sent
NESTED = "$pii_nested"  # a value holding personal values at depth, each decrypted only when sent


def sealed_names(traits: dict) -> tuple[set[str], set[str]]:
    """The names of a payload's sealed traits, and the class names of the values sealed at depth
    (a nested value's key; a URL parameter's own name)."""
    top: set[str] = set()
    nested: set[str] = set()
    for name, value in traits.items():
        if isinstance(value, dict) and SEALED in value:
            top.add(name)
        elif isinstance(value, dict) and NESTED in value:
            nested.update(class_name(field) for field, _ in tokens_in(value[NESTED], name))
    return top, nested


def withhold_nested(traits: dict, withheld: set[str]) -> list[str]:
    """Take out of the traits the values sealed at depth whose class names are withheld (they
    become null; a URL parameter empty); returns where, as trait.field."""
    taken: list[str] = []
    for name, value in traits.items():
        if not (isinstance(value, dict) and NESTED in value):
            continue

        def keep(field: str, token: str, name: str = name) -> Any:
            if class_name(field) in withheld:
                taken.append(f"{name}.{field}")
                return ERASED
            return token

        value[NESTED] = replace_tokens(value[NESTED], name, keep)
    return sorted(set(taken))


class ProfileReader(Protocol):
    """Profiles as profile holds them now, personal values sealed (as stored)."""

    async def sealed_profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]: ...


class AudienceDirectory(Protocol):
    """The name of an audience; raises NotFound when segment has no such audience."""

    async def audience_name(self, audience_id: str) -> str: ...


class ActivationApp(EventSourced):
    topics = PUBLISHED

    def __init__(
        self,
        uow: UnitOfWork,
        segment: Upstream,
        profiles: ProfileReader,
        audiences: AudienceDirectory,
        vault: Vault | None = None,
        clock: Clock = SYSTEM_CLOCK,
        access: AccessLog | None = None,
    ):
        self.decider = uow.decider
        self.vault = vault
        self.access = access or AccessLog(uow, uow.decider.service)  # egress is recorded per delivery
        self.segment = segment  # segment's log, as far as activation has followed it
        self.profiles = profiles
        self.audiences = audiences
        self.audience_names: dict[str, str] = {}
        self.on_scheduled: Callable[[str, float], None] = lambda delivery_id, delay: None  # the delivery worker's
        super().__init__(uow, clock)
        uow.on_commit(self._announce)

    def reset(self) -> None:
        self.destinations: dict[str, pb.Destination] = {}
        self.deliveries: dict[str, domain.DeliveryState] = {}

    def apply(self, message) -> None:
        if isinstance(message, pb.DestinationCreated):
            self.destinations[message.destination.destination_id] = message.destination
        elif isinstance(message, pb.DeliveryScheduled):
            self.deliveries[message.delivery_id] = domain.DeliveryState(
                message.delivery_id,
                message.destination_id,
                message.audience_id,
                message.person_id,
                message.action,
                message.payload,
                message.decision_id,
                list(message.withheld),
            )
        elif isinstance(message, pb.DeliveryAttempted):
            delivery = self.deliveries[message.delivery_id]
            delivery.attempts = message.attempt
            delivery.last_error = message.error
            if message.ok:
                delivery.status = "delivered"
        elif isinstance(message, pb.DeliveryDeadLettered):
            self.deliveries[message.delivery_id].status = "dead_lettered"

    def pending(self) -> list[domain.DeliveryState]:
        return [d for d in self.deliveries.values() if d.status == "pending"]

    # Destinations --------------------------------------------------------------

    async def create_destination(self, request: pb.CreateDestinationRequest, caller: Caller) -> pb.Destination:
        domain.check_destination(request.name, request.type or "webhook", request.url, request.purpose)
        for audience_id in request.audience_ids:
            try:
                await self._audience_name(audience_id)  # must exist
            except NotFound as error:
                raise InvalidArgument("audience_ids", str(error)) from None
            decision = self.decider.decide(
                AUDIENCE_DECISION,
                {
                    "action": "activate",
                    "caller": caller.as_input(),
                    "audience": {"name": self.audience_names[audience_id], "traits": [], "events": []},
                },
                caller=caller.subject,
            )
            if not decision.result.get("allow"):
                self.uow.commit()  # a refusal is recorded too
                raise PermissionDenied(list(decision.result.get("reasons", [])), decision.id, field="audience_ids")
        destination = pb.Destination(
            destination_id=str(uuid.uuid4()),
            name=request.name.strip(),
            type=request.type or "webhook",
            url=request.url,
            purpose=request.purpose.strip(),
            audience_ids=request.audience_ids,
        )
        async with self.uow.transaction() as tx:
            created = pb.DestinationCreated(destination=destination, created_at=self.now_iso())
            self.apply(created)
            # The audiences' current members go out first: fold segment's log up to
            # where activation stands, so later changes continue from exactly there.
            tx.add([stored(uuid.UUID(destination.destination_id), 1, created)])
            members = await self._memberships_seen()
            tx.add(await self._schedule(list(members.values()), only=destination.destination_id))
        return destination

    async def _memberships_seen(self) -> dict[tuple[str, str], eventlog_pb2.Notification]:
        """The latest entered notification of every current membership, up to activation's position."""
        current: dict[tuple[str, str], eventlog_pb2.Notification] = {}
        async for n in self.segment.history():
            message = cast(_Membership, decode(n.topic, n.payload))  # SEGMENT_TOPICS
            key = (message.audience_id, message.person_id)
            if isinstance(message, segment_pb2.MembershipEntered):
                current[key] = n
            else:
                current.pop(key, None)
        return current

    # Following -------------------------------------------------------------------

    async def handle_memberships(self, notifications) -> Sequence[StoredEvent]:
        return await self._schedule(notifications)

    async def _schedule(self, notifications, only: str = "") -> list[StoredEvent]:
        wanted = []
        for n in notifications:
            message = cast(_Membership, decode(n.topic, n.payload))  # SEGMENT_TOPICS
            for destination in self.destinations.values():
                if message.audience_id in destination.audience_ids and (not only or destination.destination_id == only):
                    wanted.append((n, message, destination))
        if not wanted:
            return []
        person_ids = list(dict.fromkeys(m.person_id for _, m, _ in wanted))
        # As stored: personal values stay tokens until the moment they are sent.
        profiles = await self.profiles.sealed_profiles(person_ids)
        events: list[StoredEvent] = []
        for n, message, destination in wanted:
            profile = profiles.get(message.person_id)
            traits = sealed_traits(profile) if profile else {}
            top_sealed, nested = sealed_names(traits)
            # Values sealed at depth are decided by their class names as well as the traits by theirs.
            names = sorted(set(traits) | nested)
            decision = self.decider.decide(
                EGRESS_DECISION,
                {
                    "destination": {
                        "id": destination.destination_id,
                        "type": destination.type,
                        "purpose": destination.purpose,
                    },
                    "properties": names,
                },
                key=(destination.destination_id, destination.type, destination.purpose, *names),
            )
            allowed, withheld = list(decision.result.get("allowed", [])), list(decision.result.get("withheld", []))
            by_value = self._personal_by_value(top_sealed | nested)
            if by_value:
                # Sealed, yet personal by no name policy classes: personal by value, a class no
                # purpose can be shown to allow, so it never leaves.
                allowed = [n for n in allowed if n not in by_value]
                withheld = sorted(set(withheld) | (by_value & top_sealed))
            withheld += withhold_nested(traits, set(withheld) | by_value)
            action = "entered" if isinstance(message, segment_pb2.MembershipEntered) else "exited"
            delivery_id = str(
                derived_id("delivery", destination.destination_id, n.originator_id, str(n.originator_version))
            )
            if delivery_id in self.deliveries:
                continue
            body = domain.payload(
                delivery_id=delivery_id,
                action=action,
                audience_id=message.audience_id,
                audience_name=await self._audience_name(message.audience_id),
                person_id=message.person_id,
                traits=traits,
                allowed=allowed,
                withheld=withheld,
                decision_id=decision.id,
                at=message.at,
            )
            scheduled = pb.DeliveryScheduled(
                delivery_id=delivery_id,
                destination_id=destination.destination_id,
                audience_id=message.audience_id,
                person_id=message.person_id,
                action=action,
                payload=orjson.dumps(body).decode(),
                decision_id=decision.id,
                withheld=withheld,
                scheduled_at=self.now_iso(),
            )
            self.apply(scheduled)
            events.append(stored(uuid.UUID(delivery_id), 1, scheduled))
        return events

    def _personal_by_value(self, sealed: set[str]) -> set[str]:
        """Of these sealed names, those cdp.pii does not name personal (sealed for their value)."""
        if not sealed:
            return set()
        fields = sorted(sealed)
        decision = self.decider.decide(
            PII_DECISION, {"event_type": "", "fields": fields, "qualified": []}, key=("", *fields, "\x00")
        )
        return sealed - set(decision.result.get("personal", ()))

    def _announce(self, events: Sequence[StoredEvent], existing: set[OriginatorId]) -> None:
        """Hand each committed delivery to the delivery worker (never one that may not be stored)."""
        for event in events:
            if event.topic == pb.DeliveryScheduled.DESCRIPTOR.full_name:
                self.on_scheduled(str(event.originator_id), 0.0)

    async def _audience_name(self, audience_id: str) -> str:
        name = self.audience_names.get(audience_id)
        if name is None:
            name = self.audience_names[audience_id] = await self.audiences.audience_name(audience_id)
        return name

    def reveal(self, payload: str) -> bytes:
        """The body to send: personal values decrypted; those of forgotten subjects left out."""
        return self.revealed(payload)[0]

    def revealed(self, payload: str) -> tuple[bytes, list[str]]:
        """The body to send, and the paths of the personal values it carries in clear."""
        body = orjson.loads(payload)
        traits = body.get("traits", {})
        fields = []
        for name, value in list(traits.items()):
            if isinstance(value, dict) and NESTED in value:
                traits[name] = self._reveal_nested(name, value, body)
            elif isinstance(value, dict) and SEALED in value:
                clear = (
                    self.vault.decrypt(value["subject"], value["event_type"], name, value[SEALED])
                    if self.vault
                    else None
                )
                if clear is None:
                    del traits[name]
                    body.setdefault("erased", []).append(name)
                else:
                    traits[name] = orjson.loads(clear)
                    fields.append(f"traits.{name}")
        return orjson.dumps(body), fields

    async def record_egress(self, delivery: domain.DeliveryState, fields: list[str]) -> None:
        """A delivery's personal values are a read by its destination, under its purpose and the
        egress decision the delivery relied on: recorded (per attempt) before they are sent."""
        destination = self.destinations[delivery.destination_id]
        reader = Caller(f"destination:{destination.destination_id}", (), "destination")
        await self.access.record(
            reader,
            [Read(delivery.person_id, fields, reference=delivery.delivery_id)],
            purpose=destination.purpose,
            operation="deliver",
            decision_id=delivery.decision_id,
        )

    def _reveal_nested(self, name: str, sealed: dict, body: dict) -> Any:
        found = list(tokens_in(sealed[NESTED], name))
        texts = (
            self.vault.decrypt_many((sealed["subject"], sealed["event_type"], f, t) for f, t in found)
            if self.vault
            else [None] * len(found)
        )
        clear = {
            token: ERASED if text is None else orjson.loads(text) for (_, token), text in zip(found, texts, strict=True)
        }
        if any(v is ERASED for v in clear.values()):
            body.setdefault("erased", []).append(name)
        return replace_tokens(sealed[NESTED], name, lambda _field, token: clear[token])

    # Delivery outcomes -------------------------------------------------------------

    def record_attempts(self, outcomes: Sequence[tuple[str, bool, int, str, float]]) -> dict[str, float]:
        """Record attempts (delivery id, ok, HTTP status, error, latency ms) in one transaction;
        returns the delay before the next attempt of each delivery that is to be retried."""
        events: list[StoredEvent] = []
        retries: dict[str, float] = {}
        for delivery_id, ok, http_status, error, latency_ms in outcomes:
            attempt = self.deliveries[delivery_id].attempts + 1
            events.append(
                stored(
                    uuid.UUID(delivery_id),
                    attempt + 1,
                    pb.DeliveryAttempted(
                        delivery_id=delivery_id,
                        attempt=attempt,
                        ok=ok,
                        http_status=http_status,
                        error=error,
                        at=self.now_iso(),
                        latency_ms=latency_ms,
                    ),
                )
            )
            if ok:
                continue
            if attempt >= domain.MAX_ATTEMPTS:
                events.append(
                    stored(
                        uuid.UUID(delivery_id),
                        attempt + 2,
                        pb.DeliveryDeadLettered(
                            delivery_id=delivery_id, attempts=attempt, last_error=error, at=self.now_iso()
                        ),
                    )
                )
            else:
                retries[delivery_id] = domain.backoff(attempt)
        self.uow.commit(events)
        for event in events:
            self.apply(decode(event.topic, event.state))
        return retries

    def list_deliveries(self, destination_id: str, limit: int) -> list[pb.Delivery]:
        found = [d for d in self.deliveries.values() if not destination_id or d.destination_id == destination_id]
        return [
            pb.Delivery(
                delivery_id=d.delivery_id,
                destination_id=d.destination_id,
                audience_id=d.audience_id,
                person_id=d.person_id,
                action=d.action,
                status=d.status,
                attempts=d.attempts,
                last_error=d.last_error,
                decision_id=d.decision_id,
                withheld=d.withheld,
            )
            for d in found[-limit:]
        ]
