"""Admission: one ingest call's checks and governance, up to what to store and each event's ack.

Each event is checked (domain.check), deduplicated within the call, governed by cdp.collect,
checked against its source's tracking plan, and its personal values are encrypted; what
becomes of it is domain.outcome(). Nothing is stored here: the collector stores what an
Admitted batch holds, then acknowledges it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector import domain, plans
from cdp.collector.plans import TrackingPlan, Verdict
from cdp.collector.registry import Registry, Source
from cdp.collector.suppression import Suppressions
from cdp.platform import errors, metrics, pseudonyms
from cdp.platform.classify import names
from cdp.platform.clock import SYSTEM_CLOCK, Clock, format_iso
from cdp.platform.decisions import Decider
from cdp.platform.ids import derived_id
from cdp.platform.personal import PersonalData, subject_of
from cdp.platform.pseudonyms import Pseudonyms
from cdp.platform.published import stored
from cdp.platform.store import OriginatorId

ACCEPTED = pb.ACK_STATUS_ACCEPTED
DUPLICATE = pb.ACK_STATUS_DUPLICATE
REJECTED = pb.ACK_STATUS_REJECTED
COLLECT_DECISION = "data.cdp.collect.decision"


class BatchTooLarge(errors.InvalidArgument):
    pass


def json_object(text: str) -> dict:
    return orjson.loads(text) if text else {}


def traits_of(event: event_pb2.Event) -> dict:
    """The traits a plan checks: identify's context.traits under its traits (the top level wins)."""
    return dict(plans.planned_call(event, properties={}).traits)


def violations_proto(violations: Iterable[domain.PlanViolation]) -> list[pb.Violation]:
    """A plan's violations as recorded: field, rule, and the kind, keyword and action."""
    return [
        pb.Violation(field=v.field, rule=v.rule, kind=v.kind, keyword=v.keyword, action=v.action) for v in violations
    ]


@dataclass
class Admitted:
    """A batch checked and governed, not stored yet: what to store and each event's ack."""

    source: Source
    plan: TrackingPlan | None
    received: datetime
    received_at: str
    acks: list[pb.EventAck] = field(default_factory=list)
    accepted: list[StoredEvent] = field(default_factory=list)
    rejections: list[StoredEvent] = field(default_factory=list)  # kept for review whatever happens
    seen: dict[OriginatorId, int] = field(default_factory=dict)  # ack index of each accepted event id
    quarantined: set[OriginatorId] = field(default_factory=set)  # accepted, to wait for review

    @property
    def to_store(self) -> list[StoredEvent]:
        return self.accepted + self.rejections

    def ack(self, index: int, status: pb.AckStatus, event_id: uuid.UUID) -> None:
        self.acks.append(pb.EventAck(index=index, status=status, event_id=str(event_id)))

    def accept(self, index: int, event_id: uuid.UUID, message) -> None:
        self.seen[event_id] = len(self.acks)
        self.accepted.append(stored(event_id, 1, message))
        self.ack(index, ACCEPTED, event_id)

    def reject(self, index: int, field_name: str, rule: str, record=None) -> None:
        """Refuse an event; record (if given) is kept for review whatever happens to the batch."""
        self.acks.append(pb.EventAck(index=index, status=REJECTED, field=field_name, error=rule))
        if record is not None:
            self.rejections.append(stored(uuid.uuid4(), 1, record))

    def refuse_all_if_any_rejected(self) -> None:
        if not any(a.status == REJECTED for a in self.acks):
            return
        self.accepted, self.seen, self.quarantined = [], {}, set()
        for ack in self.acks:
            if ack.status != REJECTED:
                ack.status, ack.event_id, ack.field = REJECTED, "", "batch"
                ack.error = "not stored: another call in this request was rejected"

    def acknowledge(self, existing: set[OriginatorId]) -> pb.IngestResponse:
        """The response, once stored: events whose ids the store held already are duplicates."""
        for event_id in existing:
            if event_id in self.seen:
                self.acks[self.seen[event_id]].status = DUPLICATE
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for ack in self.acks:
            counts[ack.status] += 1
        quarantined = len(self.quarantined - existing) if self.quarantined else 0
        source = self.source.name
        for outcome, n in (
            ("accepted", counts[ACCEPTED] - quarantined),
            ("quarantined", quarantined),
            ("duplicate", counts[DUPLICATE]),
            ("rejected", counts[REJECTED]),
        ):
            if n:
                metrics.EVENTS.labels("collector", source, outcome).inc(n)
        return pb.IngestResponse(
            acks=self.acks, accepted=counts[ACCEPTED], duplicates=counts[DUPLICATE], rejected=counts[REJECTED]
        )


