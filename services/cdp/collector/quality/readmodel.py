"""The quality projection: one pass over each page of the collector's log feeds every table.

It runs beside ingest, in every collector process: its pages are applied on a worker thread, so
the event loop goes on taking calls while one is folded in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.collector.quality import anomalies, catalog, tables, violations
from cdp.platform.config import StoreConfig
from cdp.platform.published import decode, topic_of
from cdp.platform.readmodel import Projection, open_engine
from cdp.platform.store import EventStore

log = logging.getLogger(__name__)

TOPICS = topic_of(pb.EventAccepted, pb.EventQuarantined, pb.EventRejected, qpb.VolumeAnomalyDetected)
NAME = "quality"


def apply(conn: sa.Connection, page: Sequence[Notification]) -> None:
    fold = catalog.Fold()
    found: list[violations.Found] = []
    recorded: list[tuple[str, qpb.VolumeAnomalyDetected]] = []
    for n in page:
        message = decode(n.topic, n.state)
        if isinstance(message, qpb.VolumeAnomalyDetected):
            recorded.append((str(n.originator_id), message))
            continue
        if isinstance(message, pb.EventAccepted):
            fold.add(message)
        found += violations.found_in(message)
    fold.write(conn)
    violations.write(conn, found)
    anomalies.write(conn, recorded)


def projection(store: EventStore, engine: sa.Engine) -> Projection:
    return Projection(NAME, store, engine, tables.metadata, apply, TOPICS)


class OffLoop:
    """Catches a projection up on a worker thread, one catch-up at a time (the running task, and
    the queries that want what was stored a moment ago)."""

    def __init__(self, projection: Projection, store: EventStore):
        self.projection = projection
        self._lock = threading.Lock()
        self._appended = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        store.on_append(self._wake)

    def _wake(self, _head: int) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._appended.set)

    def catch_up(self) -> int:
        with self._lock:
            return self.projection.catch_up()

    async def catch_up_off_loop(self) -> int:
        return await asyncio.to_thread(self.catch_up)

    async def run(self) -> None:
        """Catch up after every append to the store, and every second."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._appended.clear()
            try:
                await self.catch_up_off_loop()
            except Exception:
                log.exception("projection %s failed after %d; retrying", NAME, self.projection.position)
                await asyncio.sleep(1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), 1.0)


def engine_of(config: StoreConfig) -> sa.Engine:
    """The collector's read database (shared by its processes: one SQLite file, one schema)."""
    return open_engine(config, "collector")
