"""Crypto-shredding: personal data encrypted per data subject, forgotten by destroying the key.

Each subject (an identifier such as "user_id:u1") gets a random 256-bit data key, kept only
wrapped (AES key wrap, RFC 3394) under a key-encryption key (KEK) in a mutable key table that
lives outside every event store. The KEKs are not in any database: they come from a KeyStore
(cdp.platform.keystore: files in a key directory, each sealed under the master key; a KMS could
stand in), and each row says which KEK version wrapped it. The table names a subject only by a
keyed hash, so it holds no identifier in clear. A field is encrypted with AES-GCM under an HKDF
subkey of the data key, with the subject, event type and field name as associated data, so a
token decrypts only where it was made. Destroying a key leaves a tombstone with no key material
and no subject: every token made under it reads as erased (None) for ever, and the subject's
next event gets a new key.

A destroyed key's old row versions can outlive it in a PostgreSQL WAL segment or a backup;
rotation (cdp.platform.rotation) re-wraps every live key under a new KEK and destroys the old
KEK, after which no such copy unwraps.

Decryption answers None when the key was destroyed (the value is erased) and raises DecryptError
when the token is malformed, unknown, or used for another subject, event type or field: that is a
bug or tampering, not erasure, and must not pass silently for an erased value.

Keys are cached unwrapped for cache_ttl seconds; after that a key is checked against the table
again, so no process serves a key destroyed elsewhere for longer than that. Ingest encrypts whole
batches: encrypt_many() fetches or creates every subject's key in one transaction, and a warm cache
costs a few microseconds a field.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from cdp.platform.config import MASTER_KEY_FILE, StoreConfig
from cdp.platform.keystore import (
    KEY_BYTES,
    MASTER_KEY_ENV,
    NONCE_BYTES,
    FileKeyStore,
    KekGone,
    KeyStore,
    KeyStoreError,
    load_master_key,
)
from cdp.platform.schemas import create_tables, ensure_schema

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE",
    "DecryptError",
    "KeyStore",
    "KeyTable",
    "Vault",
    "blind_index",
    "is_token",
    "load_master_key",
    "open_key_table",
    "write_key_hash",
]

log = logging.getLogger(__name__)

TOKEN_PREFIX = "pii:v1:"
LEGACY_KEK = 0  # rows an older version wrapped straight under the master key; the next rotation re-wraps them
_CHUNK = 500  # subjects per IN (...) clause: well under SQLite's and psycopg's parameter limits


class DecryptError(ValueError):
    """A token that cannot be read for a reason other than erasure (malformed, unknown key,
    another subject, event type or field, or tampered)."""


class RotationBusy(RuntimeError):
    """Another process is rotating the key-encryption key."""


class _NoKek(Exception):
    """The install has no key-encryption key yet."""


# The key table ----------------------------------------------------------------------------------

metadata = sa.MetaData()

# An active key has its subject (a keyed hash), its wrapped key and the KEK version that wrapped
# it; a destroyed one keeps only its id (a tombstone), so its tokens read as erased rather than
# unknown. Subjects are unique among active keys: UNIQUE ignores the tombstones' NULLs on both
# SQLite and PostgreSQL, so two processes creating the same subject's key at once end with one key.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.Text, nullable=True, unique=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("destroyed", sa.Boolean, nullable=False, default=False),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("kek_version", sa.Integer, nullable=True),
)

# One row: the KEK version new data keys are wrapped under, and when a rotation last finished.
vault_state = sa.Table(
    "vault_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("current_kek", sa.Integer, nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    subject: str | None  # the keyed hash of the subject (Vault.subject_hash)
    wrapped_key: bytes | None
    destroyed: bool
    kek_version: int | None = None


@dataclass(frozen=True)
class KeyCounts:
    current_kek: int | None
    rotated_at: datetime | None
    live_by_kek: dict[int, int]
    destroyed: int


class KeyTable:
    """The mutable table of wrapped data keys, and the pointer to the current KEK version."""

    def __init__(self, engine: sa.Engine, key_dir: Path | None = None, lock_path: Path | None = None):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.key_dir = key_dir  # where this install's KEKs are (FileKeyStore), if known
        self.lock_path = lock_path  # SQLite: the file rotations lock
        _retry_racing_creators(lambda: create_tables(engine, metadata))
        _retry_racing_creators(self._add_kek_column)

    def _add_kek_column(self) -> None:
        # A key table an older version made has no kek_version column: its keys are wrapped under
        # the master key itself (LEGACY_KEK), and keep working until a rotation re-wraps them.
        if "kek_version" in {c["name"] for c in sa.inspect(self.engine).get_columns("data_keys")}:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE data_keys ADD COLUMN kek_version INTEGER"))
            conn.execute(data_keys.update().where(data_keys.c.destroyed.is_(False)).values(kek_version=LEGACY_KEK))

    def _insert(self) -> Callable[[sa.Table], Any]:
        if self.sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert

    def get_or_create(self, subjects: Sequence[str], new_wrapped_key: Callable[[int], bytes]) -> dict[str, KeyRow]:
        """Every subject's active key, creating the missing ones (wrapped by new_wrapped_key(KEK
        version) under the current KEK) in one transaction.

        A concurrent creator's row wins over ours (ON CONFLICT DO NOTHING, then read again), so every
        caller gets the same key for a subject. Raises _NoKek when the install has no KEK yet.
        """
        with self.engine.connect() as conn:
            found = self._select_active(conn, subjects)
        if all(s in found for s in subjects):
            return found
        with self.engine.begin() as conn:
            # The current KEK is read in the transaction that wraps under it, and held (FOR SHARE;
            # SQLite: the write lock taken first), so a rotation's switch to a new KEK waits for this
            # transaction and then finds every row it wrote.
            version = self._current_kek(conn, hold=True)
            if version is None:
                raise _NoKek
            # Subjects another creator added meanwhile are not read again first: their rows win
            # over ours below (ON CONFLICT DO NOTHING) and the read after the insert finds them.
            for _ in range(3):  # a second round only if a random key id collided
                # In one order for every creator: PostgreSQL would otherwise deadlock two creators
                # that each wait on the other's uncommitted subject.
                missing = sorted(s for s in set(subjects) if s not in found)
                if not missing:
                    return found
                # In the driver's own SQL, values as SQLAlchemy binds them: its building of this
                # statement cost more than the database took to run it.
                bind = _binders(conn.dialect)
                now, destroyed = bind["created_at"](datetime.now(UTC)), bind["destroyed"](False)
                for chunk in _chunks(missing):
                    values = [(new_key_id(), s, new_wrapped_key(version), now, destroyed, version) for s in chunk]
                    sql = _created_sql(conn.dialect.paramstyle, len(values))
                    rows = conn.exec_driver_sql(sql, tuple(v for row in values for v in row))
                    found.update((r.subject, _key_row(r)) for r in rows)
                # Only a subject another creator added meanwhile is read again (its row won).
                found.update(self._select_active(conn, [s for s in missing if s not in found]))
            if any(s not in found for s in subjects):
                raise RuntimeError("vault: could not create data keys")
        return found

    def by_key_ids(self, key_ids: Sequence[str]) -> dict[str, KeyRow]:
        """Rows (active or tombstones) by key id; unknown ids are absent."""
        out: dict[str, KeyRow] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(key_ids))):
                for row in conn.execute(sa.select(*_ROW).where(data_keys.c.key_id.in_(chunk))):
                    out[row.key_id] = _key_row(row)
        return out

    def destroy(self, subjects: Iterable[str]) -> int:
        """Turn the subjects' active keys into tombstones; returns how many keys were destroyed."""
        destroyed = 0
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for chunk in _chunks(sorted(set(subjects))):
                result = conn.execute(
                    data_keys.update()
                    .where(data_keys.c.subject.in_(chunk))
                    .values(subject=None, wrapped_key=None, kek_version=None, destroyed=True, destroyed_at=now)
                )
                destroyed += result.rowcount
        if destroyed:
            self.scrub()
        return destroyed

    def scrub(self) -> None:
        """Leave no copy of deleted key material in the files.

        secure_delete zeroes what a change frees in the database file; old page images also sit in
        the WAL until it is checkpointed and truncated. On PostgreSQL the old row versions stay in
        dead tuples and WAL segments until vacuum and recycling: a wrapped key there is useless once
        a rotation has destroyed the KEK that wrapped it.
        """
        if not self.sqlite:
            return
        with self.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
            conn.commit()
        if busy:
            log.warning(
                "vault: WAL checkpoint was blocked by a reader; destroyed key material stays in "
                "the WAL file until the next checkpoint"
            )

    # The current KEK, and rotation ---------------------------------------------------------------

    def _current_kek(self, conn: sa.Connection, hold: bool = False) -> int | None:
        if hold:  # in the driver's SQL: it begins every transaction that makes keys
            # SQLite: the write lock taken with the read, so what it read holds until commit.
            held = (
                f"UPDATE {vault_state.name} SET id = id WHERE id = 1 RETURNING current_kek"
                if self.sqlite
                else f"SELECT current_kek FROM {vault_state.name} WHERE id = 1 FOR SHARE"
            )
            value = conn.exec_driver_sql(held).scalar()
        else:
            value = conn.execute(sa.select(vault_state.c.current_kek).where(vault_state.c.id == 1)).scalar()
        return None if value is None else int(value)

    def current_kek(self) -> int | None:
        with self.engine.connect() as conn:
            return self._current_kek(conn)

    def start_kek(self, version: int) -> int:
        """Make version the first current KEK, unless another process set one first; returns the current."""
        with self.engine.begin() as conn:
            # A first KEK counts as a rotation: the schedule runs from it.
            first = {"id": 1, "current_kek": version, "rotated_at": datetime.now(UTC)}
            conn.execute(self._insert()(vault_state).on_conflict_do_nothing(), [first])
            current = self._current_kek(conn)
        assert current is not None
        return current

    def switch_kek(self, version: int) -> None:
        """New data keys are wrapped under version from now on (waits for transactions wrapping under the old)."""
        with self.engine.begin() as conn:
            conn.execute(vault_state.update().where(vault_state.c.id == 1).values(current_kek=version))

    def wrapped_elsewhere(self, version: int, after: str, limit: int) -> list[KeyRow]:
        """Live keys not wrapped under version, in key id order after `after`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_ROW)
                .where(
                    data_keys.c.destroyed.is_(False),
                    data_keys.c.kek_version != version,
                    data_keys.c.key_id > after,
                )
                .order_by(data_keys.c.key_id)
                .limit(limit)
            )
            return [_key_row(r) for r in rows]

    def rewrap(self, rows: Sequence[tuple[KeyRow, bytes]], version: int) -> int:
        """Store each row's key wrapped anew under version, in one transaction; a key destroyed or
        re-wrapped meanwhile is left as it is. Returns how many were re-wrapped."""
        if not rows:
            return 0
        if self.sqlite:  # in-process: a statement a key costs no round trip
            statement = (
                data_keys.update()
                .where(
                    data_keys.c.key_id == sa.bindparam("b_key_id"),
                    data_keys.c.kek_version == sa.bindparam("b_old"),
                    data_keys.c.destroyed.is_(False),
                )
                .values(wrapped_key=sa.bindparam("b_wrapped"), kek_version=version)
            )
            params = [{"b_key_id": r.key_id, "b_old": r.kek_version, "b_wrapped": w} for r, w in rows]
            with self.engine.begin() as conn:
                return int(conn.execute(statement, params).rowcount)
        # PostgreSQL: one statement a batch, the rows as arrays, not a round trip a key.
        by_arrays = sa.text(
            "UPDATE data_keys AS d SET wrapped_key = v.wrapped, kek_version = :version "
            "FROM unnest(CAST(:key_ids AS text[]), CAST(:olds AS integer[]), CAST(:wrapped AS bytea[])) "
            "AS v(key_id, old, wrapped) "
            "WHERE d.key_id = v.key_id AND d.kek_version = v.old AND NOT d.destroyed"
        )
        arrays: dict[str, object] = {
            "version": version,
            "key_ids": [r.key_id for r, _ in rows],
            "olds": [r.kek_version for r, _ in rows],
            "wrapped": [w for _, w in rows],
        }
        with self.engine.begin() as conn:
            return int(conn.execute(by_arrays, arrays).rowcount)

    def mark_rotated(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(vault_state.update().where(vault_state.c.id == 1).values(rotated_at=datetime.now(UTC)))

    def counts(self) -> KeyCounts:
        with self.engine.connect() as conn:
            state = conn.execute(sa.select(vault_state.c.current_kek, vault_state.c.rotated_at)).first()
            live = conn.execute(
                sa.select(data_keys.c.kek_version, sa.func.count())
                .where(data_keys.c.destroyed.is_(False))
                .group_by(data_keys.c.kek_version)
            ).all()
            destroyed = conn.execute(
                sa.select(sa.func.count()).select_from(data_keys).where(data_keys.c.destroyed.is_(True))
            ).scalar()
        rotated_at = state.rotated_at if state else None
        if rotated_at is not None and rotated_at.tzinfo is None:  # SQLite keeps no zone: it was UTC
            rotated_at = rotated_at.replace(tzinfo=UTC)
        return KeyCounts(
            current_kek=int(state.current_kek) if state else None,
            rotated_at=rotated_at,
            live_by_kek={int(v): int(n) for v, n in live if v is not None},
            destroyed=int(destroyed or 0),
        )

    @contextlib.contextmanager
    def rotation_lock(self, wait_s: float = 0.0) -> Iterator[None]:
        """Held by one rotation of this install at a time (PostgreSQL: an advisory lock of the
        vault's schema; SQLite: a lock on a file beside the key table). Raises RotationBusy if
        another holds it for longer than wait_s. Released if the process dies."""
        deadline = time.monotonic() + wait_s
        if self.sqlite:
            assert self.lock_path is not None
            with open(self.lock_path, "a+b") as f:
                import fcntl

                while True:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise RotationBusy("another key rotation is running") from None
                        time.sleep(0.1)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
            return
        with self.engine.connect() as conn:
            lock = sa.text("SELECT pg_try_advisory_lock(hashtext(current_schema() || '/kek-rotation'))")
            while not conn.execute(lock).scalar():
                conn.rollback()
                if time.monotonic() >= deadline:
                    raise RotationBusy("another key rotation is running")
                time.sleep(0.1)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(current_schema() || '/kek-rotation'))"))
                conn.commit()

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _select_active(conn: sa.Connection, subjects: Sequence[str]) -> dict[str, KeyRow]:
        # In the driver's own SQL: on every ingest group's path, SQLAlchemy's building of an IN
        # list cost four times what the database took to answer it.
        out: dict[str, KeyRow] = {}
        for chunk in _chunks(list(dict.fromkeys(subjects))):
            for row in conn.exec_driver_sql(_active_sql(conn.dialect.paramstyle, len(chunk)), tuple(chunk)):
                out[row.subject] = _key_row(row)
        return out


_ROW = (
    data_keys.c.key_id,
    data_keys.c.subject,
    data_keys.c.wrapped_key,
    data_keys.c.destroyed,
    data_keys.c.kek_version,
)


@functools.lru_cache(maxsize=64)
def _active_sql(paramstyle: str, count: int) -> str:
    """SELECT the rows of count subjects, in the driver's parameter style (qmark or format)."""
    marker = "?" if paramstyle == "qmark" else "%s"
    columns = ", ".join(c.name for c in _ROW)
    return f"SELECT {columns} FROM {data_keys.name} WHERE subject IN ({', '.join([marker] * count)})"


_CREATED = ("key_id", "subject", "wrapped_key", "created_at", "destroyed", "kek_version")


@functools.lru_cache(maxsize=64)
def _created_sql(paramstyle: str, count: int) -> str:
    """INSERT count new keys, each one that lost to a concurrent creator's left out (and so not
    returned), in the driver's parameter style."""
    marker = "?" if paramstyle == "qmark" else "%s"
    row = f"({', '.join([marker] * len(_CREATED))})"
    returned = ", ".join(c.name for c in _ROW)
    return (
        f"INSERT INTO {data_keys.name} ({', '.join(_CREATED)}) VALUES {', '.join([row] * count)} "
        f"ON CONFLICT DO NOTHING RETURNING {returned}"
    )


@functools.lru_cache(maxsize=8)
def _binders(dialect: Any) -> dict[str, Callable[[Any], Any]]:
    """How SQLAlchemy turns a key row's time and flag into the driver's values, for this dialect."""

    def binder(column: str) -> Callable[[Any], Any]:
        process = data_keys.c[column].type.bind_processor(dialect)
        return process if process is not None else lambda value: value

    return {c: binder(c) for c in ("created_at", "destroyed")}


def _key_row(row: Any) -> KeyRow:
    return KeyRow(row.key_id, row.subject, row.wrapped_key, bool(row.destroyed), row.kek_version)


def open_key_table(config: StoreConfig) -> KeyTable:
    """The key table: <data_dir>/vault.sqlite (WAL, secure_delete) or PostgreSQL schema <prefix>vault.
    Its KEKs are in config.key_path."""
    if config.kind == "sqlite":
        config.data_dir.mkdir(parents=True, exist_ok=True)
        path = config.data_dir / "vault.sqlite"
        if not path.exists():  # private from the start: the -wal and -shm files take its mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA secure_delete=ON")

        return KeyTable(engine, config.key_path, config.data_dir / "vault.rotation.lock")
    if config.kind == "postgres":
        schema = f"{config.schema_prefix}vault"
        _retry_racing_creators(lambda: ensure_schema(config.postgres_dsn, schema))
        url = config.postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        return KeyTable(engine, config.key_path)
    raise ValueError(f"vault: unknown store kind {config.kind!r} (sqlite or postgres)")


def _retry_racing_creators(create: Callable[[], None]) -> None:
    # Services start together and each opens the vault: a SQLite file's first connection may find
    # it locked by another's switch to WAL, and of two adding the column at once one fails; a
    # second attempt finds the file free, the column there.
    import psycopg

    for attempt in range(5):
        try:
            return create()
        except (sa.exc.DBAPIError, psycopg.Error):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def new_key_id() -> str:
    """16 hex digits: the millisecond (44 bits), then this process's counter from a random start
    (20 bits). Keys made together sit together at the end of the key table's index, where random
    ids put each new one in a random page of it (30% of a new key's insert, measured in SQLite).
    The time is no secret: the row's created_at holds it. Ids made by two processes in one
    millisecond collide only if their counters meet, and get_or_create makes a new id then."""
    millisecond = time.time_ns() // 1_000_000 & (1 << 44) - 1
    return f"{millisecond:011x}{next(_key_counter) & 0xFFFFF:05x}"


_key_counter = itertools.count(secrets.randbits(20))


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# Field encryption -------------------------------------------------------------------------------


def _context(subject: str, event_type: str, field: str) -> bytes:
    # Length-prefixed, so no choice of names can make two contexts equal.
    parts = [p.encode("utf-8") for p in (subject, event_type, field)]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


class _Key:
    """One unwrapped data key, and the AES-GCM subkeys derived from it so far."""

    __slots__ = ("_prk", "checked", "ciphers", "key_id", "secret", "subject", "subject_hash")

    def __init__(self, key_id: str, subject_hash: str, subject: str | None, secret: bytes, checked: float):
        self.key_id = key_id
        self.subject_hash = subject_hash
        self.subject = subject  # in clear, once a caller named it (the table has only the hash)
        self.secret = secret
        self.checked = checked  # monotonic time the table last said this key was active
        self.ciphers: dict[tuple[str, str], tuple[AESGCM, bytes]] = {}
        self._prk: bytes | None = None

    def cipher(self, event_type: str, field: str) -> tuple[AESGCM, bytes]:
        entry = self.ciphers.get((event_type, field))
        if entry is None:
            assert self.subject is not None
            context = _context(self.subject, event_type, field)
            if self._prk is None:
                self._prk = _hkdf_extract(self.secret)
            entry = self.ciphers[(event_type, field)] = (AESGCM(_field_key(self._prk, context)), context)
        return entry


_FIELD_KEY_INFO = b"cdp/pii/v1 field key\x00"


def _hkdf_extract(secret: bytes) -> bytes:
    """HKDF-SHA256's extract step (RFC 5869, no salt): once per data key, not once per field."""
    return hmac.digest(bytes(32), secret, "sha256")


def _field_key(prk: bytes, context: bytes) -> bytes:
    """A field's subkey: HKDF-SHA256's expand step for one 32-byte block, the same bytes as
    HKDF(SHA256, 32, salt=None, info="cdp/pii/v1 field key\\0" + context).derive(data key)."""
    return hmac.digest(prk, _FIELD_KEY_INFO + context + b"\x01", "sha256")


def is_token(value: object) -> TypeGuard[str]:
    """Whether value looks like a token this vault makes (cheap; does not decrypt)."""
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX) and value.count(":") == 3


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=8)
def _subject_key(master_key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, None, b"cdp/vault/v1 subject").derive(master_key)


