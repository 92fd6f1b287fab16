"""Following an upstream log exactly once, and parking what cannot be processed.

A follower pulls the upstream log in batches; what each batch produced commits with the upstream
position in one unit of work. A batch that fails because something is down (another service, the
store) is retried whole, with backoff. A batch that fails otherwise is taken one event at a time:
an event that fails on its own is parked (recorded in the follower's store with the error and the
position that passed it), and the rest go on. Later events with the same key (a person's
identifier) are parked behind it, so per-person order holds. retry() applies parked events again,
in order, after a fix; each applies once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import grpc
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent

from cdp.api.eventlog.v1 import eventlog_pb2
from cdp.api.ops.v1 import ops_pb2
from cdp.platform import errors
from cdp.platform.clock import now_iso
from cdp.platform.eventlog import MAX_BATCH, Upstream
from cdp.platform.ids import derived_id
from cdp.platform.logs import Backoff
from cdp.platform.parked import Parked
from cdp.platform.published import stored
from cdp.platform.snapshots import SnapshotStore
from cdp.platform.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Notification = eventlog_pb2.Notification
# What a follower's handler returns: the events to commit with the position.
Handler = Callable[[Sequence[Notification]], Awaitable[Sequence[StoredEvent]]]
KeyOf = Callable[[Notification], str]
_ParkingRecord = ops_pb2.EventParked | ops_pb2.ParkedEventApplied
TRANSIENT_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def transient(error: BaseException) -> bool:
    """A failure of something the batch needs, not of the batch: retry it, do not park it."""
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code() in TRANSIENT_CODES
    if getattr(error, "status", None) in TRANSIENT_CODES:  # a peer's status, as the platform's client raises it
        return True
    return isinstance(error, (errors.Unavailable, OperationalError, InterfaceError, OSError, TimeoutError))


def hashed_key(key: str) -> str:
    """Parked records hold a hash of the key: it is a person's identifier."""
    return hashlib.sha256(key.encode()).hexdigest()[:32] if key else ""


