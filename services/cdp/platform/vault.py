"""Crypto-shredding: personal data encrypted per data subject, forgotten by destroying the key.

Each subject (an identifier such as "user_id:u1") gets a random 256-bit data key, kept only
wrapped (AES key wrap, RFC 3394) under the master key, in a mutable key table that lives outside
every event store. A field is encrypted with AES-GCM under an HKDF subkey of the data key, with the
subject, event type and field name as associated data, so a token decrypts only where it was made.
Destroying a key leaves a tombstone with no key material and no subject: every token made under it
reads as erased (None) for ever, and the subject's next event gets a new key.

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
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from cdp.platform.config import StoreConfig
from cdp.platform.store import ensure_schema

log = logging.getLogger(__name__)

TOKEN_PREFIX = "pii:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_FILE = "master.key"
MASTER_KEY_ENV = "CDP_MASTER_KEY"
_CHUNK = 500  # subjects per IN (...) clause: well under SQLite's and psycopg's parameter limits


class DecryptError(ValueError):
    """A token that cannot be read for a reason other than erasure (malformed, unknown key,
    another subject, event type or field, or tampered)."""


# The master key ---------------------------------------------------------------------------------


def load_master_key(data_dir: str | Path) -> bytes:
    """CDP_MASTER_KEY (base64 of 32 bytes) if set, else <data_dir>/master.key, made 0600 on first use."""
    encoded = os.environ.get(MASTER_KEY_ENV, "").strip()
    if encoded:
        try:
            # Standard or URL-safe alphabet, padded or not.
            standard = encoded.replace("-", "+").replace("_", "/").rstrip("=")
            key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except binascii.Error:
            raise ValueError(f"{MASTER_KEY_ENV}: not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"{MASTER_KEY_ENV}: must decode to {KEY_BYTES} bytes, got {len(key)}")
        return key
    path = Path(data_dir) / MASTER_KEY_FILE
    if not path.exists():
        _create_exclusive(path, secrets.token_bytes(KEY_BYTES))
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a master key is {KEY_BYTES} bytes, this file has {len(key)}")
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by group or others; it should be 0600", path)
    return key


def _create_exclusive(path: Path, content: bytes) -> None:
    # Written whole to a private temporary file, then linked into place: link() never replaces, so
    # of two processes starting at once one key wins and nobody ever reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# The key table ----------------------------------------------------------------------------------

metadata = sa.MetaData()

# An active key has its subject and wrapped key; a destroyed one keeps only its id (a tombstone), so
# its tokens read as erased rather than unknown. Subjects are unique among active keys: UNIQUE
# ignores the tombstones' NULLs on both SQLite and PostgreSQL, so two processes creating the same
# subject's key at once end with one key.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.Text, nullable=True, unique=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("destroyed", sa.Boolean, nullable=False, default=False),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    subject: str | None
    wrapped_key: bytes | None
    destroyed: bool


class KeyTable:
    """The mutable table of wrapped data keys."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        _retry_racing_creators(lambda: metadata.create_all(engine))

    def _insert(self) -> Callable[[sa.Table], Any]:
        if self.sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert

    def get_or_create(self, subjects: Sequence[str], new_wrapped_key: Callable[[], bytes]) -> dict[str, KeyRow]:
        """Every subject's active key, creating the missing ones, in one transaction.

        A concurrent creator's row wins over ours (ON CONFLICT DO NOTHING, then read again), so every
        caller gets the same key for a subject.
        """
        insert = self._insert()
        with self.engine.begin() as conn:
            found = self._select_active(conn, subjects)
            for _ in range(3):  # a second round only if a random key id collided
                # In one order for every creator: PostgreSQL would otherwise deadlock two creators
                # that each wait on the other's uncommitted subject.
                missing = sorted(s for s in set(subjects) if s not in found)
                if not missing:
                    return found
                now = datetime.now(UTC)
                rows = [
                    {
                        "key_id": new_key_id(),
                        "subject": s,
                        "wrapped_key": new_wrapped_key(),
                        "created_at": now,
                        "destroyed": False,
                    }
                    for s in missing
                ]
                for i in range(0, len(rows), _CHUNK):
                    conn.execute(insert(data_keys).on_conflict_do_nothing(), rows[i : i + _CHUNK])
                found.update(self._select_active(conn, missing))
            if any(s not in found for s in subjects):
                raise RuntimeError("vault: could not create data keys")
        return found

    def by_key_ids(self, key_ids: Sequence[str]) -> dict[str, KeyRow]:
        """Rows (active or tombstones) by key id; unknown ids are absent."""
        out: dict[str, KeyRow] = {}
        cols = (data_keys.c.key_id, data_keys.c.subject, data_keys.c.wrapped_key, data_keys.c.destroyed)
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(key_ids))):
                for row in conn.execute(sa.select(*cols).where(data_keys.c.key_id.in_(chunk))):
                    out[row.key_id] = KeyRow(row.key_id, row.subject, row.wrapped_key, bool(row.destroyed))
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
                    .values(subject=None, wrapped_key=None, destroyed=True, destroyed_at=now)
                )
                destroyed += result.rowcount
        if destroyed:
            self.scrub()
        return destroyed

    def scrub(self) -> None:
        """Leave no copy of deleted key material in the files.

        secure_delete zeroes what a change frees in the database file; old page images also sit in
        the WAL until it is checkpointed and truncated. On PostgreSQL the old row versions stay in
        dead tuples and WAL segments until vacuum and recycling: a wrapped key there is useless
        without the master key, but is not zeroed at once.
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

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _select_active(conn: sa.Connection, subjects: Sequence[str]) -> dict[str, KeyRow]:
        out: dict[str, KeyRow] = {}
        cols = (data_keys.c.key_id, data_keys.c.subject, data_keys.c.wrapped_key)
        for chunk in _chunks(list(dict.fromkeys(subjects))):
            for row in conn.execute(sa.select(*cols).where(data_keys.c.subject.in_(chunk))):
                out[row.subject] = KeyRow(row.key_id, row.subject, row.wrapped_key, False)
        return out


def open_key_table(config: StoreConfig) -> KeyTable:
    """The key table: <data_dir>/vault.sqlite (WAL, secure_delete) or PostgreSQL schema <prefix>vault."""
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

        return KeyTable(engine)
    if config.kind == "postgres":
        schema = f"{config.schema_prefix}vault"
        _retry_racing_creators(lambda: ensure_schema(config.postgres_dsn, schema))
        url = config.postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        return KeyTable(engine)
    raise ValueError(f"vault: unknown store kind {config.kind!r} (sqlite or postgres)")


def _retry_racing_creators(create: Callable[[], None]) -> None:
    # Services start together and each opens the vault: IF NOT EXISTS is no guard against another
    # creator between the check and the CREATE, but a second attempt finds the tables there.
    import psycopg

    for attempt in range(5):
        try:
            return create()
        except (sa.exc.DBAPIError, psycopg.Error):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def new_key_id() -> str:
    return secrets.token_hex(8)


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

    __slots__ = ("checked", "ciphers", "key_id", "secret", "subject")

    def __init__(self, key_id: str, subject: str, secret: bytes, checked: float):
        self.key_id = key_id
        self.subject = subject
        self.secret = secret
        self.checked = checked  # monotonic time the table last said this key was active
        self.ciphers: dict[tuple[str, str], tuple[AESGCM, bytes]] = {}

    def cipher(self, event_type: str, field: str) -> tuple[AESGCM, bytes]:
        entry = self.ciphers.get((event_type, field))
        if entry is None:
            context = _context(self.subject, event_type, field)
            subkey = HKDF(hashes.SHA256(), KEY_BYTES, None, b"cdp/pii/v1 field key\x00" + context).derive(self.secret)
            entry = self.ciphers[(event_type, field)] = (AESGCM(subkey), context)
        return entry


def is_token(value: object) -> TypeGuard[str]:
    """Whether value looks like a token this vault makes (cheap; does not decrypt)."""
    return isinstance(value, str) and value.startswith(TOKEN_PREFIX) and value.count(":") == 3


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Vault:
    def __init__(self, table: KeyTable, master_key: bytes, *, cache_ttl: float = 0.5, max_cached_keys: int = 50_000):
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"vault: the master key must be {KEY_BYTES} bytes")
        self.table = table
        self.cache_ttl = cache_ttl
        self.max_cached_keys = max_cached_keys
        self._master = master_key
        self._by_subject: dict[str, _Key] = {}
        self._by_id: dict[str, _Key] = {}
        self._destroyed: set[str] = set()  # key ids: a destroyed key never comes back

    def write_key_hash(self, write_key: str) -> str:
        return write_key_hash(self._master, write_key)

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
            rows = self.table.get_or_create(stale, self._new_wrapped_key)
            for subject in stale:
                out[subject] = self._remember(rows[subject], now)
        return out

    def _new_wrapped_key(self) -> bytes:
        return aes_key_wrap(self._master, secrets.token_bytes(KEY_BYTES))

    def _remember(self, row: KeyRow, checked: float) -> _Key:
        # `checked` is when the read began, so the TTL never stretches past what the table said.
        subject, wrapped_key = row.subject, row.wrapped_key
        assert subject is not None and wrapped_key is not None  # an active key's row: callers skip tombstones
        key = self._by_id.get(row.key_id)
        if key is None:
            try:
                secret = aes_key_unwrap(self._master, wrapped_key)
            except InvalidUnwrap:
                raise RuntimeError(f"vault: key {row.key_id} does not unwrap: wrong master key?") from None
            if len(self._by_id) >= self.max_cached_keys:
                self._evict()
            key = self._by_id[row.key_id] = _Key(row.key_id, subject, secret, checked)
        key.checked = checked
        previous = self._by_subject.get(subject)
        if previous is not None and previous.key_id != row.key_id:  # destroyed by another process
            self._forget_key(previous)
        self._by_subject[subject] = key
        return key

    def _evict(self) -> None:
        # The oldest quarter goes; they are re-read (and re-checked) when next needed.
        for key_id in list(self._by_id)[: max(1, len(self._by_id) // 4)]:
            key = self._by_id.pop(key_id)
            if self._by_subject.get(key.subject) is key:
                del self._by_subject[key.subject]

    def _forget_key(self, key: _Key) -> None:
        self._by_id.pop(key.key_id, None)
        if self._by_subject.get(key.subject) is key:
            del self._by_subject[key.subject]
        if len(self._destroyed) > 1_000_000:
            self._destroyed.clear()
        self._destroyed.add(key.key_id)

    def destroy(self, subjects: Iterable[str]) -> int:
        """Destroy the subjects' keys: all their tokens read as erased from now on, here at once
        and in other processes within cache_ttl. Returns how many keys were destroyed."""
        subjects = set(subjects)
        count = self.table.destroy(subjects)
        for key in [k for k in self._by_id.values() if k.subject in subjects]:
            self._forget_key(key)
        return count

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
                raise DecryptError(f"token under key {key_id} does not belong to subject {subject!r}")
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
