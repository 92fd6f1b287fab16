"""Quarantine: calls that broke their source's plan, held for review.

The waiting calls are the state folded from EventQuarantined, EventReleased and EventDiscarded;
release() and discard() return the events to store, which the collector commits and applies back.
Each held call is stored under its event id (version 1); its release (2) and the EventAccepted
that passes it on (3), or its discard (2), follow under the same id, so two replicas releasing or
discarding one call at once cannot both succeed: the store refuses the second version 2.
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.collector import domain, plans
from cdp.collector.admission import Admission, json_object, traits_of, violations_proto
from cdp.collector.registry import Registry
from cdp.platform import errors
from cdp.platform.clock import now_iso, parse_iso
from cdp.platform.personal import PersonalData, subject_of
from cdp.platform.published import stored

TOPICS = (pb.EventQuarantined, pb.EventReleased, pb.EventDiscarded)


@dataclass(frozen=True)
class Filter:
    """Which held calls a command is about: every criterion given must match."""

    source_id: str = ""
    event_name: str = ""
    rule: str = ""
    since: datetime | None = None
    until: datetime | None = None
    event_ids: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.source_id or self.event_name or self.rule or self.since or self.until or self.event_ids)

    def matches(self, held: pb.QuarantinedEvent) -> bool:
        event = held.event
        if self.source_id and held.source_id != self.source_id:
            return False
        if self.event_ids and held.event_id not in self.event_ids:
            return False
        if self.event_name and self.event_name not in (event.event or event.name, event.type):
            return False
        if self.rule and not any(self.rule in (v.kind, v.keyword) or self.rule in v.rule for v in held.violations):
            return False
        if self.since or self.until:
            at = parse_iso(held.at)
            if (self.since and at < self.since) or (self.until and at >= self.until):
                return False
        return True


class Quarantine:
    def __init__(self, registry: Registry, admission: Admission, personal: PersonalData):
        self.registry = registry
        self.admission = admission
        self.personal = personal
        self.clear()

    def clear(self) -> None:
        self.waiting: dict[str, pb.QuarantinedEvent] = {}  # by event id, in the order they were held

    def apply(self, message) -> None:
        if isinstance(message, pb.EventQuarantined):
            self.waiting[message.quarantined.event_id] = message.quarantined
        elif isinstance(message, (pb.EventReleased, pb.EventDiscarded)):
            self.waiting.pop(message.event_id, None)

    def filter_of(self, given: pb.QuarantineFilter | None, source_name: str = "") -> Filter:
        """A request's filter (source_name: the older request field, used when the filter names
        no source); raises InvalidArgument or NotFound naming the field."""
        given = given if given is not None else pb.QuarantineFilter()
        name = given.source_name or source_name
        times = {}
        for key in ("since", "until"):
            text = getattr(given, key)
            if text:
                rule = domain.time_rule(text)
                if rule is not None:
                    raise errors.InvalidArgument(f"filter.{key}", rule)
                times[key] = parse_iso(text)
        return Filter(
            source_id=self.registry.named(name).source_id if name else "",
            event_name=given.event_name,
            rule=given.rule,
            event_ids=frozenset(given.event_ids),
            **times,
        )

    def matching(self, chosen: Filter) -> builtins.list[pb.QuarantinedEvent]:
        return [q for q in self.waiting.values() if chosen.matches(q)]

    def list(self, chosen: Filter, limit: int) -> builtins.list[pb.QuarantinedEvent]:
        return self.matching(chosen)[:limit]

    def release(
        self, chosen: Filter, *, as_is: bool = False, by: str = "", reason: str = ""
    ) -> tuple[builtins.list[StoredEvent], builtins.list[str], int]:
        """Pass matching held calls on: as they were (as_is), or those their source's current plan
        passes now (re-checked under the source's settings). cdp.collect is asked again either
        way. Returns the events to store, the ids released and how many still wait."""
        out: list[StoredEvent] = []
        released: list[str] = []
        still = 0
        for waiting in self.matching(chosen):
            accepted = self._passed_on(waiting, as_is)
            if accepted is None:
                still += 1
                continue
            originator = uuid.UUID(waiting.event_id)
            record = pb.EventReleased(
                event_id=waiting.event_id,
                plan_name=accepted.plan_name,
                plan_version=accepted.plan_version,
                at=now_iso(self.admission.clock),
                released_by=by,
                as_is=as_is,
                reason=reason,
            )
            out += [stored(originator, 2, record), stored(originator, 3, accepted)]
            released.append(waiting.event_id)
        return out, released, still

    def discard(
        self, chosen: Filter, *, by: str = "", reason: str = ""
    ) -> tuple[builtins.list[StoredEvent], builtins.list[str]]:
        """Drop matching held calls for good: the events to store and the ids discarded."""
        if chosen.empty:
            raise errors.InvalidArgument("filter", "name a source, an event, a rule, a time range or event ids")
        at = now_iso(self.admission.clock)
        found = self.matching(chosen)
        out = [
            stored(
                uuid.UUID(q.event_id),
                2,
                pb.EventDiscarded(event_id=q.event_id, source_id=q.source_id, discarded_by=by, reason=reason, at=at),
            )
            for q in found
        ]
        return out, [q.event_id for q in found]

    def _passed_on(self, waiting: pb.QuarantinedEvent, as_is: bool) -> pb.EventAccepted | None:
        """The EventAccepted a held call passes on as, or None while it must wait."""
        source = self.registry.sources[waiting.source_id]
        event = waiting.event
        accepted = pb.EventAccepted(
            event_id=waiting.event_id, source_id=source.source_id, server_side=source.server_side, event=event
        )
        if as_is:
            accepted.plan_name, accepted.plan_version = waiting.plan_name, waiting.plan_version
            accepted.violations.extend(waiting.violations)
        else:
            plan = self.registry.plan_of(source)
            verdict = plans.Verdict()
            if plan:
                subject = subject_of(event.user_id, event.anonymous_id)
                call = plans.planned_call(
                    event,
                    self.personal.reveal_object(subject, event.type, json_object(event.properties)),
                    self.personal.reveal_object(subject, event.type, traits_of(event)),
                )
                verdict = plan.judge(call, source.plan_settings)
                if verdict.action not in (plans.ALLOW, plans.OMIT):
                    return None  # cdp.collect is not asked about a call the plan still holds back
                fields = {name: json_object(getattr(accepted.event, name)) for name in domain.JSON_FIELDS}
                for name in plans.omit(fields, verdict.omitted):  # as a call arriving now would be
                    setattr(accepted.event, name, orjson.dumps(fields[name]).decode())
                accepted.plan_name, accepted.plan_version = plan.name, plan.version
                accepted.violations.extend(violations_proto(verdict.violations))
        decision = self.admission.govern(source, accepted)
        if not domain.allowed(decision.result):
            return None
        accepted.pii_decision_id, encrypted = self.personal.protect(accepted.event)
        accepted.encrypted_fields.extend(encrypted)
        return accepted