def subject_hash(master_key: bytes, subject: str) -> str:
    """What the key table stores for a subject: a keyed hash, so the table names nobody."""
    return hmac.new(_subject_key(master_key), subject.encode("utf-8"), hashlib.sha256).hexdigest()


class Vault:
    def __init__(
        self,
        table: KeyTable,
        master_key: bytes,
        *,
        keys: KeyStore | None = None,
        cache_ttl: float = 0.5,
        max_cached_keys: int = 50_000,
    ):
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"vault: the master key must be {KEY_BYTES} bytes")
        if keys is None:
            if table.key_dir is None:
                raise ValueError("vault: give the key store (or open the table with open_key_table)")
            keys = FileKeyStore(table.key_dir, master_key)
        self.table = table
        self.keys = keys
        self.cache_ttl = cache_ttl
        self.max_cached_keys = max_cached_keys
        self.on_destroy: list[Callable[[], object]] = []  # called after keys were destroyed (a rotation is due)
        self._master = master_key
        self._by_subject: dict[str, _Key] = {}
        self._by_id: dict[str, _Key] = {}
        self._destroyed: set[str] = set()  # key ids: a destroyed key never comes back
        self._migrate_legacy_subjects()

    def write_key_hash(self, write_key: str) -> str:
        return write_key_hash(self._master, write_key)

    def subject_hash(self, subject: str) -> str:
        return subject_hash(self._master, subject)

    # Keys ------------------------------------------------------------------------------------

    def keys_for(self, subjects: Iterable[str]) -> dict[str, str]:
        """Each subject's active key id, fetching or creating the keys not fresh in the cache in one
        transaction (and caching them)."""
        return {s: k.key_id for s, k in self._keys_for(subjects).items()}

    def _keys_for(self, subjects: Iterable[str]) -> dict[str, _Key]:
        now = time.monotonic()
        out: dict[str, _Key] = {}
        stale: list[str] = []
        for subject in dict.fromkeys(subjects):
            key = self._by_subject.get(subject)
            if key is not None and now - key.checked < self.cache_ttl:
                out[subject] = key
            else:
                stale.append(subject)
        if stale:
            for subject in stale:
                if not isinstance(subject, str) or not subject:
                    raise ValueError(f"vault: a subject is a non-empty string, not {subject!r}")
            hashes_ = {subject: self.subject_hash(subject) for subject in stale}
            try:
                rows = self.table.get_or_create(list(hashes_.values()), self._new_wrapped_key)
            except _NoKek:
                self.first_kek()
                rows = self.table.get_or_create(list(hashes_.values()), self._new_wrapped_key)
            for subject, hashed in hashes_.items():
                out[subject] = self._remember(rows[hashed], now, subject)
        return out

    def first_kek(self) -> int:
        """Make sure the install has a current KEK (the newest in the key store, else a new one)."""
        current = self.table.current_kek()
        if current is not None:
            return current
        versions = self.keys.versions()
        if not versions:
            self.keys.create(1)
        return self.table.start_kek(max(versions, default=1))

    def check_master_key(self) -> None:
        """Raise RuntimeError if the master key does not open the current KEK (or an older table's keys)."""
        current = self.table.current_kek()
        if current is not None and current in self.keys.versions():
            try:
                self.keys.wrap(current, bytes(KEY_BYTES))
            except KeyStoreError:
                raise RuntimeError(f"vault: the master key does not open key-encryption key {current}") from None
        with self.table.engine.connect() as conn:
            legacy = conn.execute(sa.select(*_ROW).where(data_keys.c.kek_version == LEGACY_KEK).limit(1)).first()
        if legacy is not None:
            self.unwrap(_key_row(legacy))  # raises "wrong master key?"

    def _new_wrapped_key(self, kek_version: int) -> bytes:
        return self.keys.wrap(kek_version, secrets.token_bytes(KEY_BYTES))

    def unwrap(self, row: KeyRow) -> bytes:
        """A live row's data key, unwrapped under the KEK version the row names."""
        assert row.wrapped_key is not None and row.kek_version is not None
        if row.kek_version == LEGACY_KEK:
            try:
                return aes_key_unwrap(self._master, row.wrapped_key)
            except InvalidUnwrap:
                raise RuntimeError(f"vault: key {row.key_id} does not unwrap: wrong master key?") from None
        try:
            return self.keys.unwrap(row.kek_version, row.wrapped_key)
        except KekGone:
            raise
        except KeyStoreError as error:
            raise RuntimeError(f"vault: key {row.key_id}: {error}: wrong master key?") from None

    def _remember(self, row: KeyRow, checked: float, subject: str | None = None) -> _Key:
        # `checked` is when the read began, so the TTL never stretches past what the table said.
        assert row.subject is not None and row.wrapped_key is not None  # an active key's row: callers skip tombstones
        key = self._by_id.get(row.key_id)
        if key is None:
            secret = self._unwrap_fresh(row)
            if len(self._by_id) >= self.max_cached_keys:
                self._evict()
            key = self._by_id[row.key_id] = _Key(row.key_id, row.subject, subject, secret, checked)
        key.checked = checked
        if subject is not None:
            key.subject = subject
            previous = self._by_subject.get(subject)
            if previous is not None and previous.key_id != row.key_id:  # destroyed by another process
                self._forget_key(previous)
            self._by_subject[subject] = key
        return key

    def _unwrap_fresh(self, row: KeyRow) -> bytes:
        # A rotation may have re-wrapped the row and destroyed its KEK since it was read: read it again.
        for _ in range(5):
            try:
                return self.unwrap(row)
            except KekGone:
                fresh = self.table.by_key_ids([row.key_id]).get(row.key_id)
                if fresh is None or fresh.destroyed or fresh.kek_version == row.kek_version:
                    raise
                row = fresh
        return self.unwrap(row)

    def _evict(self) -> None:
        # The oldest quarter goes; they are re-read (and re-checked) when next needed.
        for key_id in list(self._by_id)[: max(1, len(self._by_id) // 4)]:
            key = self._by_id.pop(key_id)
            if key.subject is not None and self._by_subject.get(key.subject) is key:
                del self._by_subject[key.subject]

    def _forget_key(self, key: _Key) -> None:
        self._by_id.pop(key.key_id, None)
        if key.subject is not None and self._by_subject.get(key.subject) is key:
            del self._by_subject[key.subject]
        if len(self._destroyed) > 1_000_000:
            self._destroyed.clear()
        self._destroyed.add(key.key_id)

    def destroy(self, subjects: Iterable[str]) -> int:
        """Destroy the subjects' keys: all their tokens read as erased from now on, here at once
        and in other processes within cache_ttl. Returns how many keys were destroyed.

        Old copies of the wrapped keys (a WAL segment, a backup) stay unwrappable until the next
        rotation destroys the KEK that wrapped them: on_destroy's callbacks ask for one."""
        subjects = set(subjects)
        hashed = {self.subject_hash(s) for s in subjects}
        count = self.table.destroy(hashed)
        for key in [k for k in self._by_id.values() if k.subject_hash in hashed]:
            self._forget_key(key)
        if count:
            for callback in self.on_destroy:
                callback()
        return count

    def _migrate_legacy_subjects(self) -> None:
        # An older version named subjects in clear ("kind:value"); a keyed hash has no colon.
        with self.table.engine.connect() as conn:
            legacy = conn.execute(
                sa.select(data_keys.c.key_id, data_keys.c.subject).where(
                    data_keys.c.destroyed.is_(False), data_keys.c.subject.contains(":")
                )
            ).all()
        if not legacy:
            return
        with self.table.engine.begin() as conn:
            conn.execute(
                data_keys.update()
                .where(data_keys.c.key_id == sa.bindparam("b_key_id"), data_keys.c.subject == sa.bindparam("b_old"))
                .values(subject=sa.bindparam("b_new")),
                [{"b_key_id": k, "b_old": s, "b_new": self.subject_hash(s)} for k, s in legacy],
            )
        log.warning("vault: %d subject(s) of an older key table now stored as keyed hashes", len(legacy))
        self.table.scrub()

    # Fields ----------------------------------------------------------------------------------

    def encrypt(self, subject: str, event_type: str, field: str, value: str) -> str:
        return self._encrypt(self._keys_for((subject,))[subject], event_type, field, value)

    def encrypt_many(self, items: Iterable[tuple[str, str, str, str]]) -> list[str]:
        """Encrypt (subject, event_type, field, value) items, with one key transaction for all."""
        items = list(items)
        keys = self._keys_for(item[0] for item in items)
        return [self._encrypt(keys[s], e, f, v) for s, e, f, v in items]

    @staticmethod
    def _encrypt(key: _Key, event_type: str, field: str, value: str) -> str:
        aead, context = key.cipher(event_type, field)
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, value.encode("utf-8"), context)
        return f"{TOKEN_PREFIX}{key.key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, subject: str, event_type: str, field: str, token: str) -> str | None:
        """The value, or None when its key was destroyed (erased). Raises DecryptError otherwise."""
        return self.decrypt_many([(subject, event_type, field, token)])[0]

    def decrypt_many(self, items: Iterable[tuple[str, str, str, str]]) -> list[str | None]:
        items = list(items)
        parsed = [_parse(token) for _, _, _, token in items]
        keys = self._keys_by_id({key_id for key_id, _ in parsed})
        out: list[str | None] = []
        for (subject, event_type, field, _), (key_id, blob) in zip(items, parsed, strict=True):
            key = keys.get(key_id)
            if key is None:
                out.append(None)
                continue
            if key.subject != subject:
                if key.subject is not None or key.subject_hash != self.subject_hash(subject):
                    raise DecryptError(f"token under key {key_id} does not belong to subject {subject!r}")
                key.subject = subject
            aead, context = key.cipher(event_type, field)
            try:
                plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context)
            except InvalidTag:
                raise DecryptError(
                    f"token under key {key_id} was not made for this subject, event type {event_type!r} "
                    f"and field {field!r}, or was altered"
                ) from None
            out.append(plain.decode("utf-8"))
        return out

    def _keys_by_id(self, key_ids: set[str]) -> dict[str, _Key | None]:
        """Live keys by id; None for destroyed ones. Raises DecryptError for ids the table never had."""
        now = time.monotonic()
        out: dict[str, _Key | None] = {}
        stale: list[str] = []
        for key_id in key_ids:
            if key_id in self._destroyed:
                out[key_id] = None
                continue
            key = self._by_id.get(key_id)
            if key is not None and now - key.checked < self.cache_ttl:
                out[key_id] = key
            else:
                stale.append(key_id)
        if stale:
            rows = self.table.by_key_ids(stale)
            for key_id in stale:
                row = rows.get(key_id)
                if row is None:
                    raise DecryptError(f"no key {key_id} in the vault: the token is not from this installation")
                if row.destroyed:
                    cached = self._by_id.get(key_id)
                    if cached is not None:
                        self._forget_key(cached)
                    else:
                        self._destroyed.add(key_id)
                    out[key_id] = None
                else:
                    out[key_id] = self._remember(row, now)
        return out


