"""Read models in SQLAlchemy, each with its own tracking position.

A projection follows its own service's event store and commits the rows it
changes together with the position it reached, in one transaction, so a read
model rebuilt from scratch equals the live one.

A running projection catches up in a worker thread, one thread for all the read
models of a database: on the event loop, a page of a busy log held the service's
followers (and so every event's way to a webhook) for as long as it took to
apply; one writer a database keeps SQLite from refusing a second one.

Woken by an append, it lets the log gather for GATHER_S before it catches up: a
commit costs about as much for one event as for a hundred, and at a steady rate
one commit per append took more of the process than the appends themselves. A
query that must see what its service stored a moment ago catches up first
(fresh).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification
from sqlalchemy.exc import IntegrityError, OperationalError

from cdp.platform.config import StoreConfig
from cdp.platform.lease import Lease
from cdp.platform.schemas import create_tables, ensure_schema
from cdp.platform.store import EventStore

log = logging.getLogger(__name__)

GATHER_S = 0.1  # how long a woken projection lets appends gather before it catches up
LEASE_RETRY_S = 1.0  # how often a process without the lease tries to take it
SCANNED = 10_000  # notifications of other topics passed before the position is moved past them

metadata_tracking = sa.MetaData()
tracking = sa.Table(
    "projection_tracking",
    metadata_tracking,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


def open_engine(config: StoreConfig, service: str) -> sa.Engine:
    if config.kind == "sqlite":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{config.data_dir / f'{service}-read.sqlite'}")

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            # A read model is rebuilt from its log: a commit need not wait for the disk. A power
            # loss may undo its last pages, rows and position together, and they are applied again.
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        return engine
    schema = f"{config.schema_prefix}{service}_read"
    ensure_schema(config.postgres_dsn, schema)
    url = config.postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    return engine


Apply = Callable[[sa.Connection, Sequence[Notification]], None]

_writers: weakref.WeakKeyDictionary[sa.Engine, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def _writer_of(engine: sa.Engine) -> ThreadPoolExecutor:
    """The one thread that applies pages to this database's read models."""
    if engine not in _writers:
        _writers[engine] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-model")
    return _writers[engine]


