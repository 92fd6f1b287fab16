"""The collector: sources and write keys, tracking plans, and the ingest path."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import orjson
from eventsourcing.persistence import StoredEvent

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector import domain
from cdp.collector.plans import MODES, InvalidPlan, TrackingPlan, compile_plan
from cdp.platform.clock import format_iso, now_iso
from cdp.platform.decisions import Decider
from cdp.platform.ids import derived_id
from cdp.platform.personal import PersonalData, subject_of
from cdp.platform.published import decode, stored, topic_of

ACCEPTED = pb.ACCEPTED
DUPLICATE = pb.DUPLICATE
REJECTED = pb.REJECTED
COLLECT_DECISION = "data.cdp.collect.decision"
GATHER_S = 0.001  # how long the first call of a group waits for others to join it
STATE_TOPICS = topic_of(
    pb.SourceCreated, pb.SourceDisabled, pb.SourcePlanAssigned, pb.PlanPublished, pb.EventQuarantined, pb.EventReleased
)
T = TypeVar("T")


corrected_timestamp = domain.corrected_timestamp


class UnknownWriteKey(Exception):
    pass


class BatchTooLarge(Exception):
    pass


class NotFound(Exception):
    pass


@dataclass
class Source:
    source_id: str
    name: str
    write_key: str
    server_side: bool
    disabled: bool = False
    plan_name: str = ""
    plan_mode: str = "allow"

    def to_proto(self) -> pb.Source:
        return pb.Source(
            source_id=self.source_id,
            name=self.name,
            write_key=self.write_key,
            server_side=self.server_side,
            disabled=self.disabled,
            plan_name=self.plan_name,
            plan_mode=self.plan_mode if self.plan_name else "",
        )


def _object(text: str) -> dict:
    return orjson.loads(text) if text else {}


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
    seen: dict[uuid.UUID, int] = field(default_factory=dict)  # ack index of each accepted event id

    @property
    def to_store(self) -> list[StoredEvent]:
        return self.accepted + self.rejections

    def ack(self, index: int, status: int, event_id: uuid.UUID) -> None:
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
        self.accepted, self.seen = [], {}
        for ack in self.acks:
            if ack.status != REJECTED:
                ack.status, ack.event_id, ack.field = REJECTED, "", "batch"
                ack.error = "not stored: another call in this request was rejected"

    def acknowledge(self, existing: set[uuid.UUID]) -> pb.IngestResponse:
        """The response, once stored: events whose ids the store held already are duplicates."""
        for event_id in existing:
            if event_id in self.seen:
                self.acks[self.seen[event_id]].status = DUPLICATE
        counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for ack in self.acks:
            counts[ack.status] += 1
        return pb.IngestResponse(
            acks=self.acks, accepted=counts[ACCEPTED], duplicates=counts[DUPLICATE], rejected=counts[REJECTED]
        )


@dataclass
class Call:
    """One ingest call waiting for its group."""

    write_key: str
    events: Sequence[event_pb2.Event]
    all_or_nothing: bool
    future: asyncio.Future
    batch: Admitted | None = None


class GroupIngest:
    """Ingests the calls that arrive within GATHER_S of each other as one group: one vault
    transaction for all their subjects' keys and one store transaction (one commit, one fsync)
    for all their events, where each would otherwise pay for its own.

    Each call keeps the outcome it would have alone: errors, rejections and all_or_nothing stay
    per call, and a call sharing an event id with an earlier call of the group is stored in a
    transaction after it, so the store's uniqueness makes the later of two concurrent sends the
    duplicate, as if they had come in turn. (Writing in a worker thread while the loop admits
    the next group was measured too: no faster, as the loop is CPU-bound and threads contend
    for the GIL.)
    """

    def __init__(self, collector: Collector):
        self.collector = collector
        self._waiting: list[Call] = []

    async def ingest(
        self, write_key: str, events: Sequence[event_pb2.Event], all_or_nothing: bool
    ) -> pb.IngestResponse:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_later(GATHER_S, self._run)
        call = Call(write_key, events, all_or_nothing, loop.create_future())
        self._waiting.append(call)
        return await call.future

    def _run(self) -> None:
        calls, self._waiting = self._waiting, []
        calls = [c for c in calls if not c.future.done() and self._attempt(c, self._check)]
        if not self._attempt_all(calls, self._fetch_keys):
            return
        admitted = [c for c in calls if self._attempt(c, self._admit)]
        while admitted:
            group, admitted = self._disjoint(admitted)
            self._attempt_all(group, self._store)

    def _check(self, call: Call) -> None:
        self.collector.check_batch(call.write_key, call.events)

    def _fetch_keys(self, calls: list[Call]) -> None:
        self.collector.fetch_keys([e for call in calls for e in call.events])

    def _admit(self, call: Call) -> None:
        call.batch = self.collector.admit(call.write_key, call.events, all_or_nothing=call.all_or_nothing)

    def _store(self, group: list[Call]) -> None:
        existing = self.collector.store_new([e for call in group for e in call.batch.to_store])
        for call in group:
            response = self.collector.acknowledge(call.batch, existing)
            if not call.future.done():  # else its caller went away; the events are stored all the same
                call.future.set_result(response)

    @staticmethod
    def _attempt(call: Call, step: Callable[[Call], None]) -> bool:
        """Run a step of one call; a failure ends that call alone."""
        try:
            step(call)
            return True
        except Exception as error:
            call.future.set_exception(error)
            return False

    @staticmethod
    def _attempt_all(calls: list[Call], step: Callable[[list[Call]], None]) -> bool:
        """Run a step of several calls together; a failure ends them all."""
        try:
            step(calls)
            return True
        except Exception as error:
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(error)
            return False

    @staticmethod
    def _disjoint(calls: list[Call]) -> tuple[list[Call], list[Call]]:
        """The calls that share no event id with an earlier one, and the rest."""
        group, later, ids = [], [], set()
        for call in calls:
            if ids.isdisjoint(call.batch.seen):
                group.append(call)
                ids.update(call.batch.seen)
            else:
                later.append(call)
        return group, later


class Collector:
    def __init__(self, store, decider: Decider, personal: PersonalData):
        self.store = store
        self.decider = decider
        self.personal = personal
        self._group = GroupIngest(self)
        self.rebuild()

    def rebuild(self) -> None:
        self.sources: dict[str, Source] = {}  # by source id
        self.by_key: dict[str, Source] = {}
        self.plans: dict[str, TrackingPlan] = {}
        self.plan_documents: dict[str, pb.Plan] = {}
        self.quarantine: dict[str, pb.QuarantinedEvent] = {}
        for n in self.store.replay(STATE_TOPICS):
            self._apply(decode(n.topic, n.state))

    def _apply(self, message) -> None:
        if isinstance(message, pb.SourceCreated):
            s = message.source
            source = Source(s.source_id, s.name, s.write_key, s.server_side)
            self.sources[source.source_id] = self.by_key[source.write_key] = source
        elif isinstance(message, pb.SourceDisabled):
            self.sources[message.source_id].disabled = True
        elif isinstance(message, pb.SourcePlanAssigned):
            source = self.sources[message.source_id]
            source.plan_name, source.plan_mode = message.plan_name, message.mode
        elif isinstance(message, pb.PlanPublished):
            plan = message.plan
            self.plans[plan.name] = compile_plan(plan.name, plan.version, orjson.loads(plan.document))
            self.plan_documents[plan.name] = plan
        elif isinstance(message, pb.EventQuarantined):
            self.quarantine[message.quarantined.event_id] = message.quarantined
        elif isinstance(message, pb.EventReleased):
            self.quarantine.pop(message.event_id, None)

    def _commit(self, events: list[StoredEvent]) -> None:
        """Append with any queued decision records; apply to state once stored."""
        self._with_records(events, self.store.append)
        self._apply_stored(events, set())

    def _with_records(self, events: list[StoredEvent], append: Callable[[list[StoredEvent]], T]) -> T | None:
        """append(events + the decision records queued meanwhile), in one transaction."""
        records = self.decider.take_records()
        try:
            result = append(events + records) if events or records else None
        except Exception:
            self.decider.discard()
            raise
        self.decider.committed()
        return result

    def store_new(self, events: list[StoredEvent]) -> set[uuid.UUID]:
        """Append the events whose originators are new (with queued decision records);
        returns the originators that existed."""
        return self._with_records(events, self.store.append_new) or set()

    def _apply_stored(self, events: list[StoredEvent], existing: set[uuid.UUID]) -> None:
        for event in events:
            if event.topic in STATE_TOPICS and event.originator_id not in existing:
                self._apply(decode(event.topic, event.state))

    # Sources ---------------------------------------------------------------

    def create_source(self, name: str, server_side: bool) -> Source:
        if not name.strip():
            raise ValueError("name: is required")
        if self._named(name, missing_ok=True):
            raise ValueError(f"name: a source named {name!r} exists")
        source_id = str(uuid.uuid4())
        proto = pb.Source(
            source_id=source_id, name=name.strip(), write_key=secrets.token_urlsafe(24), server_side=server_side
        )
        self._commit([stored(uuid.UUID(source_id), 1, pb.SourceCreated(source=proto, created_at=now_iso()))])
        return self.sources[source_id]

    def disable_source(self, name: str) -> Source:
        source = self._named(name)
        if not source.disabled:
            self._commit([self._next_source_event(source, pb.SourceDisabled(source_id=source.source_id, at=now_iso()))])
        return source

    def assign_plan(self, source_name: str, plan_name: str, mode: str) -> Source:
        source = self._named(source_name)
        if plan_name and plan_name not in self.plans:
            raise NotFound(f"plan_name: no plan named {plan_name!r}")
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}")
        assigned = pb.SourcePlanAssigned(source_id=source.source_id, plan_name=plan_name, mode=mode, at=now_iso())
        self._commit([self._next_source_event(source, assigned)])
        return source

    def _next_source_event(self, source: Source, message) -> StoredEvent:
        originator = uuid.UUID(source.source_id)
        version = len(self.store.events_of(originator)) + 1
        return stored(originator, version, message)

    def _named(self, name: str, missing_ok: bool = False) -> Source | None:
        for source in self.sources.values():
            if source.name == name.strip():
                return source
        if missing_ok:
            return None
        raise NotFound(f"source_name: no source named {name!r}")

    def source_for(self, write_key: str) -> Source:
        source = self.by_key.get(write_key)
        if source is None or source.disabled:
            raise UnknownWriteKey("write_key: unknown or disabled write key")
        return source

    # Plans -----------------------------------------------------------------

    def publish_plan(self, name: str, document_text: str) -> pb.Plan:
        if not name.strip():
            raise InvalidPlan("name: is required")
        try:
            document = orjson.loads(document_text)
        except orjson.JSONDecodeError as error:
            raise InvalidPlan(f"document: not JSON ({error})") from None
        previous = self.plan_documents.get(name)
        version = previous.version + 1 if previous else 1
        compile_plan(name, version, document)  # refuse a plan that does not compile
        plan = pb.Plan(name=name, version=version, document=orjson.dumps(document).decode(), published_at=now_iso())
        self._commit([stored(derived_id("plan", name), version, pb.PlanPublished(plan=plan))])
        return plan

    # Ingest ----------------------------------------------------------------

    def ingest(
        self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False
    ) -> pb.IngestResponse:
        """Validate, govern, deduplicate and store a batch; acknowledge each event.

        Good events are stored in one transaction whatever their neighbours do
        (with all_or_nothing, none is stored when any is rejected); a messageId
        this source sent before is acknowledged as a duplicate.
        """
        batch = self.admit(write_key, events, all_or_nothing=all_or_nothing)
        return self.acknowledge(batch, self.store_new(batch.to_store))

    async def ingest_async(
        self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False
    ) -> pb.IngestResponse:
        """ingest(), for callers on the event loop: calls that arrive together are ingested
        as a group (see GroupIngest), each with the outcome it would have on its own."""
        return await self._group.ingest(write_key, events, all_or_nothing)

    def acknowledge(self, batch: Admitted, existing: set[uuid.UUID]) -> pb.IngestResponse:
        """The response to a batch once stored; its state events apply."""
        self._apply_stored(batch.to_store, existing)
        return batch.acknowledge(existing)

    def admit(self, write_key: str, events: Sequence[event_pb2.Event], *, all_or_nothing: bool = False) -> Admitted:
        """Everything of ingest() but storing: the events to store and their acks."""
        source = self.check_batch(write_key, events)
        received = datetime.now(UTC)
        plan = self.plans.get(source.plan_name) if source.plan_name else None
        self.fetch_keys(events)
        batch = Admitted(source, plan, received, format_iso(received))
        for index, event in enumerate(events):
            self._admit_one(batch, index, event)
        if all_or_nothing:
            batch.refuse_all_if_any_rejected()
        return batch

    def check_batch(self, write_key: str, events: Sequence[event_pb2.Event]) -> Source:
        """The batch's source; raises UnknownWriteKey or BatchTooLarge."""
        source = self.source_for(write_key)
        if len(events) > domain.MAX_BATCH_EVENTS:
            raise BatchTooLarge(f"events: {len(events)} events; the limit is {domain.MAX_BATCH_EVENTS} a batch")
        return source

    def fetch_keys(self, events: Sequence[event_pb2.Event]) -> None:
        """One key transaction for the events' subjects; encrypting each event then hits the cache."""
        self.personal.vault.keys_for(
            {
                subject_of(e.user_id, e.anonymous_id)
                for e in events
                if (e.user_id or e.anonymous_id) and domain.is_good_id(e.user_id or e.anonymous_id)
            }
        )

    def _admit_one(self, batch: Admitted, index: int, event: event_pb2.Event) -> None:
        rejection, fields = domain.check(event, event.ByteSize(), batch.received)
        if rejection is not None:
            return batch.reject(index, rejection.field, rejection.rule)
        source, plan = batch.source, batch.plan
        event_id = derived_id("event", source.source_id, event.message_id)
        if event_id in batch.seen:
            return batch.ack(index, DUPLICATE, event_id)
        accepted = pb.EventAccepted(
            event_id=str(event_id), source_id=source.source_id, server_side=source.server_side, event=event
        )
        accepted.event.received_at = batch.received_at
        if not accepted.event.timestamp:
            accepted.event.timestamp = corrected_timestamp(accepted.event, batch.received)
        refusal = self._govern(source, accepted, fields["properties"])
        # The plan sees a fresh decoding: its schemas may fill in defaults, which must not be stored.
        violations = (
            []
            if refusal or not plan
            else plan.check(event.type, event.event, _object(accepted.event.properties), self._traits(accepted.event))
        )
        # Personal values are encrypted before anything of the call is stored, rejections included.
        accepted.pii_decision_id, encrypted = self.personal.protect(accepted.event, fields)
        accepted.encrypted_fields.extend(encrypted)
        if refusal is not None:
            refusal.event.CopyFrom(accepted.event)
            return batch.reject(index, refusal.field, refusal.rule, record=refusal)
        if violations and source.plan_mode == "reject":
            first = violations[0]
            rule = (
                first.rule
                if "tracking plan" in first.rule
                else f"{first.rule}; tracking plan {plan.name} v{plan.version}"
            )
            return batch.reject(
                index,
                first.field,
                rule,
                record=pb.EventRejected(
                    source_id=source.source_id,
                    event=accepted.event,
                    field=first.field,
                    rule=first.rule,
                    plan_name=plan.name,
                    plan_version=plan.version,
                    at=batch.received_at,
                ),
            )
        if violations and source.plan_mode == "quarantine":
            batch.accept(
                index,
                event_id,
                pb.EventQuarantined(
                    quarantined=pb.QuarantinedEvent(
                        event_id=accepted.event_id,
                        source_id=source.source_id,
                        event=accepted.event,
                        violations=[pb.Violation(field=v.field, rule=v.rule) for v in violations],
                        plan_name=plan.name,
                        plan_version=plan.version,
                        at=batch.received_at,
                    )
                ),
            )
            return
        if plan:
            accepted.plan_name, accepted.plan_version = plan.name, plan.version
            accepted.violations.extend(pb.Violation(field=v.field, rule=v.rule) for v in violations)
        batch.accept(index, event_id, accepted)

    @staticmethod
    def _traits(event: event_pb2.Event) -> dict:
        traits = dict(_object(event.context).get("traits") or {}) if event.type == "identify" else {}
        traits.update(_object(event.traits))
        return traits

    def _govern(
        self, source: Source, accepted: pb.EventAccepted, properties: dict | None = None
    ) -> pb.EventRejected | None:
        """cdp.collect: may this source send this event with these properties?

        Properties it forbids are dropped (and the drop recorded on the event), or the
        event is refused, as the policy says. properties: the event's, decoded already
        (dropped ones are removed from it too).
        """
        event = accepted.event
        if properties is None:
            properties = _object(event.properties)
        names = sorted(properties)
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
        if not decision.result.get("allow", False):
            reasons = "; ".join(decision.result.get("reasons", [])) or "refused by cdp.collect"
            return pb.EventRejected(
                source_id=source.source_id,
                event=event,
                field="event",
                rule=reasons,
                decision_id=decision.id,
                at=event.received_at,
            )
        drop = decision.result.get("drop", [])
        if drop:
            for name in drop:
                properties.pop(name, None)
            event.properties = orjson.dumps(properties).decode()
            accepted.dropped_properties.extend(drop)
        return None

    # Quarantine ------------------------------------------------------------

    def list_quarantine(self, source_name: str, limit: int) -> list[pb.QuarantinedEvent]:
        source_id = self._named(source_name).source_id if source_name else ""
        found = [q for q in self.quarantine.values() if not source_id or q.source_id == source_id]
        return found[:limit]

    def release_quarantine(self, source_name: str) -> tuple[int, int]:
        """Re-check waiting events against their source's current plan; pass them on if they pass now."""
        source_id = self._named(source_name).source_id if source_name else ""
        out: list[StoredEvent] = []
        still = 0
        for waiting in list(self.quarantine.values()):
            if source_id and waiting.source_id != source_id:
                continue
            source = self.sources[waiting.source_id]
            plan = self.plans.get(source.plan_name) if source.plan_name else None
            event = waiting.event
            subject = subject_of(event.user_id, event.anonymous_id)
            violations = (
                plan.check(
                    event.type,
                    event.event,
                    self.personal.reveal_object(subject, event.type, _object(event.properties)),
                    self.personal.reveal_object(subject, event.type, self._traits(event)),
                )
                if plan
                else []
            )
            if violations and source.plan_mode != "allow":
                still += 1
                continue
            accepted = pb.EventAccepted(
                event_id=waiting.event_id, source_id=source.source_id, server_side=source.server_side, event=event
            )
            if plan:
                accepted.plan_name, accepted.plan_version = plan.name, plan.version
                accepted.violations.extend(pb.Violation(field=v.field, rule=v.rule) for v in violations)
            refusal = self._govern(source, accepted)
            if refusal is not None:
                still += 1
                continue
            accepted.pii_decision_id, encrypted = self.personal.protect(accepted.event)
            accepted.encrypted_fields.extend(encrypted)
            originator = uuid.UUID(waiting.event_id)
            released = pb.EventReleased(
                event_id=waiting.event_id,
                plan_name=accepted.plan_name,
                plan_version=accepted.plan_version,
                at=now_iso(),
            )
            out += [stored(originator, 2, released), stored(originator, 3, accepted)]
        if out:
            self._commit(out)
        return len(out) // 2, still
