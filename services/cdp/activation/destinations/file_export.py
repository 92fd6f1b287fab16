"""File exports: one JSONL or CSV file per send(), beside a JSON manifest (file name, row count,
sha256, first and last delivery id, the delivery ids, written_at).

Both are written atomically (a temporary file in the same directory, fsync, rename, fsync of the
directory), the data file first: a manifest is the proof its file is complete. The manifests are
the index of what was exported: a message whose delivery id a manifest already lists is not
written again, so a re-sent batch writes no second copy. A file's name comes from the delivery ids
it holds, so a retry after a crash between the two renames rewrites the same file.

Files go under `directory` (the export directory the operator allowed), in the sub-folder `path`;
`path` cannot climb out of it.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp.activation.destinations import fields
from cdp.activation.destinations.port import Message, Outcome

KIND = "file"
SECRET_FIELDS: tuple[str, ...] = ()
FIELDS = ("directory", "path", "format", "prefix")
FORMATS = ("jsonl", "csv")
MANIFEST = ".manifest.json"
FIXED_COLUMNS = ("delivery_id", "action", "person_key", "timestamp")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_config(config: Mapping[str, Any]) -> None:
    fields.only(config, FIELDS, KIND)
    export_dir(config)
    fields.choice(config, "format", FORMATS, "jsonl")
    prefix = fields.text(config, "prefix", "export", max_len=64)
    if not prefix or not all(c.isalnum() or c in "-_" for c in prefix):
        raise fields.invalid("prefix", "must be letters, digits, - or _")


def export_dir(config: Mapping[str, Any]) -> Path:
    """The folder files go to: `path` under `directory`, never outside it (symbolic links resolved)."""
    directory = fields.required_text(config, "directory")
    root = Path(directory)
    if not root.is_absolute():
        raise fields.invalid("directory", "must be an absolute path")
    if not root.is_dir():
        raise fields.invalid("directory", "must be an existing directory")
    sub = fields.text(config, "path", "")
    if Path(sub).is_absolute() or "\x00" in sub:
        raise fields.invalid("path", "must be a relative path inside config.directory")
    real_root = root.resolve()
    target = (real_root / sub).resolve()
    if not target.is_relative_to(real_root):
        raise fields.invalid("path", "must stay inside config.directory")
    return target


class FileExportDestination:
    kind = KIND

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any], local: bool = False):
        merged = {**config, **secrets}
        check_config(merged)
        self.local = local  # a file is written here: there is no address to guard
        self.folder = export_dir(merged)
        self.format = fields.choice(merged, "format", FORMATS, "jsonl")
        self.prefix = fields.text(merged, "prefix", "export")
        self._exported: set[str] | None = None
        self._lock = asyncio.Lock()  # one send() at a time reads and extends the index

    def _index(self) -> set[str]:
        """Every delivery id a manifest in the folder lists (read once, then kept up to date)."""
        if self._exported is None:
            exported: set[str] = set()
            for path in self.folder.glob(f"{self.prefix}-*{MANIFEST}"):
                try:
                    exported.update(json.loads(path.read_text(encoding="utf-8"))["delivery_ids"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # not one of ours; its file is not counted as exported
            self._exported = exported
        return self._exported

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        started = time.perf_counter()
        try:
            async with self._lock:
                written = await asyncio.to_thread(self._write, messages)
        except OSError as failure:
            error = f"{type(failure).__name__}: {failure.strerror or failure}"[:300]
            return [Outcome(False, error=error, latency_ms=_ms(started)) for _ in messages]
        ms = _ms(started)
        return [Outcome(True, latency_ms=ms, extra={"file": name, "duplicate": name is None}) for name in written]

    def _write(self, messages: Sequence[Message]) -> list[str | None]:
        """The file each message went to (None: an earlier file holds it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        exported = self._index()
        fresh: dict[str, Message] = {}
        for m in messages:
            if m.delivery_id not in exported:
                fresh.setdefault(m.delivery_id, m)
        if not fresh:
            return [None] * len(messages)
        rows = list(fresh.values())
        ids = [m.delivery_id for m in rows]
        name = f"{self.prefix}-{hashlib.sha256(chr(10).join(ids).encode()).hexdigest()[:24]}.{self.format}"
        data = self._render(rows)
        _write_atomically(self.folder / name, data)
        manifest = {
            "file": name,
            "format": self.format,
            "rows": len(rows),
            "sha256": hashlib.sha256(data).hexdigest(),
            "first_delivery_id": ids[0],
            "last_delivery_id": ids[-1],
            "delivery_ids": ids,
            "written_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        _write_atomically(self.folder / f"{name.rsplit('.', 1)[0]}{MANIFEST}", json.dumps(manifest, indent=1).encode())
        exported.update(ids)
        written = set(ids)
        placed: list[str | None] = []
        for m in messages:
            placed.append(name if m.delivery_id in written else None)
            written.discard(m.delivery_id)  # a second copy of an id in the same batch is a duplicate
        return placed

    def _render(self, rows: list[Message]) -> bytes:
        if self.format == "jsonl":
            lines = (
                json.dumps(
                    {**{c: getattr(m, c) for c in FIXED_COLUMNS}, "record": m.record}, ensure_ascii=False, default=str
                )
                for m in rows
            )
            return "".join(line + "\n" for line in lines).encode("utf-8")
        columns = sorted({name for m in rows for name in m.record} - set(FIXED_COLUMNS))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*FIXED_COLUMNS, *columns])
        for m in rows:
            values = [getattr(m, c) for c in FIXED_COLUMNS] + [_cell(m.record.get(c)) for c in columns]
            writer.writerow(values)
        return out.getvalue().encode("utf-8")

    async def close(self) -> None:
        return None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A spreadsheet runs a text cell that starts like a formula: a leading ' keeps it text.
        return "'" + value if value.startswith(FORMULA_START) else value
    return json.dumps(value, ensure_ascii=False, default=str)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
