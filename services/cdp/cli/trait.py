"""`cdp trait`: computed traits, declared like audiences and kept as traits of every profile."""

from __future__ import annotations

import json

import click

from cdp.cli.audience import read_definition
from cdp.cli.client import call, connect, with_caller


@click.group()
def trait() -> None:
    """Computed traits: counts, aggregates, first/last/most frequent/unique values of a person's calls."""


@trait.command("create")
@click.argument("name")
@click.option(
    "--definition",
    "definition",
    required=True,
    help='A JSON file, or - for stdin: {"event": ..., "fn": "sum", "property": ..., "window": {"last": "P30D"}}.',
)
@with_caller
def create(name, definition, subject, roles):
    """Declare a computed trait (cdp.audience decides); it is backfilled over the calls seen so far."""
    body = read_definition(definition)
    created = call(connect(subject, roles).profile.create_computed_trait, name, json.dumps(body))
    click.echo(f"{created.name}  v{created.version}  (allowed by decision {created.decision_id[:12]})")


@trait.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@with_caller
def list_(as_json, subject, roles):
    for t in call(connect(subject, roles).profile.list_computed_traits):
        if as_json:
            click.echo(json.dumps({"name": t.name, "version": t.version, "definition": json.loads(t.definition_json)}))
        else:
            click.echo(f"{t.name}  v{t.version}  {t.definition_json}  by {t.created_by}")


@trait.command("get")
@click.argument("name")
@with_caller
def get(name, subject, roles):
    """One computed trait: its definition, version, and the decision that allowed it."""
    t = call(connect(subject, roles).profile.get_computed_trait, name)
    body = {"name": t.name, "version": t.version, "definition": json.loads(t.definition_json)}
    body.update(created_by=t.created_by, created_at=t.created_at, decision_id=t.decision_id)
    click.echo(json.dumps(body, indent=2))
