"""The events a follower parked and has not applied yet, as the service's own log records them.

Folded from the parking records of the log (cdp.platform.follower writes them), from a snapshot
of them when there is one: the records are rare, and finding them from the log's start would read
every event of a long log at every start.
"""

from __future__ import annotations

from typing import Any

from cdp.api.ops.v1 import ops_pb2
from cdp.platform.published import topic_of
from cdp.platform.snapshots import SnapshotStore
from cdp.platform.state import EventSourced
from cdp.platform.unit_of_work import UnitOfWork

PARKING_TOPICS = topic_of(ops_pb2.EventParked, ops_pb2.ParkedEventApplied)


class Parked(EventSourced):
    topics = PARKING_TOPICS

    def __init__(self, uow: UnitOfWork, upstream: str, snapshots: SnapshotStore | None = None):
        self.upstream = upstream
        super().__init__(uow, snapshots=snapshots)

    def reset(self) -> None:
        self.events: dict[int, ops_pb2.EventParked] = {}  # by upstream position

    def apply(self, message: Any) -> None:
        if message.upstream != self.upstream:
            return
        if isinstance(message, ops_pb2.EventParked):
            self.events[message.position] = message
        else:
            self.events.pop(message.position, None)

    @property
    def snapshot_name(self) -> str:
        return f"Parked-{self.upstream}"

    def snapshot_state(self) -> dict[str, Any]:
        return {"events": {str(p): e.SerializeToString() for p, e in self.events.items()}}

    def restore_state(self, state: dict[str, Any]) -> None:
        if set(state) != {"events"}:
            raise ValueError("parked snapshot: unexpected fields")
        for position, raw in state["events"].items():
            event = ops_pb2.EventParked.FromString(bytes(raw))
            if event.position != int(position) or event.upstream != self.upstream:
                raise ValueError("parked snapshot: a record of another place")
            self.events[event.position] = event
