"""`cdp anomalies`: hours in which an event's volume left its usual band."""

from __future__ import annotations

import json

import click
from google.protobuf import json_format

from cdp.cli.client import call, connect


@click.command()
@click.option("--source", "source_name", default="", help="One source (default: all).")
@click.option("--since", default="", help="RFC 3339 time (default: 7 days before --until).")
@click.option("--until", default="", help="RFC 3339 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def anomalies(source_name: str, since: str, until: str, as_json: bool) -> None:
    """Volume drops and spikes per source and event, against the same hour of the days before."""
    found = call(connect().quality.list_anomalies, source_name, since, until)
    for a in found:
        d = a.detected
        if as_json:
            click.echo(json.dumps(json_format.MessageToDict(a)))
            continue
        click.echo(
            f"{d.hour}  {a.source_name} {d.event or d.event_type!r}  {d.kind}: {d.observed} calls, usually "
            f"{d.baseline:g} (band {d.low:g}..{d.high:g} over {d.days} days)"
        )
    if not as_json:
        click.echo(f"{len(found)} anomalies")
