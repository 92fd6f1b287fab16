"""The top of the key hierarchy: the master key, and the key-encryption keys (KEKs) it protects.

    master key (a file outside the data directory, or CDP_MASTER_KEY; a KMS in production)
      -> key-encryption keys, numbered versions, each a file wrapped under the master key
         -> subject data keys, wrapped under one KEK version, in the vault's key table
            -> HKDF field subkeys

Neither the master key nor a KEK is ever in a database, so a copy of a database, its WAL or a
backup decrypts nothing on its own. Rotation (cdp.platform.rotation) re-wraps every live data key
under a new KEK and destroys the old one: a copy of the key table made before, with a forgotten
person's wrapped key still in it, is then useless even with the master key.

KeyStore is the interface a KMS would implement (wrap and unwrap under a named key version,
create and destroy versions); FileKeyStore keeps the KEKs in a key directory:

    <key dir>/                 0700, outside the data directory (default: <data dir>-keys)
      master.key               0600, 32 random bytes (unless CDP_MASTER_KEY or --master-key-file)
      kek/<version>.kek        0600, the KEK sealed with AES-GCM under a subkey of the master key
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from cdp.platform.config import MASTER_KEY_FILE, StoreConfig

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_ENV = "CDP_MASTER_KEY"
KEK_DIR = "kek"
KEK_SUFFIX = ".kek"
RECHECK_S = 1.0  # a cached KEK is checked against its file at most this often (a rotation destroys it)


class KeyStoreError(RuntimeError):
    """The key store cannot do what was asked (a version missing, a read-only directory)."""


class KekGone(KeyStoreError):
    """The KEK version asked for does not exist (never made, or destroyed by a rotation)."""


class KeyStore(Protocol):
    """Key-encryption keys by version: what the vault needs of a file directory or a KMS."""

    def versions(self) -> list[int]:
        """The versions that exist, ascending."""
        ...

    def create(self, version: int) -> None:
        """Make a new random KEK under this version; an existing version is left as it is."""
        ...

    def wrap(self, version: int, key: bytes) -> bytes:
        """A data key wrapped under the KEK of this version (raises KekGone if there is none)."""
        ...

    def unwrap(self, version: int, wrapped: bytes) -> bytes:
        """The data key (raises KekGone if the version is gone, KeyStoreError if it does not unwrap)."""
        ...

    def destroy(self, version: int) -> None:
        """Destroy the KEK of this version, for good."""
        ...


# The master key ---------------------------------------------------------------------------------


def load_master_key(config: StoreConfig) -> bytes:
    """CDP_MASTER_KEY (base64 of 32 bytes) if set, else the master key file (config.master_key_path,
    by default <key dir>/master.key), made 0600 on first use.

    An install that kept master.key in its data directory (older versions did) has it moved to
    the key directory the first time, so its data keys still unwrap.
    """
    encoded = os.environ.get(MASTER_KEY_ENV, "").strip()
    if encoded:
        return _decode_master_key(encoded)
    path = config.master_key_path
    if not path.exists():
        private_directory(path.parent)
        with locked(path.parent / ".master.lock"):
            if not path.exists():
                legacy = config.data_dir / MASTER_KEY_FILE
                if legacy.exists() and legacy.resolve() != path.resolve():
                    create_exclusive(path, legacy.read_bytes())
                    try:
                        shred(legacy)
                        log.warning("moved %s out of the data directory to %s", legacy, path)
                    except OSError as error:
                        log.warning("copied %s to %s, but could not remove it (%s)", legacy, path, error)
                else:
                    create_exclusive(path, secrets.token_bytes(KEY_BYTES))
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a master key is {KEY_BYTES} bytes, this file has {len(key)}")
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by group or others; it should be 0600", path)
    return key


def _decode_master_key(encoded: str) -> bytes:
    try:
        # Standard or URL-safe alphabet, padded or not.
        standard = encoded.replace("-", "+").replace("_", "/").rstrip("=")
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"{MASTER_KEY_ENV}: not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{MASTER_KEY_ENV}: must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


# Files ------------------------------------------------------------------------------------------


def private_directory(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a read-only mount: its mode is the mount's
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)


def create_exclusive(path: Path, content: bytes) -> bool:
    """Write a new 0600 file whole, or not at all if it exists: returns whether this call made it.

    Written to a private temporary file, then linked into place: link() never replaces, so of two
    processes creating it at once one wins and nobody ever reads half a file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        _fsync_directory(path.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def shred(path: Path) -> None:
    """Overwrite a small file with random bytes, unlink it, and make both durable.

    On a journaling or copy-on-write filesystem (or an SSD) old blocks may survive an overwrite;
    that is why a KEK is itself wrapped under the master key, so a surviving block is useless
    without it.
    """
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.write(secrets.token_bytes(size))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a file (released when the process dies)."""
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# Key-encryption keys in files -------------------------------------------------------------------


class FileKeyStore:
    """KEKs as files in <key dir>/kek/, each sealed under a subkey of the master key, with its
    version as associated data (a file renamed to another version does not open)."""

    def __init__(self, key_dir: str | Path, master_key: bytes):
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"key store: the master key must be {KEY_BYTES} bytes")
        self.directory = Path(key_dir) / KEK_DIR
        self._seal = AESGCM(HKDF(hashes.SHA256(), KEY_BYTES, None, b"cdp/kek/v1 seal").derive(master_key))
        self._keks: dict[int, tuple[bytes, float]] = {}  # version -> (KEK, monotonic time checked)

    def path(self, version: int) -> Path:
        return self.directory / f"{version:08d}{KEK_SUFFIX}"

    def versions(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        found = []
        for entry in self.directory.iterdir():
            stem, suffix = entry.name[: -len(KEK_SUFFIX)], entry.name[-len(KEK_SUFFIX) :]
            if suffix == KEK_SUFFIX and stem.isdigit():
                found.append(int(stem))
        return sorted(found)

    def create(self, version: int) -> None:
        try:
            private_directory(self.directory.parent)  # the key directory
            private_directory(self.directory)
            nonce = os.urandom(NONCE_BYTES)
            sealed = self._seal.encrypt(nonce, secrets.token_bytes(KEY_BYTES), _aad(version))
            create_exclusive(self.path(version), nonce + sealed)
        except OSError as error:
            if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise KeyStoreError(
                    f"cannot create key-encryption key {version} in {self.directory} ({error.strerror}): "
                    "the process that rotates keys (identity, or `cdp keys rotate`) needs write access there"
                ) from None
            raise

    def wrap(self, version: int, key: bytes) -> bytes:
        return aes_key_wrap(self._kek(version), key)

    def unwrap(self, version: int, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._kek(version), wrapped)
        except InvalidUnwrap:
            raise KeyStoreError(f"a data key does not unwrap under key-encryption key {version}") from None

    def destroy(self, version: int) -> None:
        self._keks.pop(version, None)
        shred(self.path(version))

    def _kek(self, version: int) -> bytes:
        now = time.monotonic()
        cached = self._keks.get(version)
        if cached is not None and now - cached[1] < RECHECK_S:
            return cached[0]
        path = self.path(version)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            self._keks.pop(version, None)  # destroyed by a rotation: forget it here too
            raise KekGone(f"no key-encryption key {version} in {self.directory}") from None
        if cached is not None:
            self._keks[version] = (cached[0], now)
            return cached[0]
        try:
            kek = self._seal.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(version))
        except InvalidTag:
            raise KeyStoreError(
                f"{path} does not open: wrong master key (or another install's key directory)?"
            ) from None
        self._keks[version] = (kek, now)
        return kek


def _aad(version: int) -> bytes:
    return b"cdp/kek/v1\x00" + version.to_bytes(8, "big")
