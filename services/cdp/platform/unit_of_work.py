"""The unit of work: the only way a service writes to its store.

Whatever a command or a follower batch produced (its events, the records of the policy decisions
they rely on, and the upstream position it reached) commits in one transaction or not at all.
When a commit fails, the decisions' records stay queued and the application's in-memory state is
rebuilt from the store (on_failure), so state never runs ahead of what is stored.

Commands that read state, await, and then write (creating an audience from the profiles seen so
far, forgetting a person between two batches) take transaction(): it serialises them against the
service's followers. A write that does not await in between (the collector's ingest) commits with
commit() directly: on the event loop it cannot interleave with anything else.

Several processes may share one store (collector replicas on PostgreSQL). Each decision record is
keyed by its place in the service's decision chain, so two processes extending the chain at once
collide in the store's uniqueness; the later one reads the records the other wrote and retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from cdp.api.policy.v1.decision_pb2 import AccessRecorded
from cdp.platform.decisions import Decider
from cdp.platform.store import EventStore, OriginatorId

log = logging.getLogger(__name__)

CHAIN_RETRIES = 20  # other processes extending the decision chain at the same moment


@dataclass
class Committed:
    head: int | None  # the store's head after the commit (None: there was nothing to write)
    existing: set[OriginatorId] = field(default_factory=set)  # with new_only: originators already stored


@dataclass
class Transaction:
    """What one serialised unit of work produced, committed when its block ends."""

    events: list[StoredEvent] = field(default_factory=list)
    tracking: Tracking | None = None
    committed: Committed | None = None

    def add(self, events: Sequence[StoredEvent]) -> None:
        self.events.extend(events)

    def track(self, upstream: str, position: int) -> None:
        self.tracking = Tracking(upstream, position)


class UnitOfWork:
    def __init__(self, store: EventStore, decider: Decider):
        self.store = store
        self.decider = decider
        self.lock = asyncio.Lock()
        self._on_failure: list[Callable[[], None]] = []
        self._on_commit: list[Callable[[Sequence[StoredEvent], set[OriginatorId]], None]] = []
        if decider.activation is not None:  # the policy revision in force, recorded once per store
            self.commit([decider.activation], new_only=True)
            decider.activation = None

    def on_failure(self, rebuild: Callable[[], None]) -> None:
        """Call rebuild() after a failed commit (in-memory state may have run ahead)."""
        self._on_failure.append(rebuild)

    def on_commit(self, listener: Callable[[Sequence[StoredEvent], set[OriginatorId]], None]) -> None:
        """Call listener(events, existing) after each commit, with the events it stored."""
        self._on_commit.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Serialised against every other transaction of this service; commits at the end."""
        async with self.lock:
            tx = Transaction()
            try:
                yield tx
            except BaseException:
                self.decider.discard()
                self._failed()
                raise
            tx.committed = self.commit(tx.events, tracking=tx.tracking)

    def commit(
        self,
        events: Sequence[StoredEvent] = (),
        *,
        tracking: Tracking | None = None,
        new_only: bool = False,
        chained: Sequence[AccessRecorded] = (),
    ) -> Committed:
        """Append events, the queued decision records and the position in one transaction.

        new_only: events whose originator is stored already are left out (and returned in
        Committed.existing) instead of failing the whole commit: an event id derived from what
        a client sent twice (a retried batch, one messageId sent to two replicas) is stored once.
        chained: access records, chained after the decision records (cdp.platform.accesslog).
        """
        events = list(events)
        try:
            committed = self._append(events, tracking, new_only, chained)
        except BaseException:
            self.decider.discard()
            self._failed()
            raise
        self.decider.committed()
        if committed.existing:
            events = [e for e in events if e.originator_id not in committed.existing]
        for listener in self._on_commit:
            listener(events, committed.existing)
        return committed

    def _append(
        self,
        events: list[StoredEvent],
        tracking: Tracking | None,
        new_only: bool,
        chained: Sequence[AccessRecorded] = (),
    ) -> Committed:
        existing: set[OriginatorId] = set()
        for _ in range(CHAIN_RETRIES):
            records = self.decider.take_records(chained)
            fresh = [e for e in events if e.originator_id not in existing] if existing else events
            if not fresh and not records and tracking is None:
                return Committed(None, existing)
            try:
                return Committed(self.store.append(fresh + records, tracking=tracking), existing)
            except IntegrityError:
                self.decider.discard()
                if records and self.store.events_of(records[0].originator_id):
                    self.decider.refresh()  # another process extended the chain: continue after it
                    continue
                if not new_only:
                    raise
                # Only a replayed batch pays for these look-ups.
                existing = {e.originator_id for e in events if self.store.events_of(e.originator_id)}
        raise IntegrityError(f"{self.store.name}: the store kept changing under this commit ({CHAIN_RETRIES} tries)")

    def _failed(self) -> None:
        for rebuild in self._on_failure:
            try:
                rebuild()
            except Exception:
                log.exception("%s: rebuilding state after a failed commit failed", self.store.name)
