"""`cdp send`: send tracking calls to the collector, from flags or a JSONL file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator

import click

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.cli.client import connect, default_write_key, said
from cdp.client import CdpError, CollectorClient
from cdp.collector.domain import MAX_BATCH_BYTES
from cdp.collector.segment_json import MalformedCall, to_event

BATCH = 100
# A batch closes before its events add up to the collector's limit, with room for the envelope
# (the write key, each event's tag and length).
BATCH_BYTES = MAX_BATCH_BYTES - 16 * 1024

Labelled = tuple[str, event_pb2.Event]  # an event and how to name it to the user ("event 3", "line 7")


def batches(events: Iterable[Labelled], size: int = BATCH, max_bytes: int = BATCH_BYTES) -> Iterator[list[Labelled]]:
    """The events in batches of at most `size` events and about `max_bytes` bytes (an event over
    that goes alone, for the collector to reject by name)."""
    batch: list[Labelled] = []
    used = 0
    for labelled in events:
        bytes_ = labelled[1].ByteSize()
        if batch and (len(batch) >= size or used + bytes_ > max_bytes):
            yield batch
            batch, used = [], 0
        batch.append(labelled)
        used += bytes_
    if batch:
        yield batch


def ingest_all(
    collector: CollectorClient,
    write_key: str,
    events: Iterable[Labelled],
    sent: Callable[[int], None] | None = None,
    size: int = BATCH,
) -> dict[str, int]:
    """Send the events in batches, each acknowledged before the next is sent; say each rejected
    event by its label (on stderr) and call sent(n) after each batch. A batch the collector did not
    acknowledge stops the sending with an error saying which events were acknowledged and which not.
    Returns the totals: accepted, duplicates, rejected."""
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    acknowledged = 0
    for batch in batches(events, size):
        try:
            response = collector.ingest(write_key, [e for _, e in batch])
        except CdpError as error:
            before = f"the {acknowledged} event(s) before it were acknowledged" if acknowledged else "none was sent"
            raise click.ClickException(
                f"{said(error).message}; the batch of {batch[0][0]} to {batch[-1][0]} was not acknowledged, {before}"
            ) from None
        for ack in response.acks:
            if ack.status == collector_pb2.ACK_STATUS_REJECTED:
                click.echo(f"{batch[ack.index][0]}: rejected: {ack.field}: {ack.error}", err=True)
        totals["accepted"] += response.accepted
        totals["duplicates"] += response.duplicates
        totals["rejected"] += response.rejected
        acknowledged += len(batch)
        if sent is not None:
            sent(len(batch))
    return totals


def _json_object(value: str | None, name: str) -> str:
    if not value:
        return ""
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint=name) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=name)
    return json.dumps(parsed)


@click.command()
@click.option(
    "--type",
    "call_type",
    type=click.Choice(["identify", "track", "page", "screen", "group", "alias"]),
    default="track",
    show_default=True,
)
@click.option("--user-id", default="")
@click.option("--anonymous-id", default="")
@click.option("--event", default="", help="Event name (track).")
@click.option("--name", default="", help="Page or screen name.")
@click.option("--traits", default=None, help="JSON object (identify, group).")
@click.option("--properties", default=None, help="JSON object.")
@click.option("--context", default=None, help="JSON object (campaign, page, device, locale, ...).")
@click.option("--group-id", default="")
@click.option("--previous-id", default="")
@click.option("--message-id", default="", help="Defaults to a new uuid.")
@click.option("--file", "path", type=click.File("r"), default=None, help="JSONL: one Segment-style call per line.")
@click.option("--write-key", default=default_write_key, show_default="the key `cdp up` saved", envvar="CDP_WRITE_KEY")
def send(
    call_type,
    user_id,
    anonymous_id,
    event,
    name,
    traits,
    properties,
    context,
    group_id,
    previous_id,
    message_id,
    path,
    write_key,
):
    """Send one call from flags, or every call in a JSONL file (in batches)."""
    if not write_key:
        raise click.UsageError("no write key: run `cdp up` first or pass --write-key")
    if path is not None:
        events = []
        for number, line in enumerate(path, 1):
            if not line.strip():
                continue
            try:
                parsed = to_event(json.loads(line))
            except (ValueError, MalformedCall) as error:
                raise click.ClickException(f"line {number}: {error}") from None
            if not parsed.message_id:
                parsed.message_id = str(uuid.uuid4())
            events.append(parsed)
    else:
        events = [
            event_pb2.Event(
                type=call_type,
                message_id=message_id or str(uuid.uuid4()),
                user_id=user_id,
                anonymous_id=anonymous_id,
                event=event,
                name=name,
                traits=_json_object(traits, "--traits"),
                properties=_json_object(properties, "--properties"),
                context=_json_object(context, "--context"),
                group_id=group_id,
                previous_id=previous_id,
            )
        ]
    totals = ingest_all(connect().collector, write_key, ((f"event {i}", e) for i, e in enumerate(events)))
    click.echo(f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}")
    if totals["rejected"]:
        raise SystemExit(1)
