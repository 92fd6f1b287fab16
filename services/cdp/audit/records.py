"""Reading the recorded decisions and policy revisions from every service's event log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.ops.v1 import ops_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import EventLogClient
from cdp.platform.heads import SignedHead, verify_head
from cdp.platform.published import decode, topic_of

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DECISIONS = topic_of(decision_pb2.DecisionRecorded)
REVISIONS = topic_of(decision_pb2.PolicyRevisionActivated)
WITNESSED = topic_of(ops_pb2.HeadWitnessed)


@dataclass(frozen=True)
class Recorded:
    service: str
    position: int  # notification id in the service's log
    record: decision_pb2.DecisionRecorded


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
    records: Iterable[Recorded],
    witnessed: Iterable[Witnessed],
    keys: dict[str, Ed25519PublicKey | None],
) -> list[str]:
    """Where a service's chain disagrees with a signed head of it (keys: service -> its public
    key, for every service whose chain is checked). A head whose signature does not verify was
    written without the key; a chain that ends before a signed head lost its newest records; a
    chain whose record at a signed head's place has another hash was rewritten, even if its
    hashes were recomputed. One failure per service and place the heads were found."""
    chains: dict[str, dict[int, Recorded]] = {service: {} for service in keys}
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
                f"{service} decision #{head.sequence} (log position {found.position}, id "
                f"{found.record.decision_id[:12]}): not the record witnessed signed in {w.where}; the log was rewritten"
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