class Follower:
    def __init__(
        self,
        uow: UnitOfWork,
        upstream: Upstream,
        handler: Handler,
        *,
        key: KeyOf | None = None,
        batch: int = 500,
        wait_ms: int = 1000,
        linger_ms: int = 0,
        snapshots: SnapshotStore | None = None,
    ):
        self.uow = uow
        self.store = uow.store
        self.upstream = upstream
        self.handler = handler
        self.key = key
        self.batch = batch
        self.wait_ms = wait_ms
        self.linger_ms = linger_ms
        upstream.position = max(upstream.position, self.store.position(upstream.name))
        self.caught_up = asyncio.Event()
        self._stopping = False
        # A peer down or a batch that keeps failing is logged at first, then ever more rarely.
        self._unreachable = Backoff(log)
        self._failing = Backoff(log)
        self._parked = Parked(uow, upstream.name, snapshots)  # from its snapshot and the log's tail

    @property
    def name(self) -> str:
        return self.upstream.name

    @property
    def position(self) -> int:
        return self.upstream.position

    @property
    def parked(self) -> dict[int, ops_pb2.EventParked]:
        """By upstream position, not yet applied."""
        return self._parked.events

    def _note(self, message: _ParkingRecord) -> None:
        self._parked.apply(message)

    def _parked_keys(self) -> set[str]:
        return {p.key for p in self.parked.values() if p.key}

    # Following ------------------------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                # A short batch at a low rate waits a moment at the upstream for more: a handler's
                # cost per batch (a key transaction, a peer's round trip) is paid less often.
                response = await self.upstream.log.read(
                    self.position,
                    self.batch,
                    wait_ms=self.wait_ms,
                    topics=self.upstream.topics,
                    linger_ms=self.linger_ms,
                )
            except Exception as error:  # the upstream or the way to it is down
                if self._stopping:
                    return
                reason = error.code().name if isinstance(error, grpc.aio.AioRpcError) else type(error).__name__
                self._unreachable.failed(logging.WARNING, "follow %s: %s; retrying", self.name, reason)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            self._unreachable.ok()
            notifications = list(response.notifications)
            self.upstream.head = response.head
            # A page that is not full holds all there is of our topics up to the head: the
            # notifications of other topics up to it need no work, so the next read starts after
            # them (without it, a follower of rare topics would rescan them all on every append).
            scanned = response.head if len(notifications) < min(self.batch, MAX_BATCH) else 0
            if not notifications:
                self.caught_up.set()
                self.upstream.advance(scanned)
                continue
            self.caught_up.clear()
            try:
                await self.process(notifications, scanned)
                self._failing.ok()
            except Exception as error:
                # Nothing of the failed part was committed; state the handler changed is rebuilt.
                self._failing.failed(
                    logging.WARNING,
                    "follow %s: batch after %d failed (%s); retrying",
                    self.name,
                    self.position,
                    type(error).__name__,
                    exc_info=error,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def process(self, notifications: Sequence[Notification], scanned: int = 0) -> None:
        """Handle a batch and commit what it produced with its last position; scanned: the
        upstream position up to which the batch is all there is of our topics, if known."""
        try:
            await self._commit(notifications)
        except Exception as error:
            if transient(error):
                raise
            # Something in the batch cannot be processed: find it, park it, go on with the rest.
            for notification in notifications:
                await self._one(notification)
        self.upstream.advance(max(notifications[-1].id, scanned))

    async def _commit(self, notifications: Sequence[Notification]) -> None:
        keys = self._parked_keys()
        waiting = [n for n in notifications if keys and self._key(n) in keys]
        ready = [n for n in notifications if not (keys and self._key(n) in keys)]
        parked = [self._parked_record(n, "", "") for n in waiting]
        async with self.uow.transaction() as tx:
            if ready:
                tx.add(await self.handler(ready))
            tx.add([self._stored(p) for p in parked])
            tx.track(self.name, notifications[-1].id)
        for record in parked:
            self._note(record)
        # Committed: a retry after a later failure starts after it, never before.
        self.upstream.advance(notifications[-1].id)

    async def _one(self, notification: Notification) -> None:
        try:
            await self._commit([notification])
            return
        except Exception as error:
            if transient(error):
                raise
            error_id = uuid.uuid4().hex[:12]
            log.error(
                "follow %s: parked %s at %d (error id %s)",
                self.name,
                notification.topic,
                notification.id,
                error_id,
                exc_info=error,
            )
            # Only the kind of error is kept: the record stays in the store for good, and an error's
            # message may quote a decrypted value; the message is in the log under the error id.
            reason = f"{type(error).__name__} (the service's log has the details under error id {error_id})"
            record = self._parked_record(notification, reason, error_id)
        async with self.uow.transaction() as tx:
            tx.add([self._stored(record)])
            tx.track(self.name, notification.id)
        self._note(record)
        self.upstream.advance(notification.id)

    def _key(self, notification: Notification) -> str:
        return hashed_key(self.key(notification)) if self.key else ""

    def _parked_record(self, n: Notification, error: str, error_id: str) -> ops_pb2.EventParked:
        try:
            key = self._key(n)
        except Exception:
            key = ""  # an event too broken to key still parks, on its own
        return ops_pb2.EventParked(
            upstream=self.name,
            position=n.id,
            topic=n.topic,
            originator_id=n.originator_id,
            originator_version=n.originator_version,
            payload=n.payload,
            key=key,
            error=error or "waiting behind an earlier parked event of the same key",
            error_id=error_id,
            parked_at=now_iso(),
        )

    def _stored(self, message: ops_pb2.EventParked | ops_pb2.ParkedEventApplied, version: int = 1) -> StoredEvent:
        return stored(derived_id("parked", self.name, str(message.position)), version, message)

    # Parked events --------------------------------------------------------------------------

    async def retry(self, requested_by: str) -> tuple[int, int]:
        """Apply the parked events again, oldest first; returns (applied, still parked).

        An event that fails again stays parked, and so do the later ones of its key."""
        applied, failed_keys, tried = 0, set(), set()
        while True:
            todo = [p for position, p in sorted(self.parked.items()) if position not in tried]
            if not todo:
                break
            record = todo[0]
            tried.add(record.position)
            if record.key and record.key in failed_keys:
                continue
            notification = Notification(
                id=record.position,
                topic=record.topic,
                originator_id=record.originator_id,
                originator_version=record.originator_version,
                payload=record.payload,
            )
            done = ops_pb2.ParkedEventApplied(
                upstream=self.name, position=record.position, applied_at=now_iso(), requested_by=requested_by
            )
            try:
                async with self.uow.transaction() as tx:
                    tx.add(await self.handler([notification]))
                    tx.add([self._stored(done, version=2)])
            except Exception as error:
                failed_keys.add(record.key)
                log.warning("parked %s at %d failed again: %s", self.name, record.position, type(error).__name__)
                continue
            self._note(done)
            applied += 1
        return applied, len(self.parked)

    def stop(self) -> None:
        self._stopping = True
