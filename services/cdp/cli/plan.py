"""`cdp plan` and `cdp quarantine`: tracking plans and the events they hold back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cdp.cli.client import call, connect


@click.group()
def plan() -> None:
    """Tracking plans: JSON Schemas per event name, for identify and group traits."""


@plan.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="", help='Plan name (default: the document\'s "name", else the file name).')
def publish(file: Path, name: str) -> None:
    """Publish FILE as the next version of its plan."""
    text = file.read_text()
    try:
        document = json.loads(text)
    except ValueError as error:
        raise click.ClickException(f"{file}: not JSON ({error})") from None
    name = name or (document.get("name") if isinstance(document, dict) else "") or file.stem
    published = call(connect().collector.publish_plan, name, text)
    click.echo(f"{published.name} v{published.version} published")


@plan.command("list")
def list_() -> None:
    for p in call(connect().collector.list_plans):
        events = ", ".join(sorted(json.loads(p.document).get("events", {})))
        click.echo(f"{p.name} v{p.version}  published {p.published_at}  events: {events}")


@plan.command("assign")
@click.argument("plan_name")
@click.option("--source", "source_name", required=True)
@click.option(
    "--mode",
    type=click.Choice(["allow", "quarantine", "reject"]),
    default="allow",
    show_default=True,
    help="What happens to unplanned or violating events.",
)
def assign(plan_name: str, source_name: str, mode: str) -> None:
    """Check SOURCE's events against PLAN_NAME."""
    source = call(connect().collector.assign_plan, source_name, plan_name, mode)
    click.echo(f"{source.name}: plan {source.plan_name}, mode {source.plan_mode}")


@click.group()
def quarantine() -> None:
    """Events a tracking plan held back."""


@quarantine.command("list")
@click.option("--source", "source_name", default="")
@click.option("--limit", default=50, show_default=True)
def quarantine_list(source_name: str, limit: int) -> None:
    events = call(connect().collector.list_quarantine, source_name, limit)
    for q in events:
        what = q.event.event or q.event.name or q.event.type
        problems = "; ".join(f"{v.field}: {v.rule}" for v in q.violations)
        click.echo(f"{q.event_id}  {q.event.type} {what!r}  plan {q.plan_name} v{q.plan_version}  {problems}")
    click.echo(f"{len(events)} quarantined")


@quarantine.command("release")
@click.option("--source", "source_name", default="")
def quarantine_release(source_name: str) -> None:
    """Re-check held events against the current plan; those that pass go on into the pipeline."""
    result = call(connect().collector.release_quarantine, source_name)
    click.echo(f"released {result.released}, still quarantined {result.still_quarantined}")
