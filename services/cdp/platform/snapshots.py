"""Snapshots of in-memory state, so a restart folds only the log's tail, not its whole history.

A state that opts in (EventSourced.snapshot_state / restore_state) is written, every so many stored
events or seconds, as one row: the log position it covers, a format version, the shape of the
code that wrote it (a hash of the state's modules), a checksum, and the state: its small part as
JSON (orjson) compressed with zlib, its large parts as binary sections the state lays out itself
(sorted arrays, pages compressed one by one) and reads back in place, so a restart need not decode
millions of small objects before serving. Nothing is ever unpickled: a row read back from a shared
store is data.

At start the newest row that loads is used; a corrupt one, an old format or another code's shape
is skipped with a log line, and with none the state folds its log from the start. The rows live
in a table beside the events: in PostgreSQL in the service's own schema; with SQLite in a file of
their own beside the store's, so writing a large row never holds the event store's one writer.

A snapshot holds what the log holds, and less: states keep personal values only as tokens (sealed
under subject keys that forget destroys) and keep no keyed hash of them, so crypto-shredding holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import os
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from cdp.platform.config import StoreConfig
from cdp.platform.schemas import create_tables, ensure_schema

log = logging.getLogger(__name__)

FORMAT = 2  # the row's own layout (header, encoding, compression, sections)
MAGIC = b"CDP-SNAPSHOT\x00"
KEEP = 2  # rows kept per state: the newest, and one before it should the newest not load
EVERY_EVENTS = int(os.environ.get("CDP_SNAPSHOT_EVERY_EVENTS", "50000"))  # stored events between two
EVERY_S = float(os.environ.get("CDP_SNAPSHOT_EVERY_S", "300"))  # at most this long, when anything new
CHECK_S = float(os.environ.get("CDP_SNAPSHOT_CHECK_S", "5"))  # how often the policy looks
# And not before the tail is this share of the log: a large state costs seconds to write, and a
# tail of a tenth of the log costs a tenth of a full fold at the next start.
TAIL_SHARE = float(os.environ.get("CDP_SNAPSHOT_TAIL_SHARE", "0.1"))

metadata = sa.MetaData()
snapshots = sa.Table(
    "state_snapshots",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("format", sa.Integer, nullable=False),
    sa.Column("shape", sa.String(64), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("taken_at", sa.Float, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


class SnapshotError(ValueError):
    """A snapshot that must not be used (corrupt, another format, another code's state)."""


@dataclass(frozen=True)
class Snapshot:
    name: str
    position: int  # the newest notification of the log the state covers
    state: Any  # as snapshot_state() gave it


def shape_of(*objects: Any) -> str:
    """The shape of a state: a hash of the source of the modules that define it (any change to
    them, even one that keeps the shape, makes older snapshots unusable: safe, and cheap)."""
    digest = hashlib.sha256()
    for module_name in sorted({inspect.getmodule(o).__name__ for o in objects}):  # type: ignore[union-attr]
        digest.update(module_name.encode())
        digest.update(inspect.getsource(sys.modules[module_name]).encode())
    return digest.hexdigest()


SectionPath = tuple[str, ...]


@dataclass(frozen=True)
class Later:
    """A part of a snapshot built when it is encoded, after the lock is released: a state whose
    copy is cheap but whose layout is not copies itself under the lock and lays the copy out here."""

    build: Callable[[], Any]


def _sections(state: Any, path: SectionPath, out: list[tuple[SectionPath, bytes]]) -> Any:
    """The state with each bytes value found in its dicts (not its lists) taken out into out."""
    if isinstance(state, Later):
        state = state.build()
    if isinstance(state, bytes | bytearray | memoryview):
        out.append((path, bytes(state)))
        return None
    if isinstance(state, dict):
        return {k: _sections(v, (*path, k), out) for k, v in state.items()}
    return state


def encode(state: Any) -> bytes:
    """The state as compressed JSON (orjson: tuples become lists, keys must be strings), followed by
    the bytes values of its dicts as sections, uncompressed and read back in place."""
    sections: list[tuple[SectionPath, bytes]] = []
    rest = _sections(state, (), sections)
    head = zlib.compress(orjson.dumps({"state": rest, "sections": [[list(p), len(b)] for p, b in sections]}), 1)
    return b"".join([MAGIC, struct.pack("<Q", len(head)), head, *(b for _, b in sections)])


def decode(data: bytes) -> Any:
    """Back from encode(): the sections as memoryviews of data (no copy)."""
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not a snapshot")
        at = len(MAGIC)
        (length,) = struct.unpack_from("<Q", data, at)
        at += 8
        head = orjson.loads(zlib.decompress(data[at : at + length]))
        at += length
        view = memoryview(data)
        state = head["state"]
        for path, size in head["sections"]:
            if at + size > len(data):
                raise ValueError("a section beyond the end")
            *parents, last = path
            place = state
            for key in parents:
                place = place[key]
            place[last] = view[at : at + size]
            at += size
        if at != len(data):
            raise ValueError("bytes after the last section")
        return state
    except (zlib.error, orjson.JSONDecodeError, struct.error, ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"undecodable ({type(error).__name__})") from None


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Snapshotted(Protocol):
    """A state that takes snapshots (cdp.platform.state.EventSourced, opted in)."""

    position: int
    snapshot_position: int
    snapshot_at: float

    @property
    def snapshot_name(self) -> str: ...

    async def take_snapshot(self) -> int: ...


class SnapshotStore:
    """The snapshot rows of one service, and the states that write them."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.states: list[Snapshotted] = []
        create_tables(engine, metadata)

    async def run(self, every_events: int = EVERY_EVENTS, every_s: float = EVERY_S, check_s: float = CHECK_S) -> None:
        """Snapshot each state once every_events more are stored (and a TAIL_SHARE of its log), or
        every_s after anything new."""
        while True:
            await asyncio.sleep(check_s)
            for state in self.states:
                grown = state.position - state.snapshot_position
                enough = max(every_events, int(state.position * TAIL_SHARE))
                if grown >= enough or (grown > 0 and time.monotonic() - state.snapshot_at >= every_s):
                    try:
                        await state.take_snapshot()
                    except Exception:
                        log.exception("snapshot %s failed; the next check tries again", state.snapshot_name)

    def save(self, name: str, shape: str, position: int, data: bytes) -> None:
        """Store one snapshot (already encoded), keeping the newest KEEP of that state."""
        row = {
            "name": name,
            "position": position,
            "format": FORMAT,
            "shape": shape,
            "checksum": checksum(data),
            "taken_at": time.time(),
            "data": data,
        }
        with self.engine.begin() as conn:
            # A replica, or a restart, may have written this position already: the newer one wins.
            conn.execute(snapshots.delete().where(snapshots.c.name == name, snapshots.c.position == position))
            conn.execute(snapshots.insert().values(**row))
            kept = [
                r[0]
                for r in conn.execute(
                    sa.select(snapshots.c.position)
                    .where(snapshots.c.name == name)
                    .order_by(snapshots.c.position.desc())
                    .limit(KEEP)
                )
            ]
            conn.execute(snapshots.delete().where(snapshots.c.name == name, snapshots.c.position.not_in(kept)))

    def newest(self, name: str) -> int:
        """The position of the newest snapshot of a state (0: none)."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(sa.func.max(snapshots.c.position)).where(snapshots.c.name == name)).scalar()
        return int(found or 0)

    def load(self, name: str, shape: str, head: int) -> Snapshot | None:
        """The newest snapshot of a state that loads; those that do not are skipped, each with a
        log line saying why (never their contents)."""
        for position, data in self._rows(name, shape, head):
            try:
                return Snapshot(name, position, decode(data))
            except SnapshotError as error:
                log.warning("snapshot %s at %d ignored: %s", name, position, error)
        return None

    def _rows(self, name: str, shape: str, head: int) -> Iterable[tuple[int, bytes]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(snapshots.c.position, snapshots.c.format, snapshots.c.shape, snapshots.c.checksum)
                .where(snapshots.c.name == name)
                .order_by(snapshots.c.position.desc())
            ).all()
        for position, row_format, row_shape, row_checksum in rows:
            if row_format != FORMAT:
                log.warning("snapshot %s at %d ignored: format %d, not %d", name, position, row_format, FORMAT)
                continue
            if row_shape != shape:
                log.warning("snapshot %s at %d ignored: written by another version of its state", name, position)
                continue
            if position > head:
                log.warning("snapshot %s at %d ignored: beyond the log's head %d", name, position, head)
                continue
            with self.engine.connect() as conn:
                data = conn.execute(
                    sa.select(snapshots.c.data).where(snapshots.c.name == name, snapshots.c.position == position)
                ).scalar_one()
            if checksum(data) != row_checksum:
                log.warning("snapshot %s at %d ignored: checksum mismatch", name, position)
                continue
            yield position, data

    def close(self) -> None:
        self.engine.dispose()


def open_snapshots(config: StoreConfig, service: str) -> SnapshotStore:
    """The snapshot table of a service: in its PostgreSQL schema, or a SQLite file beside its store."""
    if config.kind == "postgres":
        schema = config.schema_prefix + service
        ensure_schema(config.postgres_dsn, schema)
        url = config.postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        return SnapshotStore(sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{config.data_dir / f'{service}-snapshots.sqlite'}")

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return SnapshotStore(engine)
