"""`cdp audience`: define audiences and see who is in them."""

from __future__ import annotations

import json
import re

import click

from cdp.api.segment.v1 import segment_pb2
from cdp.cli.client import call, connect, with_caller

TRAIT = re.compile(r"^\s*(\S+)\s+(eq|neq|gt|gte|lt|lte|exists|contains)\s*(.*)$")
EVENT = re.compile(r"^\s*(.+?)\s*>=\s*(\d+)\s*$")


def parse_trait(text: str) -> segment_pb2.Condition:
    match = TRAIT.match(text)
    if not match:
        raise click.BadParameter(
            f"{text!r}: write NAME OP VALUE, e.g. 'plan eq \"pro\"' or 'email exists'", param_hint="--trait"
        )
    name, op, value = match.groups()
    if op != "exists":
        try:
            json.loads(value)
        except ValueError:
            value = json.dumps(value)  # a bare word is a string
    return segment_pb2.Condition(
        trait=segment_pb2.TraitCondition(trait=name, op=op, value=value if op != "exists" else "")
    )


def parse_event(text: str) -> segment_pb2.Condition:
    match = EVENT.match(text)
    if not match:
        raise click.BadParameter(
            f"{text!r}: write 'EVENT NAME>=COUNT', e.g. 'Order Completed>=2'", param_hint="--event"
        )
    return segment_pb2.Condition(event=segment_pb2.EventCondition(event=match.group(1), min_count=int(match.group(2))))


@click.group()
def audience() -> None:
    """Audiences over traits and event counts."""


@audience.command("create")
@click.argument("name")
@click.option("--trait", "traits", multiple=True, help="NAME OP VALUE, e.g. 'plan eq \"pro\"' (repeatable).")
@click.option("--event", "events", multiple=True, help="'EVENT>=N': did EVENT at least N times (repeatable).")
@with_caller
def create(name, traits, events, subject, roles):
    """Create an audience (all conditions must hold)."""
    conditions = [parse_trait(t) for t in traits] + [parse_event(e) for e in events]
    created = call(connect(subject, roles).segment.create_audience, name, conditions)
    click.echo(f"{created.audience_id}  {created.name}  (allowed by decision {created.decision_id[:12]})")


@audience.command("list")
def list_():
    for a in call(connect().segment.list_audiences):
        click.echo(f"{a.audience_id}  {a.name}  v{a.version}  by {a.created_by}")


def condition_text(condition: segment_pb2.Condition) -> str:
    """One condition as `create` takes it; a personal literal the caller may not see says so."""
    if condition.HasField("event"):
        return f"--event '{condition.event.event}>={condition.event.min_count}'"
    trait = condition.trait
    value = "(erased)" if trait.erased else "(masked)" if trait.masked else trait.value
    return f"--trait '{trait.trait} {trait.op}{' ' + value if value else ''}'"


@audience.command("show")
@click.argument("audience_id")
@with_caller
def show(audience_id, subject, roles):
    """An audience's definition: personal literals in clear only for who may see them so."""
    a = call(connect(subject, roles).segment.get_audience, audience_id)
    click.echo(f"{a.audience_id}  {a.name}  v{a.version}  by {a.created_by}")
    for condition in a.conditions:
        click.echo(f"  {condition_text(condition)}")


@audience.command("members")
@click.argument("audience_id")
def members(audience_id):
    for person_id in call(connect().segment.list_members, audience_id):
        click.echo(person_id)
