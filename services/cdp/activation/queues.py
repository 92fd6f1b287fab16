"""The delivery queues: one per destination, each with its own concurrency and rate limit, so a
slow destination delays no other. A person's deliveries to a destination go one at a time, in the
order they were stored; retries wait out their backoff (or the destination's Retry-After).

Only what is stored drives the queues: after a restart every pending delivery is queued again,
each person's first one first, so a crash loses nothing and reorders nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from aiolimiter import AsyncLimiter

from cdp.activation.application import ActivationApp
from cdp.activation.destinations.port import Destination, Message, Outcome
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.platform import metrics

log = logging.getLogger(__name__)

MAX_OUTCOMES_A_COMMIT = 500
RECORD_EVERY_S = 0.02  # outcomes are gathered this long before a commit: one fsync for many attempts
RECORD_RETRY_S = 1.0

# Opens the Destination a destination's kind and config describe, with its secrets in clear.
DestinationFactory = Callable[[pb.Destination, dict[str, str]], Destination]


class Lane:
    """One destination's queue: deliveries due at a time, at most `concurrency` in flight."""

    def __init__(self, destination_id: str):
        self.destination_id = destination_id
        self.due: list[tuple[float, int, str]] = []  # (when, sequence, delivery id)
        self.queued: set[str] = set()
        self.in_flight = 0
        self.wake = asyncio.Event()
        self.limiter: AsyncLimiter | None = None
        self.rate = 0.0
        self.opened: Destination | None = None
        self.opening = asyncio.Lock()
        self.version = 0
        self.counted: dict[str, Any] = {}  # outcome -> this destination's labelled counter
        self.retry_gauge: Any = None
        self.dead_gauge: Any = None

    def push(self, delivery_id: str, when: float, sequence: int) -> None:
        if delivery_id not in self.queued:
            self.queued.add(delivery_id)
            heapq.heappush(self.due, (when, sequence, delivery_id))
        self.wake.set()


