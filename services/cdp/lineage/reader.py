"""What lineage reads from the platform, hop by hop: each service's answer, or why there is none."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson

from cdp.api.collector.v1 import collector_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import CdpError, Connection
from cdp.platform.published import decode, topic_of

T = TypeVar("T")
ACCEPTED = topic_of(collector_pb2.EventAccepted)
DECISIONS = topic_of(decision_pb2.DecisionRecorded)


@dataclass(frozen=True)
class Unavailable:
    """A hop that could not be read (the caller may not, or the service did not answer)."""

    reason: str


def attempt(read: Callable[[], T]) -> T | Unavailable:
    try:
        return read()
    except CdpError as error:
        code = getattr(error, "code", type(error).__name__)
        return Unavailable(f"{code}: {getattr(error, 'details', str(error))}")


def parsed(text: str) -> Any:
    """A recorded JSON text (a decision's result, a definition) as data; the text if it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def decision_json(
    records: dict[str, decision_pb2.DecisionRecorded] | Unavailable, decision_id: str, where: str
) -> dict[str, Any]:
    """A decision as lineage shows it (entrypoint, result, revision, when, for whom), or why not."""
    if not decision_id:
        return {"unavailable": "no decision recorded"}
    if isinstance(records, Unavailable):
        return {"unavailable": records.reason}
    record = records.get(decision_id)
    if record is None:
        return {"unavailable": f"not found in {where}"}
    return {
        "entrypoint": record.entrypoint,
        "result": parsed(record.result),
        "revision": record.revision,
        "decided_at": record.decided_at,
        "caller": record.caller,
    }


class Reader:
    """Reads over one connection, acting as the CLI's caller; logs are scanned once per question."""

    def __init__(self, platform: Connection, timeout: float = 30.0):
        self.platform = platform
        self.timeout = timeout

    def trait_lineage(self, trait: str, person_id: str, identifier: Any, purpose: str):
        return self.platform.profile.get_trait_lineage(
            trait, person_id=person_id, identifier=identifier, purpose=purpose, timeout=self.timeout
        )

    def person(self, person_id: str):
        return self.platform.identity.get_person(person_id, timeout=self.timeout)

    def evidence(self, person_id: str):
        return self.platform.identity.explain(person_id=person_id, timeout=self.timeout)

    def explain_delivery(self, delivery_id: str):
        return self.platform.activation.explain_delivery(delivery_id, timeout=self.timeout)

    def accepted(self, event_ids: Collection[str]) -> dict[str, collector_pb2.EventAccepted]:
        """The collector's records of these calls: its published log, read until all are found
        (an accepted call is stored under its event id, so only those are decoded)."""
        wanted = set(event_ids)
        found: dict[str, collector_pb2.EventAccepted] = {}
        if not wanted:
            return found
        for n in self.platform.eventlog("collector").read_all(ACCEPTED, timeout=self.timeout):
            if n.originator_id in wanted:
                found[n.originator_id] = cast(collector_pb2.EventAccepted, decode(n.topic, n.payload))
                if len(found) == len(wanted):
                    break
        return found

    def decisions(self, service: str, decision_ids: Iterable[str]) -> dict[str, decision_pb2.DecisionRecorded]:
        """These decisions as the service recorded them (its decision log)."""
        wanted = {d for d in decision_ids if d}
        found: dict[str, decision_pb2.DecisionRecorded] = {}
        if not wanted:
            return found
        for n in self.platform.eventlog(service).read_all(DECISIONS, timeout=self.timeout):
            record = cast(decision_pb2.DecisionRecorded, decode(n.topic, n.payload))
            if record.decision_id in wanted:
                found[record.decision_id] = record
                if len(found) == len(wanted):
                    break
        return found
