"""Serving a service's event log, and following another service's log.

A log is read through the LogReader port: over gRPC between processes (GrpcLog), or straight
from the upstream's store in one process (StoreLog, which the gRPC servicer also serves from).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import grpc

from cdp.api.eventlog.v1 import eventlog_pb2, eventlog_pb2_grpc
from cdp.platform.grpc_types import ServicerContext
from cdp.platform.store import EventStore

log = logging.getLogger(__name__)

MAX_BATCH = 2000
MAX_WAIT_MS = 30_000
MAX_LINGER_MS = 1000
# How often a waiting read of a store that replicas share looks for their appends (which wake no
# one here): where the store gives a cheap sign of a write (SQLite), its head is read for a few
# looks after a sign and at least every HEAD_EVERY looks; elsewhere at every look.
POLL_S = 0.01
SETTLE_LOOKS = 5
HEAD_EVERY = 5


class LogReader(Protocol):
    """Notifications of a log after a position (waiting up to wait_ms for one, and once there are
    some but fewer than limit, up to linger_ms for more), and its head."""

    async def read(
        self, after: int, limit: int, *, wait_ms: int = 0, topics: Sequence[str] = (), linger_ms: int = 0
    ) -> eventlog_pb2.ReadResponse: ...


class StoreLog:
    """A store's log, read in the process that holds the store; waits for new appends: this
    process's at once; with poll_s (replicas share the store), another's within poll_s."""

    def __init__(self, store: EventStore, poll_s: float | None = None):
        self.store = store
        self.poll_s = poll_s
        self._appended = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._floors: list[int] = []  # the head each waiting read found
        self._poller: asyncio.Task[None] | None = None
        store.on_append(self._wake)

    def close(self) -> None:
        """End every waiting read now (the service is stopping): each returns what there is."""
        self._closed = True
        self._appended.set()

    async def _poll(self, interval: float) -> None:
        """While reads wait: wake them when the head passed the one a waiting read found (one task
        for all). The head decides: a commit can be read only after its sync, and a sign of it
        in the file may come before that, or (rarely) not at all."""
        mark, settling, looks = self.store.write_mark(), 0, 0
        try:
            while True:  # started by a read that waits
                await asyncio.sleep(interval)
                if not self._floors or self._closed:
                    break
                looks += 1
                try:
                    now = self.store.write_mark()
                    if now != mark:
                        mark, settling = now, SETTLE_LOOKS
                    elif now is not None and not settling and looks % HEAD_EVERY:
                        continue
                    settling = max(settling - 1, 0)
                    head = self.store.head()
                except Exception:  # the store is busy or going away: the reads' own deadlines hold
                    continue
                if head > min(self._floors):
                    self._appended.set()
        finally:
            self._poller = None

    async def _wait(self, seconds: float, head: int) -> None:
        """Until an append or seconds; head: the one the read that found nothing read."""
        self._floors.append(head)
        if self._poller is None and self.poll_s:
            self._poller = asyncio.ensure_future(self._poll(self.poll_s))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), seconds)
        finally:
            self._floors.remove(head)

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

    async def read(
        self, after: int, limit: int, *, wait_ms: int = 0, topics: Sequence[str] = (), linger_ms: int = 0
    ) -> eventlog_pb2.ReadResponse:
        limit = min(limit or 500, MAX_BATCH)
        deadline = self._loop.time() + min(max(wait_ms, 0), MAX_WAIT_MS) / 1000
        while True:
            # Clear before reading, so an append between the read and the wait wakes us (another
            # process's: the poller compares the head with this read's).
            self._appended.clear()
            # The head first: a page that is not full then holds every notification of these topics
            # up to it, and a follower of rare topics can move past the rest (see Follower.run).
            head = self.store.head()
            page = self.store.read(after, limit, tuple(topics), stop=head)
            remaining = deadline - self._loop.time()
            if page or remaining <= 0 or self._closed:
                break
            await self._wait(remaining, head)
        if page and len(page) < limit and linger_ms > 0 and not self._closed:
            # A short page at a low rate: a moment more gathers a larger one; the head read after
            # the wait stands for the whole page.
            await asyncio.sleep(min(linger_ms, MAX_LINGER_MS) / 1000)
            head = self.store.head()
            page = [*page, *self.store.read(page[-1].id, limit - len(page), tuple(topics), stop=head)]
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


class EventLogServicer(eventlog_pb2_grpc.EventLogServiceServicer):
    """Serves the service's own log to its followers in other processes."""

    def __init__(self, store: EventStore, poll_s: float | None = None):
        self.log = StoreLog(store, poll_s)

    async def Read(self, request: eventlog_pb2.ReadRequest, context: ServicerContext) -> eventlog_pb2.ReadResponse:
        try:
            return await self.log.read(
                request.after,
                request.limit,
                wait_ms=request.wait_ms,
                topics=request.topics,
                linger_ms=request.linger_ms,
            )
        except asyncio.CancelledError:
            # The follower went away, or the server stops: nobody waits for the answer any more,
            # and a cancelled handler would only be logged as an unhandled error.
            return eventlog_pb2.ReadResponse()


class GrpcLog:
    """Another service's log, over its EventLog RPC."""

    def __init__(self, channel: grpc.aio.Channel):
        self.stub = eventlog_pb2_grpc.EventLogServiceStub(channel)

    async def read(
        self, after: int, limit: int, *, wait_ms: int = 0, topics: Sequence[str] = (), linger_ms: int = 0
    ) -> eventlog_pb2.ReadResponse:
        request = eventlog_pb2.ReadRequest(
            after=after, limit=limit, wait_ms=wait_ms, topics=topics, linger_ms=linger_ms
        )
        timeout = (wait_ms + linger_ms) / 1000 + 10
        response: eventlog_pb2.ReadResponse = await self.stub.Read(request, timeout=timeout)
        return response


class Upstream:
    """The log a service follows, as far as the service has followed it.

    Shared by the follower (which moves the position) and the application (which reads the
    history up to the position, and waits for the position to pass a point: read-your-writes).
    """

    def __init__(self, name: str, log: LogReader, topics: Sequence[str], position: int = 0):
        self.name = name
        self.log = log
        self.topics = list(topics)
        self.position = position  # every notification of our topics up to here is applied or parked
        self.head = 0  # the upstream head as last seen
        self._waiters: set[asyncio.Event] = set()

    def advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            for waiter in self._waiters:
                waiter.set()

    async def history(self, page: int = 2000) -> AsyncIterator[eventlog_pb2.Notification]:
        """The upstream notifications of our topics up to the position (read it inside the unit
        of work's transaction to get exactly the state later batches are applied to)."""
        after, until = 0, self.position
        while after < until:
            response = await self.log.read(after, page, topics=self.topics)
            if not response.notifications:
                return
            for n in response.notifications:
                if n.id > until:
                    return
                yield n
            after = response.notifications[-1].id

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait until the follower has passed position (read-your-writes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < position:
            remaining = deadline - loop.time()
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