class Admission:
    def __init__(
        self,
        registry: Registry,
        decider: Decider,
        personal: PersonalData,
        clock: Clock = SYSTEM_CLOCK,
        suppressions: Suppressions | None = None,
        pseudonyms: Pseudonyms | None = None,
    ):
        self.clock = clock
        self.registry = registry
        self.decider = decider
        self.personal = personal
        self.suppressions = suppressions
        self.pseudonyms = pseudonyms

    def check_batch(self, write_key: str, events: Sequence[event_pb2.Event]) -> Source:
        """The batch's source; raises UnknownWriteKey or BatchTooLarge."""
        source = self.registry.source_for(write_key)
        if len(events) > domain.MAX_BATCH_EVENTS:
            raise BatchTooLarge(f"events: {len(events)} events; the limit is {domain.MAX_BATCH_EVENTS} a batch")
        return source

    def fetch_keys(self, events: Sequence[event_pb2.Event]) -> None:
        """One key transaction for the events' subjects (another before it for the pseudonyms of
        personal ids, when there are any); encrypting each event then hits the cache."""
        wanted = [
            e
            for e in events
            if (e.user_id or e.anonymous_id)
            and domain.is_good_id(e.user_id or e.anonymous_id)
            and not self._suppressed(e)  # a forgotten subject gets no new key
        ]
        named = self.pseudonyms.of(self.pseudonyms.personal_values(wanted)) if self.pseudonyms else {}
        self.personal.vault.keys_for(
            {subject_of(named.get(e.user_id, e.user_id), named.get(e.anonymous_id, e.anonymous_id)) for e in wanted}
        )

    def _suppressed(self, event: event_pb2.Event) -> str:
        return self.suppressions.matched(event) if self.suppressions else ""

    def admit(self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False) -> Admitted:
        """The events to store and their acks."""
        source = self.check_batch(write_key, events)
        received = self.clock.now()
        self.fetch_keys(events)
        batch = Admitted(source, self.registry.plan_of(source), received, format_iso(received))
        for index, event in enumerate(events):
            self._admit_one(batch, index, event)
        if all_or_nothing:
            batch.refuse_all_if_any_rejected()
        return batch

    def _admit_one(self, batch: Admitted, index: int, event: event_pb2.Event) -> None:
        rejection, fields = domain.check(event, event.ByteSize(), batch.received)
        if rejection is not None:
            return batch.reject(index, rejection.field, rejection.rule)
        if event.sealed_identifiers:
            return batch.reject(index, "sealed_identifiers", "is set by the collector, never by a caller")
        for name in pseudonyms.FIELDS:  # a caller naming a pseudonym would write into that person
            if getattr(event, name).startswith(pseudonyms.PREFIX):
                return batch.reject(index, name, f"must not start with {pseudonyms.PREFIX!r} (pseudonyms' prefix)")
        source, plan = batch.source, batch.plan
        event_id = derived_id("event", source.source_id, event.message_id)
        if event_id in batch.seen:
            return batch.ack(index, DUPLICATE, event_id)
        suppressed = self._suppressed(event)
        if suppressed:
            # Acknowledged (a client must not send it again), stored as the drop alone.
            dropped = pb.EventSuppressed(
                event_id=str(event_id),
                source_id=source.source_id,
                message_id=event.message_id,
                event_type=event.type,
                identifier_type=suppressed,
                at=batch.received_at,
            )
            return batch.accept(index, event_id, dropped)
        accepted = pb.EventAccepted(
            event_id=str(event_id), source_id=source.source_id, server_side=source.server_side, event=event
        )
        accepted.event.received_at = batch.received_at
        if self.pseudonyms:  # before anything reads the ids: decisions, plans and the store see pseudonyms
            self.pseudonyms.apply(accepted.event)
        if not accepted.event.timestamp:
            accepted.event.timestamp = domain.corrected_timestamp(accepted.event, batch.received)
        decision = self.govern(source, accepted, fields["properties"])
        # The plan sees a fresh decoding: its schemas may fill in defaults, which must not be stored.
        verdict = (
            plan.judge(plans.planned_call(accepted.event), source.plan_settings)
            if plan and domain.allowed(decision.result)
            else Verdict()
        )
        if verdict.violations:
            verdict = self._keys_masked(verdict, fields, accepted.event.type)
        outcome = domain.outcome(decision.result, verdict.violations, plan=(plan.name, plan.version) if plan else None)
        if verdict.omitted and outcome.kind != domain.REJECT:
            for name in plans.omit(fields, verdict.omitted):
                setattr(accepted.event, name, orjson.dumps(fields[name]).decode())
        # Personal values are encrypted before anything of the call is stored, rejections included.
        accepted.pii_decision_id, encrypted = self.personal.protect(accepted.event, fields)
        accepted.encrypted_fields.extend(encrypted)
        if outcome.kind == domain.REJECT:
            record = pb.EventRejected(
                source_id=source.source_id,
                event=accepted.event,
                field=outcome.field,
                rule=outcome.recorded_rule,
                at=batch.received_at,
            )
            if outcome.by_policy:
                record.decision_id = decision.id
            else:
                assert plan is not None  # only a plan's violations reject a call cdp.collect let in
                record.plan_name, record.plan_version = plan.name, plan.version
                record.violations.extend(violations_proto(outcome.violations))
            return batch.reject(index, outcome.field, outcome.rule, record=record)
        found = violations_proto(outcome.violations)
        if outcome.kind == domain.QUARANTINE:
            assert plan is not None  # only a plan's violations quarantine a call
            waiting = pb.QuarantinedEvent(
                event_id=accepted.event_id,
                source_id=source.source_id,
                event=accepted.event,
                violations=found,
                plan_name=plan.name,
                plan_version=plan.version,
                at=batch.received_at,
            )
            batch.quarantined.add(event_id)
            return batch.accept(index, event_id, pb.EventQuarantined(quarantined=waiting))
        if plan:
            accepted.plan_name, accepted.plan_version = plan.name, plan.version
            accepted.violations.extend(found)
        batch.accept(index, event_id, accepted)

    def _keys_masked(self, verdict: Verdict, fields: dict[str, dict], event_type: str) -> Verdict:
        """The verdict with every key of the call that is personal data masked in its violations'
        fields and rules, which the caller's ack, the quarantine and the quality read model keep
        (the call's values are sealed; a key is sealed with the object it is in)."""
        keys = self.personal.personal_keys(names(fields).names, event_type)
        if not keys:
            return verdict

        def masked(text: str) -> str:
            for key in keys:
                text = text.replace(key, "***")
            return text

        return replace(
            verdict,
            violations=tuple(replace(v, field=masked(v.field), rule=masked(v.rule)) for v in verdict.violations),
        )

    def govern(self, source: Source, accepted: pb.EventAccepted, properties: dict | None = None):
        """cdp.collect's decision on this source sending this event with these properties
        (recorded on the event); when it lets the event in, the properties it forbids are
        dropped (and the drop recorded on the event). properties: the event's, decoded
        already (dropped ones are removed from it too). Returns the decision."""
        event = accepted.event
        if properties is None:
            properties = json_object(event.properties)
        # A key that is personal data is no name a policy can forbid, and no decision's input.
        names = sorted(set(properties) - self.personal.personal_keys(properties, event.type))
        decision = self.decider.decide(
            COLLECT_DECISION,
            {
                "source": {"id": source.source_id, "name": source.name, "server_side": source.server_side},
                "event_type": event.type,
                "event": event.event,
                "properties": names,
            },
            key=(source.source_id, source.name, source.server_side, event.type, event.event, *names),
        )
        accepted.collect_decision_id = decision.id
        drop = domain.dropped(decision.result)
        if drop:
            for name in drop:
                properties.pop(name, None)
            event.properties = orjson.dumps(properties).decode()
            accepted.dropped_properties.extend(drop)
        return decision
