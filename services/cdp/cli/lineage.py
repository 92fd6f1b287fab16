"""`cdp lineage`: the chain behind a trait's value, or behind what a destination received.

Each hop names the ids to follow it (`cdp identity explain`, `cdp audit`, `cdp profile events`);
a hop the caller may not read is said so; personal values are as profile showed them to the caller.
"""

from __future__ import annotations

import json

import click

from cdp.cli.client import call, connect, with_caller
from cdp.cli.identity import parse_id
from cdp.lineage.delivery import delivery_lineage
from cdp.lineage.reader import Reader
from cdp.lineage.render import delivery_text, trait_text
from cdp.lineage.trait import trait_lineage


@click.group()
def lineage() -> None:
    """Where a value came from, and why a destination received it."""


def _person(text: str) -> tuple[str, tuple[str, str] | None]:
    """A person id, or an identifier as TYPE=VALUE."""
    if "=" in text:
        return "", parse_id(text, "PERSON")
    if not text.strip():
        raise click.BadParameter("give a person id or TYPE=VALUE, e.g. user_id=u-1", param_hint="PERSON")
    return text.strip(), None


def _echo(found: dict, as_json: bool, render) -> None:
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(render(found)))


@lineage.command("trait")
@click.argument("person")
@click.argument("trait_name", metavar="TRAIT")
@click.option("--purpose", default="", help="Why it is read (a short label; the access log records it).")
@click.option("--json", "as_json", is_flag=True, help="The lineage as JSON.")
@with_caller
def trait(person, trait_name, purpose, as_json, subject, roles):
    """The calls that set TRAIT on PERSON (a person id, or TYPE=VALUE such as user_id=u-1): their
    sources, client- or server-side, tracking plan, collect and PII decisions, and the identity
    evidence that brought each call's identifier to the person."""
    if not trait_name.strip():
        raise click.BadParameter("give the trait's name", param_hint="TRAIT")
    person_id, identifier = _person(person)
    reader = Reader(connect(subject, roles))
    found = call(trait_lineage, reader, trait_name.strip(), person_id, identifier, purpose)
    _echo(found, as_json, trait_text)


@lineage.command("delivery")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="The lineage as JSON.")
@with_caller
def delivery(delivery_id, as_json, subject, roles):
    """Why DELIVERY_ID carried each field or withheld it: the sync and audience versions, the
    membership change behind it, the approval, the consent and the egress decision."""
    reader = Reader(connect(subject, roles))
    _echo(call(delivery_lineage, reader, delivery_id.strip()), as_json, delivery_text)
