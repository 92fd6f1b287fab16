"""Reading the recorded decisions and policy revisions from every service's event log, and the
deliveries and events that relied on the decisions."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from cdp.api.activation.v1 import activation_pb2
from cdp.api.collector.v1 import collector_pb2
from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.ops.v1 import ops_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import EventLogClient
from cdp.platform.heads import SignedHead, verify_head
from cdp.platform.personal import subject_of
from cdp.platform.published import decode, topic_of

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DECISIONS = topic_of(decision_pb2.DecisionRecorded)
ACCESSES = topic_of(decision_pb2.AccessRecorded)
CHAIN = DECISIONS + ACCESSES  # the links of each service's chain
REVISIONS = topic_of(decision_pb2.PolicyRevisionActivated)
WITNESSED = topic_of(ops_pb2.HeadWitnessed)


@dataclass(frozen=True)
class Recorded:
    service: str
    position: int  # notification id in the service's log
    record: decision_pb2.DecisionRecorded


@dataclass(frozen=True)
class Link:
    """A record of a service's chain: a decision record or an access record."""

    service: str
    position: int
    record: decision_pb2.DecisionRecorded | decision_pb2.AccessRecorded

    @property
    def where(self) -> str:
        r = self.record
        if isinstance(r, decision_pb2.AccessRecorded):
            return f"{self.service} access record #{r.sequence} (log position {self.position}, id {r.access_id[:12]})"
        return f"{self.service} decision #{r.sequence} (log position {self.position}, id {r.decision_id[:12]})"


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


def read_chain(logs: dict[str, EventLogClient]) -> list[Link]:
    """Every link of these services' chains (decision and access records), in log order."""
    return [
        Link(
            service, n.id, cast(decision_pb2.DecisionRecorded | decision_pb2.AccessRecorded, decode(n.topic, n.payload))
        )
        for service, log in logs.items()
        for n in read_log(log, CHAIN)
    ]


def read_accesses(logs: dict[str, EventLogClient]) -> list[Link]:
    """Every access record of these services, in log order."""
    return [
        Link(service, n.id, cast(decision_pb2.AccessRecorded, decode(n.topic, n.payload)))  # ACCESSES
        for service, log in logs.items()
        for n in read_log(log, ACCESSES)
    ]


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


def chain_breaks(records: Iterable[Recorded | Link], witnessed: dict[str, tuple[int, str]] | None = None) -> list[str]:
    """Where a service's chain (its decision and access records) was edited or had records removed:
    each record's hash must match its content, follow the previous record's hash, and the
    sequence must have no gaps; and each chain must reach the head its witness saw (witnessed:
    service -> (sequence, hash))."""
    from cdp.platform.decisions import chain_hash

    problems: list[str] = []
    last: dict[str, tuple[int, str]] = {}
    for item in records:
        record = item.record
        sequence, head = last.get(item.service, (0, ""))
        where = Link(item.service, item.position, record).where
        if record.sequence != sequence + 1:
            problems.append(f"{where}: expected #{sequence + 1}; a record before it is missing")
        elif record.prev_hash != head:
            problems.append(f"{where}: does not follow the previous record's hash; the log was altered")
        if chain_hash(record) != record.hash:
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


@dataclass(frozen=True)
class Witnessed:
    """A signed head of a service's chain, and where it was found (its witness file, a peer's store)."""

    source: str  # e.g. "profile's store", "the witness file"
    head: SignedHead
    position: int = 0  # in the source's log, when a store

    @property
    def where(self) -> str:
        return f"{self.source} (log position {self.position})" if self.position else self.source


def read_witnessed(logs: dict[str, EventLogClient]) -> list[Witnessed]:
    """Every signed head the services recorded of each other (HeadWitnessed), in log order."""
    out = []
    for service, log in logs.items():
        for n in read_log(log, WITNESSED):
            message = cast(ops_pb2.HeadWitnessed, decode(n.topic, n.payload))  # WITNESSED
            out.append(Witnessed(f"{service}'s store", SignedHead.from_proto(message.head), n.id))
    return out


def head_breaks(
    records: Iterable[Recorded | Link],
    witnessed: Iterable[Witnessed],
    keys: dict[str, Ed25519PublicKey | None],
) -> list[str]:
    """Where a service's chain disagrees with a signed head of it (keys: service -> its public
    key, for every service whose chain is checked). A head whose signature does not verify was
    written without the key; a chain that ends before a signed head lost its newest records; a
    chain whose record at a signed head's place has another hash was rewritten, even if its
    hashes were recomputed. One failure per service and place the heads were found."""
    chains: dict[str, dict[int, Recorded | Link]] = {service: {} for service in keys}
    for item in records:
        chains.setdefault(item.service, {})[item.record.sequence] = item
    problems: list[str] = []
    reported: set[tuple[str, str]] = set()
    newest: dict[tuple[str, str], Witnessed] = {}
    for w in witnessed:
        service, head = w.head.service, w.head
        if service not in keys or (service, w.source) in reported:
            continue
        if keys[service] is None:
            if (service, "") not in reported:
                problems.append(f"{service}: no public signing key among the credentials; its heads cannot be checked")
            reported.update({(service, ""), (service, w.source)})
            continue
        if not verify_head(keys[service], head):
            problems.append(
                f"{service} signed head #{head.sequence} in {w.where}: its signature does not verify with "
                f"{service}'s key; it was written without the key"
            )
            reported.add((service, w.source))
            continue
        found = chains[service].get(head.sequence)
        if found is not None and found.record.hash != head.hash:
            problems.append(
                f"{Link(found.service, found.position, found.record).where}: not the record witnessed signed "
                f"in {w.where}; the log was rewritten"
            )
            reported.add((service, w.source))
            continue
        key = (service, w.source)
        if key not in newest or head.sequence > newest[key].head.sequence:
            newest[key] = w
    for (service, _), w in sorted(newest.items()):
        ends = max(chains[service], default=0)
        if (service, w.source) not in reported and ends < w.head.sequence:
            problems.append(
                f"{service} decision log ends at #{ends} but {w.where} holds its signed head #{w.head.sequence}: "
                f"the newest records were removed"
            )
    return problems
