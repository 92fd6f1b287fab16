"""An application's in-memory state: the fold of its own published events, written once.

An application names the topics its state is folded from, how to start afresh (reset) and how to
apply one event (apply). rebuild() replays its store through them, and runs again after any
failed commit, so the state never runs ahead of what is stored. next_event() gives each new
event the next version of its originator.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from eventsourcing.persistence import StoredEvent
from google.protobuf.message import Message

from cdp.platform.clock import SYSTEM_CLOCK, Clock, now_iso
from cdp.platform.published import decode, stored
from cdp.platform.unit_of_work import UnitOfWork


class EventSourced:
    topics: Sequence[str] = ()

    def __init__(self, uow: UnitOfWork, clock: Clock = SYSTEM_CLOCK):
        self.clock = clock
        self.uow = uow
        self.store = uow.store
        self.versions: dict[str, int] = {}
        uow.on_failure(self.rebuild)
        self.rebuild()

    def reset(self) -> None:
        """Forget all state (before a replay)."""

    def apply(self, message: Message) -> None:
        """Fold one of the application's own events into its state."""

    def rebuild(self) -> None:
        self.versions = {}
        self.reset()
        for n in self.store.replay(self.topics):
            self.apply(decode(n.topic, n.state))
            self.versions[str(n.originator_id)] = n.originator_version

    def now_iso(self) -> str:
        """Now, by the application's clock, as the platform writes times."""
        return now_iso(self.clock)

    def next_event(self, originator: uuid.UUID, message: Message) -> StoredEvent:
        """The event with its originator's next version (counted from what this state has seen)."""
        version = self.versions.get(str(originator), 0) + 1
        self.versions[str(originator)] = version
        return stored(originator, version, message)
