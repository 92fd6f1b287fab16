"""`cdp send`: send tracking calls to the collector, from flags or a JSONL file."""

from __future__ import annotations

import json
import uuid

import click

from cdp.api.collector.v1 import collector_pb2
from cdp.api.common.v1 import event_pb2
from cdp.cli.client import call, connect, default_write_key
from cdp.collector.segment_json import MalformedCall, to_event

BATCH = 100


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
                group_id=group_id,
                previous_id=previous_id,
            )
        ]
    collector = connect().collector
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(events), BATCH):
        response = call(collector.ingest, write_key, events[start : start + BATCH])
        for ack in response.acks:
            if ack.status == collector_pb2.ACK_STATUS_REJECTED:
                click.echo(f"event {start + ack.index}: rejected: {ack.field}: {ack.error}", err=True)
        totals["accepted"] += response.accepted
        totals["duplicates"] += response.duplicates
        totals["rejected"] += response.rejected
    click.echo(f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}")
    if totals["rejected"]:
        raise SystemExit(1)
