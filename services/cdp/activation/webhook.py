"""The delivery worker: sends scheduled deliveries to their destinations, retrying with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from cdp.activation.application import ActivationApp
from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.platform.errors import Unavailable
from cdp.platform.vault import DecryptError

log = logging.getLogger(__name__)

CONCURRENCY = 32  # sends in flight: each waits mostly on the receiver, so a few do not keep up with 1k/s
MAX_OUTCOMES_A_COMMIT = 500
RECORD_EVERY_S = 0.02  # outcomes are gathered this long before a commit: one fsync for many attempts


class Sender(Protocol):
    """Sends one delivery's body to its destination: (delivered, HTTP status or 0, error)."""

    async def send(self, destination: pb.Destination, body: bytes, delivery_id: str) -> tuple[bool, int, str]: ...


class DeliveryWorker:
    def __init__(self, app: ActivationApp, sender: Sender):
        self.app = app
        self.sender = sender
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.outcomes: asyncio.Queue[tuple[str, bool, int, str, float]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        app.on_scheduled = self.schedule
        for delivery in app.pending():  # what a previous run left pending
            self.schedule(delivery.delivery_id, 0.0)

    def schedule(self, delivery_id: str, delay: float) -> None:
        if delay <= 0:
            self.queue.put_nowait(delivery_id)
        else:
            self._loop.call_later(delay, self.queue.put_nowait, delivery_id)

    async def run(self) -> None:
        await asyncio.gather(self._record(), *(self._work() for _ in range(CONCURRENCY)))

    async def _work(self) -> None:
        while True:
            delivery_id = await self.queue.get()
            delivery = self.app.deliveries.get(delivery_id)
            if delivery is None or delivery.status != "pending":
                continue
            destination = self.app.destinations[delivery.destination_id]
            started = time.perf_counter()
            try:
                body, fields = self.app.revealed(delivery.payload)
                if fields:  # the destination reads them: recorded before they leave
                    await self.app.record_egress(delivery, fields)
                ok, status, error = await self.sender.send(destination, body, delivery_id)
            except (DecryptError, Unavailable) as failure:
                ok, status, error = False, 0, f"{type(failure).__name__}: {failure}"[:500]
            self.outcomes.put_nowait((delivery_id, ok, status, error, (time.perf_counter() - started) * 1000))

    async def _record(self) -> None:
        """Commit outcomes in batches: one transaction for the attempts that finish within
        RECORD_EVERY_S of the first (the commit blocks the loop, so fewer is better)."""
        while True:
            batch = [await self.outcomes.get()]
            await asyncio.sleep(RECORD_EVERY_S)
            while not self.outcomes.empty() and len(batch) < MAX_OUTCOMES_A_COMMIT:
                batch.append(self.outcomes.get_nowait())
            try:
                retries = self.app.record_attempts(batch)
            except Exception:
                log.exception("recording %d delivery attempts failed; they will be retried", len(batch))
                retries = {outcome[0]: 1.0 for outcome in batch}
            for delivery_id, delay in retries.items():
                log.info("delivery %s failed; retry in %.2fs", delivery_id, delay)
                self.schedule(delivery_id, delay)
