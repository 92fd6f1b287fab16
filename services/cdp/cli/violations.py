"""`cdp violations`: tracking plan violations by kind and hour, with masked examples."""

from __future__ import annotations

import json

import click
from google.protobuf import json_format

from cdp.cli.client import call, connect


@click.command()
@click.option("--source", "source_name", default="", help="One source (default: all).")
@click.option("--since", default="", help="RFC 3339 time (default: 24 hours before --until).")
@click.option("--until", default="", help="RFC 3339 time (default: now).")
@click.option("--examples", default=3, show_default=True, help="Examples shown per kind (at most 5).")
@click.option("--json", "as_json", is_flag=True, help="The whole answer as JSON.")
def violations(source_name: str, since: str, until: str, examples: int, as_json: bool) -> None:
    """Plan violations by source, event, field and rule, counted per hour. Personal values in the
    examples are masked (***)."""
    found = call(connect().quality.list_violations, source_name, since, until, examples)
    if as_json:
        click.echo(json.dumps(json_format.MessageToDict(found), indent=2))
        return
    click.echo(f"{found.since} .. {found.until}")
    for k in found.kinds:
        plan = f"plan {k.plan_name} v{k.plan_version}" if k.plan_name else "cdp.collect"
        what = k.event or k.event_type
        click.echo(
            f"{k.count:>7}  {k.source_name} {what!r}  {k.field}: {k.rule}"
            f"  ({k.outcome}, {plan}; first seen {k.first_seen})"
        )
        click.echo("         by hour: " + ", ".join(f"{h.hour[5:16]} {h.count}" for h in k.hours))
        for e in k.examples:
            click.echo(f"         e.g. {e.at}  value {e.value or '-'}  {e.fields}")
    click.echo(f"{len(found.kinds)} kinds, {sum(k.count for k in found.kinds)} violations")
