"""A lease on a job that one process of a service should do for all of them.

Processes sharing a read database (collector processes on one store) would each fold every page
of the log into the same read model: each reads the page back from the store and only one commit
wins. The lease lets one of them fold while the others wait for it; they take it over within a
retry when the holder dies, since the lock goes with the process (SQLite: a lock on a file beside
the database; PostgreSQL: a session advisory lock, gone with its connection).

A lease is an economy, not a guard: a process that lost it without noticing and goes on working
is still correct wherever the work is (as a projection's position check makes it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHECK_S = 5.0  # how often a held PostgreSQL lease checks that its connection (and so the lock) lives


class Lease:
    """held() is True while this process holds the lease, trying to take it when it does not."""

    def __init__(self, engine: sa.Engine, name: str):
        self.name = name
        self._engine = engine
        self._fd: int | None = None  # SQLite: the locked file
        self._conn: sa.Connection | None = None  # PostgreSQL: the session holding the lock
        self._checked = 0.0
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = Path(f"{database}.{name}.lease") if database else None

    def held(self) -> bool:
        if self._path is not None:
            return self._held_file(self._path)
        return self._held_advisory()

    def _held_file(self, path: Path) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("lease %s taken", self.name)
        return True

    def _held_advisory(self) -> bool:
        now = time.monotonic()
        if self._conn is not None:
            if now - self._checked < CHECK_S:
                return True
            try:
                self._conn.execute(sa.text("SELECT 1"))
                self._checked = now
                return True
            except sa.exc.DBAPIError:
                log.warning("lease %s: its connection was lost; taking it again", self.name)
                self.release()
        lock = sa.text("SELECT pg_try_advisory_lock(hashtext(current_schema() || '/lease/' || :name))")
        try:  # the database away is no error: not held, and tried again later
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                taken = conn.execute(lock, {"name": self.name}).scalar()
            except BaseException:
                conn.invalidate()
                raise
        except sa.exc.DBAPIError:
            return False
        if not taken:
            conn.close()
            return False
        self._conn, self._checked = conn, now
        log.info("lease %s taken", self.name)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None
        if self._conn is not None:
            self._conn.invalidate()  # the session ends, and its advisory locks with it (not back to the pool)
            self._conn = None