def open_vault(config: StoreConfig, *, cache_ttl: float = 0.5) -> Vault:
    """An install's vault: its key table, its KEKs (config.key_path), under its master key.

    Refuses a master key that does not open the install's current KEK (or, in an older key table,
    its keys): a master key file not found where it was (and so made anew) must not pass silently.
    """
    vault = Vault(open_key_table(config), load_master_key(config), cache_ttl=cache_ttl)
    try:
        vault.check_master_key()
    except RuntimeError as error:
        vault.table.close()
        raise RuntimeError(
            f"{error}: is the master key where it was? ({MASTER_KEY_ENV}, or {config.master_key_path})"
        ) from None
    return vault


def _parse(token: str) -> tuple[str, bytes]:
    if not is_token(token):
        raise DecryptError(f"not a vault token (expected {TOKEN_PREFIX}<key id>:<data>)")
    key_id, data = token[len(TOKEN_PREFIX) :].split(":", 1)
    try:
        blob = _b64decode(data)
    except (binascii.Error, ValueError):
        raise DecryptError("vault token data is not base64url") from None
    if not key_id or len(blob) < NONCE_BYTES + 16:
        raise DecryptError("vault token is truncated")
    return key_id, blob


# Blind indexes ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _blind_index_key(master_key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, None, b"blind-index").derive(master_key)


def normalise(kind: str, value: str) -> str:
    """The form two spellings of one identifier share: emails lower-case, phones without
    punctuation, everything stripped of surrounding space."""
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return "".join(c for c in value if c.isdigit() or c == "+")
    return value


def blind_index(master_key: bytes, kind: str, value: str) -> str:
    """A keyed hash of an identifier, to find its subject without storing the value in clear."""
    message = kind.encode("utf-8") + b"\x00" + normalise(kind, value).encode("utf-8")
    return hmac.new(_blind_index_key(master_key), message, hashlib.sha256).hexdigest()


# Write keys -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _write_key_key(master_key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_BYTES, None, b"write-key").derive(master_key)


def write_key_hash(master_key: bytes, write_key: str) -> str:
    """A keyed hash of a source's write key: what the collector stores and looks sources up by."""
    return hmac.new(_write_key_key(master_key), write_key.encode("utf-8"), hashlib.sha256).hexdigest()