class DeliveryWorker:
    def __init__(self, app: ActivationApp, open_destination: DestinationFactory):
        self.app = app
        self.open_destination = open_destination
        self.lanes: dict[str, Lane] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.outcomes: asyncio.Queue[tuple[str, Outcome]] = asyncio.Queue()
        self.sending: set[asyncio.Task] = set()
        self.in_flight: set[str] = set()  # sent, outcome not yet recorded
        self._running = False
        self._loop = asyncio.get_running_loop()
        app.on_scheduled = self.schedule
        app.on_destination = self.wake
        for delivery_id in app.heads():  # what a previous run left pending, each person's first
            self.schedule(delivery_id, app.wait_before(delivery_id))  # a retry keeps its wait

    def _lane(self, destination_id: str) -> Lane:
        lane = self.lanes.get(destination_id)
        if lane is None:
            lane = self.lanes[destination_id] = Lane(destination_id)
            if self._running:
                self.tasks[destination_id] = asyncio.ensure_future(self._drain(lane))
        return lane

    def schedule(self, delivery_id: str, delay: float = 0.0) -> None:
        """Queue a delivery if it is its person's next at its destination (the others follow it)."""
        delivery = self.app.deliveries.get(delivery_id)
        if delivery is None or delivery.status != "pending" or delivery_id in self.in_flight:
            return
        if self.app.next_of(delivery.destination_id, delivery.person_id) != delivery_id:
            return
        lane = self._lane(delivery.destination_id)
        lane.push(delivery_id, self._loop.time() + delay, delivery.sequence)

    def wake(self, destination_id: str) -> None:
        """A destination was resumed or edited: its queue looks again."""
        lane = self.lanes.get(destination_id)
        if lane is not None:
            lane.wake.set()

    async def run(self) -> None:
        self._running = True
        for lane in self.lanes.values():
            self.tasks[lane.destination_id] = asyncio.ensure_future(self._drain(lane))
        try:
            await self._record()
        finally:
            for task in [*self.tasks.values(), *self.sending]:
                task.cancel()
            await asyncio.gather(*self.tasks.values(), *self.sending, return_exceptions=True)
            for lane in self.lanes.values():
                if lane.opened is not None:
                    await lane.opened.close()

    async def _drain(self, lane: Lane) -> None:
        while True:
            destination = self.app.destinations.get(lane.destination_id)
            if destination is None or destination.status == "deleted":
                return
            limits = self.app.limits(lane.destination_id)
            ready = lane.due and destination.status == "active" and lane.in_flight < limits.concurrency
            wait = lane.due[0][0] - self._loop.time() if ready else None
            if not ready or (wait is not None and wait > 0):
                lane.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.wake.wait(), wait)
                continue
            if lane.limiter is None or lane.rate != limits.rate_per_s:
                lane.limiter, lane.rate = AsyncLimiter(limits.rate_per_s, 1.0), limits.rate_per_s
            # Kinds that take batches (max_batch) get the due deliveries of several persons at once.
            most = max(1, int(getattr(lane.opened, "max_batch", 1)))
            batch: list[str] = []
            while lane.due and len(batch) < most and (not batch or lane.due[0][0] <= self._loop.time()):
                _, _, delivery_id = heapq.heappop(lane.due)
                lane.queued.discard(delivery_id)
                await lane.limiter.acquire()
                self.in_flight.add(delivery_id)
                batch.append(delivery_id)
            lane.in_flight += 1
            task = asyncio.ensure_future(self._send(lane, destination, batch))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    async def _opened(self, lane: Lane, destination: pb.Destination) -> Destination:
        async with lane.opening:  # one open per version, however many sends want it
            if lane.opened is None or lane.version != destination.version:
                if lane.opened is not None:
                    await lane.opened.close()
                lane.opened = self.open_destination(destination, self.app.secrets(destination.destination_id))
                lane.version = destination.version
            return lane.opened

    async def _send(self, lane: Lane, destination: pb.Destination, delivery_ids: list[str]) -> None:
        started = time.perf_counter()
        try:
            messages: list[Message] = []
            for delivery_id in delivery_ids:
                delivery = self.app.deliveries.get(delivery_id)
                if delivery is None or delivery.status != "pending":
                    self.in_flight.discard(delivery_id)
                elif not self.app.may_send(delivery.sync_id):
                    self.in_flight.discard(delivery_id)
                    self.schedule(delivery_id, RECORD_RETRY_S)
                else:
                    try:
                        messages.append(await self._message(delivery_id))
                    except Exception as failure:  # not sent (a key, the access log): retried
                        log.exception("preparing delivery %s failed", delivery_id)
                        self.outcomes.put_nowait((delivery_id, Outcome(ok=False, error=type(failure).__name__)))
            if not messages:
                return
            try:
                opened = await self._opened(lane, destination)
                outcomes = await opened.send(messages)
                if len(outcomes) != len(messages):
                    raise ValueError(f"{len(outcomes)} outcomes for {len(messages)} messages")
            except Exception as failure:  # a fault here must not lose a delivery: retried
                log.exception("sending %d delivery(ies) to %s failed", len(messages), destination.destination_id)
                outcomes = [Outcome(ok=False, error=type(failure).__name__, retryable=True)] * len(messages)
            latency = (time.perf_counter() - started) * 1000
            for message, outcome in zip(messages, outcomes, strict=True):
                self.outcomes.put_nowait(
                    (message.delivery_id, outcome if outcome.latency_ms else replace(outcome, latency_ms=latency))
                )
        finally:
            lane.in_flight -= 1
            lane.wake.set()

    async def _message(self, delivery_id: str) -> Message:
        delivery = self.app.deliveries[delivery_id]
        body, fields = self.app.revealed(delivery.payload)
        if fields:  # the destination reads them: recorded before they leave
            await self.app.record_egress(delivery, fields)
        return Message(
            delivery_id=delivery_id,
            person_key=delivery.person_id,
            action=delivery.action,
            record=_record(body),
            body=body,
            timestamp=delivery.scheduled_at,
        )

    async def _record(self) -> None:
        """Commit outcomes in batches: one transaction for the attempts that finish within
        RECORD_EVERY_S of the first (the commit blocks the loop, so fewer is better)."""
        while True:
            batch = [await self.outcomes.get()]
            await asyncio.sleep(RECORD_EVERY_S)
            while not self.outcomes.empty() and len(batch) < MAX_OUTCOMES_A_COMMIT:
                batch.append(self.outcomes.get_nowait())
            self.in_flight.difference_update(delivery_id for delivery_id, _ in batch)
            try:
                verdicts = self.app.record_attempts(batch)
            except Exception:
                log.exception("recording %d delivery attempts failed; they will be retried", len(batch))
                for delivery_id, _ in batch:
                    self.schedule(delivery_id, RECORD_RETRY_S)
                continue
            touched: set[str] = set()
            for delivery_id, verdict in verdicts.items():
                delivery = self.app.deliveries[delivery_id]
                touched.add(delivery.destination_id)
                self._count(delivery.destination_id, verdict.kind)
                if verdict.kind == "retry":
                    log.info("delivery %s failed; retry in %.2fs", delivery_id, verdict.delay_s)
                    self.schedule(delivery_id, verdict.delay_s)
                elif verdict.kind == "disable":
                    self.schedule(delivery_id)  # waits in its queue until the destination is resumed
                else:  # delivered or dead-lettered: the person's next delivery goes
                    following = self.app.next_of(delivery.destination_id, delivery.person_id)
                    if following is not None:
                        self.schedule(following)
            for destination_id in touched:
                lane = self._lane(destination_id)
                if lane.retry_gauge is None:
                    lane.retry_gauge = metrics.RETRY_QUEUE.labels(self.app.decider.service, destination_id)
                    lane.dead_gauge = metrics.DEAD_LETTERS.labels(self.app.decider.service, destination_id)
                lane.retry_gauge.set(len(self.app.retrying.get(destination_id, ())))
                lane.dead_gauge.set(len(self.app.dead.get(destination_id, ())))

    def _count(self, destination_id: str, kind: str) -> None:
        """cdp_deliveries: delivered, retry or dead_lettered (a disabling answer counts as a retry:
        the delivery waits and is sent again once the destination is resumed)."""
        outcome = {"delivered": "delivered", "dead_letter": "dead_lettered"}.get(kind, "retry")
        lane = self._lane(destination_id)
        counter = lane.counted.get(outcome)
        if counter is None:
            counter = lane.counted[outcome] = metrics.DELIVERIES.labels(
                self.app.decider.service, destination_id, outcome
            )
        counter.inc()


def _record(body: bytes) -> dict:
    traits = orjson.loads(body).get("traits", {})
    return traits if isinstance(traits, dict) else {}
