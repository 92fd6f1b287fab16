"""`cdp import`: rows of a CSV file from another system (a CRM, a shop) as identify calls.

Each row becomes a Segment identify call carrying the row's id in that system as an external id
(context.externalIds, type "<source>_id") and the mapped traits, sent through the collector like
any other call (`cdp send`'s path). Its anonymousId and messageId are derived from the row, so
importing the same file again stores nothing new: the collector keeps one event per messageId.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cdp.api.common.v1 import event_pb2
from cdp.cli.client import connect, default_write_key
from cdp.cli.send import ingest_all
from cdp.collector.segment_json import MalformedCall, to_event

# The namespace of the anonymousIds and messageIds an import derives (uuid5).
IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cdp:import")
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
TRAIT_PART = re.compile(r"[^.\s]+")
IMPORT_BATCH = 500  # rows a batch (the collector takes up to 2,500 calls and 500 KB a batch)


def anonymous_id(source: str, row_id: str) -> str:
    """The anonymousId of a row without a user id: the same for the same (source, id)."""
    return str(uuid.uuid5(IMPORT_NAMESPACE, json.dumps(["anonymousId", source, row_id])))


def message_id(source: str, row_id: str, cells: list[str]) -> str:
    """The same for the same (source, id, row content): a row imported again is a duplicate."""
    return str(uuid.uuid5(IMPORT_NAMESPACE, json.dumps(["messageId", source, row_id, cells])))


def parse_maps(maps: tuple[str, ...]) -> list[tuple[list[str], str]]:
    """--map trait=column, in order, as (trait path, column); a dotted trait nests."""
    parsed: list[tuple[list[str], str]] = []
    for text in maps:
        trait, sep, column = text.partition("=")
        path = trait.strip().split(".")
        if not sep or not column or not all(TRAIT_PART.fullmatch(p) for p in path):
            raise click.BadParameter(f"{text!r}: expected TRAIT=COLUMN, e.g. address.city=suburb", param_hint="--map")
        for other, _ in parsed:
            shorter, longer = sorted((path, other), key=len)
            if longer[: len(shorter)] == shorter:
                raise click.BadParameter(
                    f"trait {'.'.join(path)!r} clashes with {'.'.join(other)!r}: one would hold the other",
                    param_hint="--map",
                )
        parsed.append((path, column))
    return parsed


def nested(values: list[tuple[list[str], str]]) -> dict[str, Any]:
    """Traits from (path, value) pairs: ["address", "city"] is traits.address.city."""
    traits: dict[str, Any] = {}
    for path, value in values:
        holder = traits
        for part in path[:-1]:
            holder = holder.setdefault(part, {})
        holder[path[-1]] = value
    return traits


class Rows:
    """The calls of a CSV file, one per good row, labelled by the line the row starts on; a row
    skipped is said on stderr and counted by reason."""

    def __init__(
        self,
        path: Path,
        source: str,
        id_column: str,
        maps: list[tuple[list[str], str]],
        user_id_column: str | None,
    ):
        self.path, self.source, self.id_column, self.maps = path, source, id_column, maps
        self.user_id_column = user_id_column
        self.skipped: dict[str, int] = {}
        self.read = 0  # records read so far, good or not
        with self._open() as file:
            header = next(csv.reader(file), None)
        if not header:
            raise click.ClickException(f"{path}: empty, no header row")
        self.header = [h.strip() for h in header]
        named = [("--id-column", id_column)] + [("--map", column) for _, column in maps]
        if user_id_column:
            named.append(("--user-id-column", user_id_column))
        for option, column in named:
            if column not in self.header:
                raise click.ClickException(
                    f"{path}: no column {column!r} (named by {option}); its columns: {', '.join(self.header)}"
                )

    def _open(self):
        # utf-8-sig: a spreadsheet's byte order mark is not part of the first column's name.
        return self.path.open(newline="", encoding="utf-8-sig")

    def count(self) -> int:
        """How many records follow the header (a quoted cell may span lines)."""
        with self._open() as file:
            return max(0, sum(1 for _ in csv.reader(file)) - 1)

    def _skip(self, line: int, reason: str, why: str) -> None:
        click.echo(f"line {line}: skipped: {why}", err=True)
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def __iter__(self) -> Iterator[tuple[str, event_pb2.Event]]:
        column = {name: index for index, name in enumerate(self.header)}
        with self._open() as file:
            reader = csv.reader(file)
            next(reader)
            while True:
                line = reader.line_num + 1  # where the record starts
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    self.read += 1
                    self._skip(line, "malformed", f"not CSV: {error}")
                    continue
                self.read += 1
                if not any(c.strip() for c in cells):
                    continue  # a blank line is no row
                if len(cells) != len(self.header):
                    self._skip(line, "malformed", f"{len(cells)} cell(s), the header has {len(self.header)}")
                    continue
                row_id = cells[column[self.id_column]].strip()
                if not row_id:
                    self._skip(line, "empty id", f"empty {self.id_column!r}")
                    continue
                call: dict[str, Any] = {
                    "type": "identify",
                    "messageId": message_id(self.source, row_id, cells),
                    "context": {
                        "externalIds": [
                            {"id": row_id, "type": f"{self.source}_id", "collection": "users", "encoding": "none"}
                        ]
                    },
                }
                user_id = cells[column[self.user_id_column]].strip() if self.user_id_column else ""
                if user_id:
                    call["userId"] = user_id
                else:
                    call["anonymousId"] = anonymous_id(self.source, row_id)
                traits = nested([(path, cells[column[c]].strip()) for path, c in self.maps if cells[column[c]].strip()])
                if traits:
                    call["traits"] = traits
                try:
                    event = to_event(call)
                except MalformedCall as error:
                    self._skip(line, "malformed", str(error))
                    continue
                yield f"line {line}", event


@click.command("import")
@click.argument("path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, help="The system the rows come from: ids become external ids <source>_id.")
@click.option("--id-column", required=True, help="The column holding each row's id in that system.")
@click.option("--map", "maps", multiple=True, metavar="TRAIT=COLUMN", help="A trait from a column (dotted: nested).")
@click.option("--user-id-column", default=None, help="A column holding the userId (default: one derived from the id).")
@click.option("--write-key", default=default_write_key, show_default="the key `cdp up` saved", envvar="CDP_WRITE_KEY")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_csv(path, source, id_column, maps, user_id_column, write_key, quiet):
    """Import FILE.csv as identify calls: one per row, with the row's id as an external id and
    the mapped traits (empty cells left out).

    Each call's anonymousId (unless --user-id-column gives a userId) and messageId are derived
    from the row, so importing the same file again is deduplicated by the collector. Rows are sent
    in batches; a bad row is said by its line number and skipped.
    """
    if not SOURCE_NAME.fullmatch(source):
        raise click.BadParameter("lower-case letters, digits and '_', starting with a letter", param_hint="--source")
    if not write_key:
        raise click.UsageError("no write key: run `cdp up` first or pass --write-key")
    rows = Rows(path, source, id_column, parse_maps(maps), user_id_column)
    started = time.monotonic()
    collector = connect().collector
    if quiet:
        totals = ingest_all(collector, write_key, rows, size=IMPORT_BATCH)
    else:
        with click.progressbar(length=rows.count(), label="importing", file=sys.stderr) as bar:
            totals = ingest_all(collector, write_key, rows, lambda _: bar.update(rows.read - bar.pos), IMPORT_BATCH)
    sent = sum(totals.values())
    skipped = sum(rows.skipped.values())
    why = f" ({', '.join(f'{n} {reason}' for reason, n in sorted(rows.skipped.items()))})" if skipped else ""
    click.echo(
        f"sent {sent} row(s): {totals['accepted']} accepted, {totals['duplicates']} duplicates, "
        f"{totals['rejected']} rejected; skipped {skipped} row(s){why}; in {time.monotonic() - started:.1f} s"
    )
    if totals["rejected"]:
        raise SystemExit(1)
