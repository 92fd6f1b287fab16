"""Where each service's decision chain had got to, kept outside its event store.

A hash chain shows a record edited or removed from its middle, but not its newest records
removed: the chain is simply shorter. So after each commit the service writes its chain head
(sequence and hash) to a small file in its state directory, outside its store; `cdp audit
verify` compares the store's chain with it, and a service that starts behind its witness
continues the chain from the witness, so the gap stays visible in the log itself.

Where the service has a signing key (cdp.platform.heads) the head is signed: someone who edits
the store and recomputes the chain cannot write a witness that verifies.

The witness is evidence, not part of a commit: a witness that cannot be written (a read-only
or full disk) is logged, and the next commit writes the head again; the commit stands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_failing: set[Path] = set()  # witnesses whose last write failed


def witness_path(state_dir: str | Path, service: str) -> Path:
    return Path(state_dir) / "witness" / f"{service}.json"


def read_head(path: Path) -> tuple[int, str] | None:
    head = read_witness(path)
    return (int(head["sequence"]), str(head["hash"])) if head is not None else None


def read_witness(path: Path, attempts: int = 5) -> dict[str, Any] | None:
    """The witness as written: sequence and hash, and when signed: signed_at, key_id, signature.
    None when there is none or it does not parse after a few reads (a read may meet a write)."""
    head: Any = None
    for attempt in range(attempts):
        try:
            head = json.loads(path.read_bytes())
            int(head["sequence"]), str(head["hash"])
            if not isinstance(head, dict):
                return None
            if "check" not in head or head["check"] == _check({k: v for k, v in head.items() if k != "check"}):
                return head
            # Parts of two heads (a read during a write: consecutive heads are the same length).
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            head = None
        if attempt + 1 < attempts:
            time.sleep(0.01)
    return head if isinstance(head, dict) else None  # never agreeing with its check: its signature tells


def _check(fields: dict[str, Any]) -> str:
    """A digest of a head's fields as written, for a reader to see it read one whole (not a seal:
    the signature is that)."""
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


SIZE = 1024  # a witness's bytes: its JSON padded with spaces, so each write covers the last one


def write_head(path: Path, sequence: int, hash: str, signed: dict[str, Any] | None = None) -> None:
    """Overwrite the witness in place, in one write of SIZE bytes. Each commit writes one: a new
    file renamed over the old one (about 250 µs on a disk that discards freed blocks) was most of
    a small commit's wall time, and a write in place costs a few µs. A reader that meets a write
    under way (a head that does not agree with its check) reads again (read_witness)."""
    fields = {**(signed or {}), "sequence": sequence, "hash": hash}
    text = json.dumps({**fields, "check": _check(fields)}).encode()
    if len(text) >= SIZE:
        raise ValueError(f"witness: a head of {len(text)} bytes does not fit in {SIZE}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, text.ljust(SIZE - 1) + b"\n", 0)
        if os.fstat(fd).st_size > SIZE:  # written otherwise before
            os.ftruncate(fd, SIZE)
    finally:
        os.close(fd)


def witness_head(path: Path, sequence: int, hash: str, signed: dict[str, Any] | None = None) -> bool:
    """Write the head (signed: the signed head's fields), never raising: a failure is logged when
    it starts (not once per commit) and when writing works again. Returns whether the witness
    holds this head."""
    try:
        write_head(path, sequence, hash, signed)
    except Exception as error:  # OSError mostly; nothing here may break the commit
        if path not in _failing:
            _failing.add(path)
            log.error("decision-log witness %s not written (retried on each commit): %s", path, error)
        return False
    if path in _failing:
        _failing.discard(path)
        log.info("decision-log witness %s written again, at #%d", path, sequence)
    return True


def behind(path: Path) -> bool:
    """Whether the witness's last write failed (so it may hold an older head)."""
    return path in _failing


def read_heads(state_dir: str | Path) -> dict[str, tuple[int, str]]:
    heads = {}
    for path in sorted((Path(state_dir) / "witness").glob("*.json")):
        head = read_head(path)
        if head is not None:
            heads[path.stem] = head
    return heads


def read_witnesses(state_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Every service's witness as written (service -> its fields; see read_witness)."""
    found = {}
    for path in sorted((Path(state_dir) / "witness").glob("*.json")):
        head = read_witness(path)
        if head is not None:
            found[path.stem] = head
    return found
