"""`cdp quarantine`: the calls a tracking plan held back, listed, released or discarded by filter."""

from __future__ import annotations

import click

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.cli.client import call, connect


def filter_options(function):
    for option in reversed(
        [
            click.option("--source", "source_name", default="", help="Of this source."),
            click.option("--event", "event_name", default="", help="A track's event name, a page's or screen's name."),
            click.option(
                "--rule", default="", help="A violation's kind (unplanned_event, ...), keyword (type, ...) or words."
            ),
            click.option("--since", default="", help="Held at or after this time (RFC 3339)."),
            click.option("--until", default="", help="Held before this time (RFC 3339)."),
            click.option("--id", "event_ids", multiple=True, help="An event id (repeatable)."),
        ]
    ):
        function = option(function)
    return function


def filter_of(source_name: str, event_name: str, rule: str, since: str, until: str, event_ids) -> pb.QuarantineFilter:
    return pb.QuarantineFilter(
        source_name=source_name, event_name=event_name, rule=rule, since=since, until=until, event_ids=list(event_ids)
    )


@click.group()
def quarantine() -> None:
    """Calls a tracking plan held back, waiting for review."""


@quarantine.command("list")
@filter_options
@click.option("--limit", default=50, show_default=True)
def list_(limit: int, **criteria) -> None:
    events = call(connect().collector.list_quarantine, limit=limit, filter=filter_of(**criteria))
    for q in events:
        what = q.event.event or q.event.name or q.event.type
        problems = "; ".join(f"{v.field}: {v.rule}" for v in q.violations)
        click.echo(f"{q.event_id}  {q.at}  {q.event.type} {what!r}  plan {q.plan_name} v{q.plan_version}  {problems}")
    click.echo(f"{len(events)} quarantined")


@quarantine.command("release")
@filter_options
@click.option(
    "--as-is",
    is_flag=True,
    help="Admit the calls as they were held. Without it, only those the source's current plan now passes go on.",
)
@click.option("--reason", default="", help="Recorded with the release.")
def release(as_is: bool, reason: str, **criteria) -> None:
    """Pass held calls on into the pipeline (who released them is recorded)."""
    result = call(connect().collector.release_quarantine, filter=filter_of(**criteria), as_is=as_is, reason=reason)
    click.echo(f"released {result.released}, still quarantined {result.still_quarantined}")


@quarantine.command("discard")
@filter_options
@click.option("--reason", default="", help="Recorded with the discard.")
def discard(reason: str, **criteria) -> None:
    """Drop held calls for good (the discard is recorded); a filter is required."""
    result = call(connect().collector.discard_quarantine, filter_of(**criteria), reason=reason)
    click.echo(f"discarded {result.discarded}")
