"""Serving a service's event log over gRPC, and following another service's log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import grpc
from eventsourcing.persistence import StoredEvent, Tracking

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.platform.store import EventStore

log = logging.getLogger(__name__)

MAX_BATCH = 2000
MAX_WAIT_MS = 30_000


class EventLogServicer(eventlog_pb2_grpc.EventLogServiceServicer):
    """Reads notifications after a position; waits for new ones when asked to."""

    def __init__(self, store: EventStore):
        self.store = store
        self._appended = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        store.on_append(self._wake)

    def _wake(self, head: int) -> None:
        # Appends happen on the event loop or in a worker thread.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._appended.set()
        else:
            self._loop.call_soon_threadsafe(self._appended.set)

    async def Read(self, request, context):
        limit = min(request.limit or 500, MAX_BATCH)
        wait = min(max(request.wait_ms, 0), MAX_WAIT_MS) / 1000
        deadline = self._loop.time() + wait
        while True:
            # Clear before reading, so an append between the read and the wait wakes us.
            self._appended.clear()
            # The head first: a page that is not full then holds every notification of these topics
            # up to it, and a follower of rare topics can move past the rest (see Follower.run).
            head = self.store.head()
            page = self.store.read(request.after, limit, tuple(request.topics), stop=head)
            remaining = deadline - self._loop.time()
            if page or remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), remaining)
        return eventlog_pb2.ReadResponse(
            notifications=[
                eventlog_pb2.Notification(
                    id=n.id,
                    topic=n.topic,
                    originator_id=str(n.originator_id),
                    originator_version=n.originator_version,
                    payload=n.state,
                )
                for n in page
            ],
            head=head,
        )


# What a follower's handler returns: the events to append with the position.
Handler = Callable[[Sequence[eventlog_pb2.Notification]], Awaitable[Sequence[StoredEvent]]]


class Follower:
    """Pulls an upstream log in batches and commits what each batch produced,
    together with the upstream position, in one transaction (exactly once)."""

    def __init__(
        self,
        store: EventStore,
        upstream: str,
        channel: grpc.aio.Channel,
        handler: Handler,
        *,
        topics: Sequence[str] = (),
        batch: int = 500,
        wait_ms: int = 1000,
        reset: Callable[[], None] | None = None,
        decider=None,
    ):
        self.store = store
        self.upstream = upstream
        self.stub = eventlog_pb2_grpc.EventLogServiceStub(channel)
        self.handler = handler
        self.topics = list(topics)
        self.batch = batch
        self.wait_ms = wait_ms
        self.position = store.position(upstream)
        self.caught_up = asyncio.Event()
        self.reset = reset  # rebuilds the service's in-memory state after a failed commit
        self.decider = decider  # its queued decision records commit with the batch
        self.lock = asyncio.Lock()  # held while a batch is handled and committed
        self._stopping = False
        self._waiters: set[asyncio.Event] = set()

    async def run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                response = await self.stub.Read(
                    eventlog_pb2.ReadRequest(
                        after=self.position, limit=self.batch, wait_ms=self.wait_ms, topics=self.topics
                    ),
                    timeout=self.wait_ms / 1000 + 10,
                )
            except grpc.aio.AioRpcError as error:
                if self._stopping:
                    return
                log.warning("follow %s: %s; retrying in %.2fs", self.upstream, error.code().name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            notifications = response.notifications
            # A page that is not full holds all there is of our topics up to the head: the
            # notifications of other topics up to it need no work, so the next read starts after
            # them (without it, a follower of rare topics would rescan them all on every append).
            scanned = response.head if len(notifications) < min(self.batch, MAX_BATCH) else 0
            if not notifications:
                self.caught_up.set()
                await self._passed(scanned)
                continue
            self.caught_up.clear()
            try:
                await self.process(notifications, scanned)
            except Exception:
                # Nothing of the batch was committed; state the handler changed is rebuilt.
                log.exception("follow %s: batch after %d failed; retrying", self.upstream, self.position)
                if self.reset:
                    self.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def process(self, notifications: Sequence[eventlog_pb2.Notification], scanned: int = 0) -> None:
        """Handle a batch and commit what it produced with its last position; scanned: the
        upstream position up to which the batch is all there is of our topics, if known."""
        async with self.lock:
            try:
                events = list(await self.handler(notifications))
                if self.decider is not None:
                    events += self.decider.take_records()
                last = notifications[-1].id
                self.store.append(events, tracking=Tracking(self.upstream, last))
            except Exception:
                if self.decider is not None:
                    self.decider.discard()
                raise
            if self.decider is not None:
                self.decider.committed()
            self._advance(max(last, scanned))

    async def _passed(self, scanned: int) -> None:
        """Nothing of our topics up to scanned: the position moves there (it is committed with
        the next batch; a restart before that reads the gap again and finds nothing)."""
        if scanned > self.position:
            async with self.lock:
                self._advance(scanned)

    def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            for waiter in self._waiters:
                waiter.set()

    async def history(self, page: int = 2000) -> AsyncIterator[eventlog_pb2.Notification]:
        """The upstream notifications of this follower's topics up to its position (hold the
        lock while reading, to get exactly the state later batches are applied to)."""
        after = 0
        while after < self.position:
            response = await self.stub.Read(eventlog_pb2.ReadRequest(after=after, limit=page, topics=self.topics))
            if not response.notifications:
                return
            for n in response.notifications:
                if n.id > self.position:
                    return
                yield n
            after = response.notifications[-1].id

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait until this follower has committed up to position (read-your-writes)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.position < position:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            waiter = asyncio.Event()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)
        return True

    def stop(self) -> None:
        self._stopping = True
