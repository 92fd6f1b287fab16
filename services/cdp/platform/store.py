"""A service's append-only event store, on the eventsourcing library's recorders.

One store per service: a SQLite file in the data directory (default) or a schema
in PostgreSQL. Events are appended in batches, atomically with the position of
the upstream notification that caused them (the follower's tracking record), so
a follower that crashes at any point resumes without losing or repeating work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)

from cdp.platform.config import StoreConfig
from cdp.platform.schemas import ensure_schema

log = logging.getLogger(__name__)

# What eventsourcing types an event's originator id as; the platform's are UUIDs.
OriginatorId = uuid.UUID | str


class EventStore:
    def __init__(self, recorder: ProcessRecorder, factory: InfrastructureFactory, name: str, file: Path | None = None):
        self.recorder = recorder
        self.name = name
        self._factory = factory
        self._wal = Path(f"{file}-wal") if file is not None else None  # SQLite's write-ahead log
        self._listeners: list[Callable[[int], None]] = []

    # Writing ---------------------------------------------------------------

    def append(self, events: Sequence[StoredEvent], *, tracking: Tracking | None = None) -> int:
        """Append events (and the upstream position, if given) in one transaction.

        Returns the store's head afterwards. Raises IntegrityError when any event's
        (originator, version) is taken; then nothing was written.
        """
        if not events and tracking is None:
            return self.head()
        # The recorder inserts row by row to learn the rowids; a multi-row INSERT (or executemany)
        # measured no faster here: SQLite's b-tree work and the commit dominate, not the calls.
        ids = (
            self.recorder.insert_events(events, tracking=tracking) if tracking else self.recorder.insert_events(events)
        )
        head = max(ids) if ids else self.head()
        if events:
            for listener in self._listeners:
                listener(head)
        return head

    def on_append(self, listener: Callable[[int], None]) -> None:
        """Call listener(head) after each append that wrote events."""
        self._listeners.append(listener)

    # Reading ---------------------------------------------------------------

    def read(
        self, after: int, limit: int, topics: Sequence[str] = (), stop: int | None = None
    ) -> Sequence[Notification]:
        """Notifications after a position (up to stop, if given), of these topics (all if none)."""
        return self.recorder.select_notifications(after, limit, stop=stop, topics=topics, inclusive_of_start=False)

    def replay(self, topics: Sequence[str] = (), batch: int = 2000) -> Iterator[Notification]:
        """Every notification in order (for rebuilding in-memory state at start)."""
        after = 0
        while True:
            page = self.read(after, batch, topics)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].id

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def position(self, upstream: str) -> int:
        return self.recorder.max_tracking_id(upstream) or 0

    def write_mark(self) -> object:
        """A cheap sign that some process wrote to the store, or None where there is none: of
        SQLite, the write-ahead log's file, size and modification time (a stat). A write shows
        there before it can be read (until its sync ends), and not every change is seen (a
        restarted log of the same size within the clock's tick): a hint, never the head."""
        if self._wal is None:
            return None
        try:
            status = os.stat(self._wal)
        except OSError:
            return None
        return status.st_ino, status.st_size, status.st_mtime_ns

    def events_of(self, originator_id: OriginatorId) -> Sequence[StoredEvent]:
        return self.recorder.select_events(originator_id)

    def close(self) -> None:
        self._factory.close()


def open_store(config: StoreConfig, service: str) -> EventStore:
    """Open (creating if needed) the event store of one service."""
    file = config.data_dir / f"{service}.sqlite" if config.kind == "sqlite" else None
    if config.kind == "sqlite":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(file),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    elif config.kind == "postgres":
        env = postgres_env(config.postgres_dsn, config.schema_prefix + service)
    else:
        raise ValueError(f"store: unknown kind {config.kind!r} (sqlite or postgres)")
    with creating(config, service):
        if config.kind == "postgres":
            ensure_schema(config.postgres_dsn, env["POSTGRES_SCHEMA"])
        factory = InfrastructureFactory.construct(env=env)
        recorder = factory.process_recorder()
    return EventStore(recorder, factory, service, file)


@contextlib.contextmanager
def creating(config: StoreConfig, name: str) -> Iterator[None]:
    """Held while a store's tables are created: processes starting together on one store
    (replicas, a restart beside a running one) would otherwise race to create them."""
    if config.kind == "sqlite":
        with open(config.data_dir / f".{name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        return
    import psycopg

    key = int.from_bytes(hashlib.sha256(f"{config.schema_prefix}{name}".encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(config.postgres_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    if not dsn:
        raise ValueError("store: postgres needs a DSN (--postgres-dsn or CDP_POSTGRES_DSN)")
    url = urlparse(dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "4",
    }
