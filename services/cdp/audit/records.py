"""Reading the recorded decisions and policy revisions from every service's event log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import EventLogClient
from cdp.platform.published import decode, topic_of

DECISIONS = topic_of(decision_pb2.DecisionRecorded)
REVISIONS = topic_of(decision_pb2.PolicyRevisionActivated)


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
