"""Quarantine: calls that broke their source's plan, held until a fixed plan lets them through.

The waiting calls are the state folded from EventQuarantined and EventReleased; release()
returns the events to store, which the collector commits and applies back.
"""

from __future__ import annotations

import builtins
import uuid

from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.collector import domain
from cdp.collector.admission import Admission, json_object, traits_of
from cdp.collector.registry import Registry
from cdp.platform.clock import now_iso
from cdp.platform.personal import PersonalData, subject_of
from cdp.platform.published import stored

TOPICS = (pb.EventQuarantined, pb.EventReleased)


class Quarantine:
    def __init__(self, registry: Registry, admission: Admission, personal: PersonalData):
        self.registry = registry
        self.admission = admission
        self.personal = personal
        self.clear()

    def clear(self) -> None:
        self.waiting: dict[str, pb.QuarantinedEvent] = {}  # by event id

    def apply(self, message) -> None:
        if isinstance(message, pb.EventQuarantined):
            self.waiting[message.quarantined.event_id] = message.quarantined
        elif isinstance(message, pb.EventReleased):
            self.waiting.pop(message.event_id, None)

    def list(self, source_name: str, limit: int) -> list[pb.QuarantinedEvent]:
        source_id = self.registry.named(source_name).source_id if source_name else ""
        found = [q for q in self.waiting.values() if not source_id or q.source_id == source_id]
        return found[:limit]

    def release(self, source_name: str) -> tuple[builtins.list[StoredEvent], int, int]:
        """Re-check waiting events against their source's current plan: the events that pass
        them on (to store), how many are released and how many still wait."""
        source_id = self.registry.named(source_name).source_id if source_name else ""
        out: list[StoredEvent] = []
        still = 0
        for waiting in list(self.waiting.values()):
            if source_id and waiting.source_id != source_id:
                continue
            source = self.registry.sources[waiting.source_id]
            plan = self.registry.plan_of(source)
            event = waiting.event
            subject = subject_of(event.user_id, event.anonymous_id)
            violations = (
                plan.check(
                    event.type,
                    event.event,
                    self.personal.reveal_object(subject, event.type, json_object(event.properties)),
                    self.personal.reveal_object(subject, event.type, traits_of(event)),
                )
                if plan
                else []
            )
            if violations and source.plan_mode != "allow":
                still += 1  # cdp.collect is not asked about a call the plan still holds back
                continue
            accepted = pb.EventAccepted(
                event_id=waiting.event_id, source_id=source.source_id, server_side=source.server_side, event=event
            )
            if plan:
                accepted.plan_name, accepted.plan_version = plan.name, plan.version
                accepted.violations.extend(pb.Violation(field=v.field, rule=v.rule) for v in violations)
            decision = self.admission.govern(source, accepted)
            if domain.outcome(decision.result, violations, source.plan_mode).kind != domain.ACCEPT:
                still += 1
                continue
            accepted.pii_decision_id, encrypted = self.personal.protect(accepted.event)
            accepted.encrypted_fields.extend(encrypted)
            originator = uuid.UUID(waiting.event_id)
            released = pb.EventReleased(
                event_id=waiting.event_id,
                plan_name=accepted.plan_name,
                plan_version=accepted.plan_version,
                at=now_iso(self.admission.clock),
            )
            out += [stored(originator, 2, released), stored(originator, 3, accepted)]
        return out, len(out) // 2, still
