"""Files the platform writes are for its own user only: directories 0700, files 0600.

Every process (each service and the CLI) sets the umask 0o077 as it starts, so whatever it
creates (SQLite stores and their -wal/-shm files, the vault, keys, certificates, witnesses,
logs, the default write key) has no group or other permission bit. A service starting on a
directory an older version wrote tightens what is already there (private_tree()).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Files and directories this process creates from now on are its user's alone."""
    os.umask(PRIVATE_UMASK)


def private_tree(root: str | Path) -> None:
    """Remove group and other bits from root and everything under it that this user owns.

    Symbolic links are not followed; what cannot be changed (a read-only mount, another
    user's file) is logged, not raised: tightening an old directory never stops a start.
    """
    root = Path(root)
    if not root.is_dir() or root.is_symlink():
        return
    _private(root)
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            _private(Path(directory) / name)


def _private(path: Path) -> None:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid() or not st.st_mode & 0o077:
            return
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)  # not a link: checked just above
    except FileNotFoundError:
        pass  # removed meanwhile (a temporary file, a -shm file at close)
    except OSError as error:
        log.warning("%s: could not make it private (%s)", path, error)


def write_private(path: str | Path, text: str) -> None:
    """Write a small secret file (0600 whatever the umask), whole or not at all."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)  # O_CREAT's mode applies only to a new file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