class Projection:
    """Keeps one read model up to date with one event store.

    Several processes may keep one read model (collector processes on one store): each commit
    moves the position only from the one it read, first thing in its transaction, so a page another
    process applied meanwhile is rolled back here rather than applied twice, and this one reads the
    position again."""

    def __init__(
        self,
        name: str,
        store: EventStore,
        engine: sa.Engine,
        metadata: sa.MetaData,
        apply: Apply,
        topics: Sequence[str] = (),
        batch: int = 1000,
    ):
        self.name = name
        self.store = store
        self.engine = engine
        self.apply = apply
        self.topics = tuple(topics)
        self.batch = batch
        for tables in (metadata_tracking, metadata):
            create_tables(engine, tables)
        self.position = self._load_position()
        self.skipped = 0  # events that could not be applied (logged)
        self._catching_up = threading.Lock()  # the running task, queries and timers, on any thread
        self._appended_to = 0  # the head of this process's last append (cdp.platform.store on_append)
        self._appended = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop run() runs on
        store.on_append(self._wake)

    def _wake(self, head: int) -> None:
        self._appended_to = max(self._appended_to, head)
        if self._loop is not None:  # appends happen on the loop or in a worker thread
            self._loop.call_soon_threadsafe(self._appended.set)

    def _load_position(self) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tracking.c.position).where(tracking.c.projection == self.name)).first()
        if row is not None:
            return int(row[0])
        try:  # the row every commit then moves on (another process may insert it first)
            with self.engine.begin() as conn:
                conn.execute(tracking.insert().values(projection=self.name, position=0))
        except IntegrityError:
            return self._load_position()
        return 0

    def catch_up(self) -> int:
        """Apply everything after the committed position; returns how many were applied."""
        with self._catching_up:
            return self._catch_up()

    async def catch_up_off_loop(self) -> int:
        """catch_up on the database's writer thread, leaving the event loop free meanwhile. When
        cancelled (the service stops) it still waits for the page in hand: the store and the
        engine close after the tasks end, and closing them under the thread crashed the process."""
        running = asyncio.get_running_loop().run_in_executor(_writer_of(self.engine), self.catch_up)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            await asyncio.wait([running])
            raise

    async def fresh(self) -> None:
        """Catch up first when this process appended past the read model: a query answers with at
        least what the service has published (a client that saw its event downstream reads it)."""
        if self._appended_to > self.position:
            await self.catch_up_off_loop()

    def _catch_up(self) -> int:
        applied = 0
        # Another process may have moved it (the lease's holder): start there, not a page behind.
        self.position = max(self.position, self._load_position())
        while True:
            page = self.store.read(self.position, self.batch, self.topics)
            if not page:
                self._pass_other_topics()
                return applied
            try:
                self._commit(page)
            except Moved:
                self.position = self._load_position()  # another process applied it
                continue
            except OperationalError:
                raise  # the database: retried whole by run()
            except Exception:
                # One of the page's events cannot be applied: apply the rest one by one and skip
                # that one (logged with an error id; rebuilding the read model tries it again).
                try:
                    self._commit_one_by_one(page)
                except Moved:
                    self.position = self._load_position()
                    continue
            applied += len(page)

    def _pass_other_topics(self) -> None:
        """None of its topics after the position: when the head is far ahead, the next catch-up
        starts there (one of rare topics would read the whole log again at every start). The head
        is read first and the page read again up to it, so nothing appended meanwhile is passed."""
        head = self.store.head()
        if head - self.position < SCANNED or self.store.read(self.position, 1, self.topics, stop=head):
            return
        with contextlib.suppress(Moved):
            self._commit([], apply=False, last=head)

    def _commit_one_by_one(self, page: Sequence[Notification]) -> None:
        for notification in page:
            try:
                self._commit([notification])
            except (Moved, OperationalError):
                raise
            except Exception:
                error_id = uuid.uuid4().hex[:12]
                log.exception(
                    "projection %s: skipped %s at %d (error id %s)",
                    self.name,
                    notification.topic,
                    notification.id,
                    error_id,
                )
                self.skipped += 1
                self._commit([notification], apply=False)

    def _commit(self, page: Sequence[Notification], apply: bool = True, last: int = 0) -> None:
        """The rows the page changes and the position it reaches (its last, or last), in one
        transaction; Moved (and nothing written) when another process moved the position first.
        The position's row is written first: a concurrent commit waits on it, then finds the
        position moved."""
        last = page[-1].id if page else last
        with self.engine.begin() as conn:
            moved = conn.execute(
                tracking.update()
                .where(tracking.c.projection == self.name, tracking.c.position == self.position)
                .values(position=last)
            ).rowcount
            if not moved:
                raise Moved(self.name)
            if apply:
                self.apply(conn, page)
        self.position = last

    async def run(self, gather_s: float = GATHER_S, lease: Lease | None = None) -> None:
        """Catch up after appends (gathered for gather_s) and every second; with a lease, only
        while this process holds it (the others wait for it, checking every second, and catch up
        only for a query that must be fresh)."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._run(gather_s, lease)
        finally:
            if lease is not None:
                lease.release()

    async def _run(self, gather_s: float, lease: Lease | None) -> None:
        while True:
            if lease is not None and not lease.held():
                await asyncio.sleep(LEASE_RETRY_S)
                continue
            self._appended.clear()
            try:
                await self.catch_up_off_loop()
            except Exception:
                log.exception("projection %s failed after %d; retrying", self.name, self.position)
                await asyncio.sleep(1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._appended.wait(), 1.0)
            if self._appended.is_set() and gather_s > 0:
                await asyncio.sleep(gather_s)


class Moved(Exception):
    """Another process committed this projection past the position this one read."""
