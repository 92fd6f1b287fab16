"""The quality projection: one pass over each page of the collector's log feeds every table.

It runs beside ingest, in the collector process holding its lease (the others fold only for a
query that must be fresh): its pages are applied on a worker thread, so the event loop goes on
taking calls while one is folded in.
"""

from __future__ import annotations

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
    made = Projection(NAME, store, engine, tables.metadata, apply, TOPICS)
    tables.upgrade(engine)
    return made


def engine_of(config: StoreConfig) -> sa.Engine:
    """The collector's read database (shared by its processes: one SQLite file, one schema)."""
    return open_engine(config, "collector")
