"""Reading the recorded decisions and policy revisions from every service's event log, and the
deliveries and events that relied on the decisions."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from cdp.api.activation.v1 import activation_pb2
from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import EventLogClient
from cdp.platform.personal import subject_of
from cdp.platform.published import decode, topic_of

DECISIONS = topic_of(decision_pb2.DecisionRecorded)
REVISIONS = topic_of(decision_pb2.PolicyRevisionActivated)


@dataclass(frozen=True)
class Recorded:
    service: str
    position: int  # notification id in the service's log
    record: decision_pb2.DecisionRecorded


@dataclass(frozen=True)
class Delivery:
    """A delivery activation scheduled, and the egress decision its payload relied on."""

    delivery_id: str
    destination_id: str
    person_id: str
    decision_id: str
    delivered: bool = False


@dataclass(frozen=True)
class Collected:
    """A call the collector accepted or rejected, and the decisions it relied on."""

    event_id: str
    subject: str  # the user id, else the anonymous id
    decision_ids: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    deliveries: Sequence[Delivery] = ()
    events: Sequence[Collected] = ()
    destinations: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, purpose)


def read_log(log: EventLogClient, topics: list[str], page: int = 2000) -> Iterator[eventlog_pb2.Notification]:
    return log.read_all(topics, page_size=page, timeout=60)


def read_decisions(logs: dict[str, EventLogClient], since: str = "") -> list[Recorded]:
    """Every recorded decision of these services (decided at or after since, if given), in log order."""
    out = []
    for service, log in logs.items():
        for n in read_log(log, DECISIONS):
            record = cast(decision_pb2.DecisionRecorded, decode(n.topic, n.payload))  # DECISIONS
            if not since or record.decided_at >= since:
                out.append(Recorded(service, n.id, record))
    return out


def read_revisions(logs: dict[str, EventLogClient]) -> dict[str, dict[str, str]]:
    """The full sources of every policy revision any of these services activated."""
    revisions: dict[str, dict[str, str]] = {}
    for log in logs.values():
        for n in read_log(log, REVISIONS):
            message = cast(decision_pb2.PolicyRevisionActivated, decode(n.topic, n.payload))  # REVISIONS
            revisions.setdefault(message.revision, dict(message.sources))
    return revisions


def read_in_force(logs: dict[str, EventLogClient]) -> dict[str, tuple[str, dict[str, str]]]:
    """The revision each of these services activated last, with its sources: service -> (revision, sources)."""
    in_force: dict[str, tuple[str, dict[str, str]]] = {}
    for service, log in logs.items():
        for n in read_log(log, REVISIONS):
            message = cast(decision_pb2.PolicyRevisionActivated, decode(n.topic, n.payload))  # REVISIONS
            in_force[service] = (message.revision, dict(message.sources))
    return in_force


DELIVERIES = topic_of(
    activation_pb2.DestinationCreated, activation_pb2.DeliveryScheduled, activation_pb2.DeliveryAttempted
)
EVENTS = topic_of(collector_pb2.EventAccepted, collector_pb2.EventRejected)


def read_links(logs: dict[str, EventLogClient], decision_ids: Collection[str]) -> Links:
    """Which deliveries (activation) and events (collector) relied on these decisions: activation's
    deliveries name their egress decision, destination and person; the collector's accepted and
    rejected events their collect and pii decisions and the call's subject. Destinations by id."""
    scheduled: dict[str, activation_pb2.DeliveryScheduled] = {}
    delivered: set[str] = set()
    destinations: dict[str, tuple[str, str]] = {}
    events: list[Collected] = []
    if "activation" in logs:
        for n in read_log(logs["activation"], DELIVERIES):
            message = decode(n.topic, n.payload)
            if isinstance(message, activation_pb2.DestinationCreated):
                d = message.destination
                destinations[d.destination_id] = (d.name, d.purpose)
            elif isinstance(message, activation_pb2.DeliveryScheduled):
                if message.decision_id in decision_ids:
                    scheduled[message.delivery_id] = message
            elif isinstance(message, activation_pb2.DeliveryAttempted) and message.ok:
                delivered.add(message.delivery_id)
    if "collector" in logs:
        for n in read_log(logs["collector"], EVENTS):
            message = decode(n.topic, n.payload)
            if isinstance(message, collector_pb2.EventAccepted):
                ids = tuple(i for i in (message.collect_decision_id, message.pii_decision_id) if i in decision_ids)
                event_id = message.event_id
            elif isinstance(message, collector_pb2.EventRejected):
                ids = (message.decision_id,) if message.decision_id in decision_ids else ()
                event_id = f"rejected:{message.source_id}:{message.event.message_id}"
            else:
                continue
            if ids:
                events.append(Collected(event_id, subject_of(message.event.user_id, message.event.anonymous_id), ids))
    deliveries = [
        Delivery(s.delivery_id, s.destination_id, s.person_id, s.decision_id, s.delivery_id in delivered)
        for s in scheduled.values()
    ]
    return Links(deliveries, events, destinations)


def chain_breaks(records: Iterable[Recorded], witnessed: dict[str, tuple[int, str]] | None = None) -> list[str]:
    """Where a service's decision log was edited or had records removed: each record's hash must
    match its content, follow the previous record's hash, and the sequence must have no gaps;
    and each chain must reach the head its witness saw (witnessed: service -> (sequence, hash))."""
    from cdp.platform.decisions import record_hash

    problems: list[str] = []
    last: dict[str, tuple[int, str]] = {}
    for item in records:
        record = item.record
        sequence, head = last.get(item.service, (0, ""))
        where = (
            f"{item.service} decision #{record.sequence} (log position {item.position}, id {record.decision_id[:12]})"
        )
        if record.sequence != sequence + 1:
            problems.append(f"{where}: expected #{sequence + 1}; a record before it is missing")
        elif record.prev_hash != head:
            problems.append(f"{where}: does not follow the previous record's hash; the log was altered")
        if record_hash(record) != record.hash:
            problems.append(f"{where}: its content does not match its hash; the record was edited")
        last[item.service] = (record.sequence, record.hash)
    for service, (sequence, head) in sorted((witnessed or {}).items()):
        ends = last.get(service, (0, ""))
        if ends[0] < sequence:
            problems.append(
                f"{service} decision log ends at #{ends[0]} but its witness saw #{sequence}: "
                f"the newest records were removed"
            )
        elif ends[0] == sequence and ends[1] != head:
            problems.append(f"{service} decision #{sequence} is not the record its witness saw: it was replaced")
    return problems
