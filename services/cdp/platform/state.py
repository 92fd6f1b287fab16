"""An application's in-memory state: the fold of its own published events, written once.

An application names the topics its state is folded from, how to start afresh (reset) and how to
apply one event (apply). rebuild() replays its store through them, and runs again after any
failed commit, so the state never runs ahead of what is stored. next_event() gives each new
event the next version of its originator.

A state may opt into snapshots (cdp.platform.snapshots): it says how to write itself as plain
JSON-able data and bytes sections (snapshot_state) and how to take it back (restore_state), at once
or page by page as it is first read; rebuild() then starts from the newest snapshot that loads and
folds only the log after its position. Its state must then
change only inside the unit of work's transactions: a snapshot is written on a thread while the
transaction lock is held, so reads go on being served and writes wait for it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from google.protobuf.message import Message

from cdp.platform.clock import SYSTEM_CLOCK, Clock, now_iso
from cdp.platform.heap import no_collection
from cdp.platform.held import Warm
from cdp.platform.published import decode, stored
from cdp.platform.snapshots import SnapshotStore, encode, shape_of
from cdp.platform.unit_of_work import UnitOfWork
from cdp.platform.versions import Versions

log = logging.getLogger(__name__)

REPLAY_BATCH = 2000


class EventSourced:
    topics: Sequence[str] = ()

    def __init__(self, uow: UnitOfWork, clock: Clock = SYSTEM_CLOCK, snapshots: SnapshotStore | None = None):
        self.clock = clock
        self.uow = uow
        self.store = uow.store
        self.versions = Versions()
        self.position = 0  # the store's head as far as this state has folded it
        self.restored_from = 0  # the snapshot the last rebuild started from (0: the log's start)
        self.snapshot_store = snapshots if self.snapshots_supported() else None
        self.snapshot_position = 0  # the newest snapshot written or loaded
        self.snapshot_at = time.monotonic()
        self.held = Warm()  # the parts restored from a snapshot still read as they are touched
        self.store.on_append(self._appended)
        uow.on_failure(self.rebuild)
        self.rebuild()
        if self.snapshot_store is not None:
            self.snapshot_position = max(self.restored_from, self.snapshot_store.newest(self.snapshot_name))
            self.snapshot_store.states.append(self)

    def reset(self) -> None:
        """Forget all state (before a replay)."""

    def apply(self, message: Message) -> None:
        """Fold one of the application's own events into its state."""

    # Snapshots (opt in by overriding both) ----------------------------------------------------

    def snapshot_state(self) -> Any:
        """The state as JSON-able data (strings as keys; bytes values of its dicts are written as
        sections, read back as memoryviews) that shares no mutable part with the state (it is
        encoded after the lock is released), or NotImplemented: no snapshots."""
        return NotImplemented

    def restore_state(self, state: Any) -> None:
        """Take back what snapshot_state() gave (on a reset state); raise on anything unexpected."""
        raise NotImplementedError

    def prepare_snapshot(self) -> None:
        """Before snapshot_state runs on a thread (the lock held, on the event loop): finish
        whatever the state still reads lazily from the snapshot it was restored from."""
        self.held.read_all()

    async def warm(self) -> None:
        """After a restart from a snapshot: read what the state holds still unread (cdp.platform.held)
        in slices, after serving."""
        await self.held.run(type(self).__name__, log)

    def snapshot_shape(self) -> str:
        """What a snapshot must have been written by to be loaded (the state's code)."""
        return shape_of(type(self))

    @property
    def snapshot_name(self) -> str:
        return type(self).__name__

    def snapshots_supported(self) -> bool:
        return type(self).snapshot_state is not EventSourced.snapshot_state

    # Folding -----------------------------------------------------------------------------------

    def rebuild(self) -> None:
        with no_collection():
            self._rebuild()

    def _rebuild(self) -> None:
        began = time.monotonic()
        self.versions = Versions()
        self.held.clear()
        self.reset()
        self.restored_from = self._restore()
        self.position = self.restored_from
        folded = 0
        for n in self._tail(self.restored_from):
            self.apply(decode(n.topic, n.state))
            self.versions[str(n.originator_id)] = n.originator_version
            folded += 1
        self.position = max(self.position, self.store.head())
        log.info(
            "%s: state rebuilt in %.3fs (from the snapshot at %d, then %d events)",
            type(self).__name__,
            time.monotonic() - began,
            self.restored_from,
            folded,
        )

    def _tail(self, after: int) -> Iterator[Notification]:
        while True:
            page = self.store.read(after, REPLAY_BATCH, self.topics)
            yield from page
            if len(page) < REPLAY_BATCH:
                return
            after = page[-1].id

    def _restore(self) -> int:
        """Load the newest usable snapshot; its position (0 when there is none, or it fails)."""
        if self.snapshot_store is None:
            return 0
        try:
            snapshot = self.snapshot_store.load(self.snapshot_name, self.snapshot_shape(), self.store.head())
            if snapshot is None:
                return 0
            self.versions = Versions.restored(snapshot.state["versions"])
            self.restore_state(snapshot.state["state"])
        except Exception as error:
            log.warning(
                "snapshot %s ignored: it does not restore (%s); folding the whole log",
                self.snapshot_name,
                type(error).__name__,
            )
            self.versions = Versions()
            self.held.clear()
            self.reset()
            return 0
        log.info("%s: restored from the snapshot at %d", self.snapshot_name, snapshot.position)
        return snapshot.position

    def snapshot_soon(self) -> None:
        """Have the next check write a snapshot (after a forget: the newest then holds none of the
        forgotten person's tokens)."""
        self.snapshot_at = float("-inf")

    def _appended(self, head: int) -> None:
        self.position = max(self.position, head)

    def snapshot_data(self) -> dict[str, Any]:
        """The state and its originators' versions, as data that shares nothing with the state."""
        enabled = gc.isenabled()
        gc.disable()  # the lists built here are garbage soon; walking them meanwhile is waste
        try:
            return {"versions": self.versions.snapshot(), "state": self.snapshot_state()}
        finally:
            if enabled:
                gc.enable()

    def encoded_snapshot(self) -> bytes:
        return encode(self.snapshot_data())

    async def take_snapshot(self) -> int:
        """Write a snapshot of the state now; returns its position. Writes wait while the state is
        copied out (on a thread, the event loop serving reads meanwhile), not while it is encoded
        and stored."""
        assert self.snapshot_store is not None, f"{self.snapshot_name} takes no snapshots"
        async with self.uow.lock:
            self.prepare_snapshot()
            position = self.position
            state = await asyncio.to_thread(self.snapshot_data)
        data = await asyncio.to_thread(encode, state)
        del state
        await asyncio.to_thread(self.snapshot_store.save, self.snapshot_name, self.snapshot_shape(), position, data)
        self.snapshot_position, self.snapshot_at = position, time.monotonic()
        log.info("%s: snapshot at %d (%d bytes)", self.snapshot_name, position, len(data))
        return position

    # Writing -----------------------------------------------------------------------------------

    def now_iso(self) -> str:
        """Now, by the application's clock, as the platform writes times."""
        return now_iso(self.clock)

    def next_event(self, originator: uuid.UUID, message: Message) -> StoredEvent:
        """The event with its originator's next version (counted from what this state has seen)."""
        version = self.versions.get(str(originator), 0) + 1
        self.versions[str(originator)] = version
        return stored(originator, version, message)
