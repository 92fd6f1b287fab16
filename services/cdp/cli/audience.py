"""`cdp audience`: define audiences and see who is in them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

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


def sugar(traits, events) -> list[dict]:
    """The --trait and --event flags in the condition language's JSON form."""
    out: list[dict] = []
    for text in traits:
        c = parse_trait(text).trait
        out.append({"trait": c.trait, "op": c.op, **({"value": json.loads(c.value)} if c.value else {})})
    for text in events:
        e = parse_event(text).event
        out.append({"event": e.event, "count": {"op": "gte", "value": e.min_count}})
    return out


def read_definition(path: str) -> dict:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        decoded = json.loads(text)
    except ValueError as e:
        raise click.BadParameter(f"{path}: is not JSON ({e})", param_hint="--definition") from None
    return decoded if isinstance(decoded, dict) else {"invalid": decoded}


DEFINITION_HELP = "A JSON file in the condition language, or - for stdin."
TRAIT_HELP = "NAME OP VALUE, e.g. 'plan eq \"pro\"' (repeatable)."
EVENT_HELP = "'EVENT>=N': did EVENT at least N times (repeatable)."
PURPOSE_HELP = "What the audience is for: one of the purposes in policy data (e.g. marketing)."
LEVEL_HELP = "Who the members are: persons, or accounts (group ids; persons only inside account quantifiers)."
LEVELS = click.Choice(["person", "account"])


def definition_tree(definition, traits, events) -> str:
    """The --definition, and every --trait and --event, as one definition's JSON form ("" if none)."""
    parts = sugar(traits, events) + ([read_definition(definition)] if definition else [])
    if not parts:
        return ""
    return json.dumps(parts[0] if len(parts) == 1 else {"all": parts})


@audience.command("create")
@click.argument("name")
@click.option("--definition", "definition", help=DEFINITION_HELP)
@click.option("--trait", "traits", multiple=True, help=TRAIT_HELP)
@click.option("--event", "events", multiple=True, help=EVENT_HELP)
@click.option("--purpose", required=True, help=PURPOSE_HELP)
@click.option("--level", default="person", show_default=True, type=LEVELS, help=LEVEL_HELP)
@with_caller
def create(name, definition, traits, events, purpose, level, subject, roles):
    """Create an audience: a --definition, and every --trait and --event, must hold."""
    tree = definition_tree(definition, traits, events)
    if not tree:
        raise click.UsageError("give a --definition, or --trait/--event conditions")
    segment = connect(subject, roles).segment
    created = call(segment.create_audience, name, definition_json=tree, purpose=purpose, level=level)
    click.echo(f"{created.audience_id}  {created.name}  (allowed by decision {created.decision_id[:12]})")


@audience.command("update")
@click.argument("audience_id")
@click.option("--definition", "definition", help=DEFINITION_HELP + " Replaces the whole definition.")
@click.option("--trait", "traits", multiple=True, help=TRAIT_HELP)
@click.option("--event", "events", multiple=True, help=EVENT_HELP)
@click.option("--name", default="", help="A new name.")
@click.option("--purpose", default="", help=PURPOSE_HELP)
@with_caller
def update(audience_id, definition, traits, events, name, purpose, subject, roles):
    """A new version of an audience; its members are re-evaluated (entries and exits say "updated")."""
    tree = definition_tree(definition, traits, events)
    if not (tree or name or purpose):
        raise click.UsageError("give a --definition, --trait/--event conditions, a --name or a --purpose")
    segment = connect(subject, roles).segment
    updated = call(segment.update_audience, audience_id, name=name, purpose=purpose, definition_json=tree)
    click.echo(
        f"{updated.audience_id}  {updated.name}  v{updated.version}  for {updated.purpose}"
        f"  (allowed by decision {updated.update_decision_id[:12]})"
    )


@audience.command("archive")
@click.argument("audience_id")
@with_caller
def archive(audience_id, subject, roles):
    """Take an audience out of use: its members exit and it is evaluated no more."""
    archived = call(connect(subject, roles).segment.archive_audience, audience_id)
    click.echo(f"{archived.audience_id}  {archived.name}  archived by {archived.archived_by}")


@audience.command("preview")
@click.option("--definition", "definition", help=DEFINITION_HELP)
@click.option("--trait", "traits", multiple=True, help=TRAIT_HELP)
@click.option("--event", "events", multiple=True, help=EVENT_HELP)
@click.option("--sample", default=10, show_default=True, type=click.IntRange(0, 1000), help="How many member ids.")
@click.option("--level", default="person", show_default=True, type=LEVELS, help=LEVEL_HELP)
@with_caller
def preview(definition, traits, events, sample, level, subject, roles):
    """Who a definition would hold now, without storing it: the size and a sample of member ids."""
    tree = definition_tree(definition, traits, events)
    if not tree:
        raise click.UsageError("give a --definition, or --trait/--event conditions")
    segment = connect(subject, roles).segment
    shown = call(segment.preview_audience, definition_json=tree, sample=sample or 1, level=level)
    click.echo(f"size {shown.size}  (decision {shown.decision_id[:12]})")
    for person_id in shown.person_ids[:sample]:
        click.echo(person_id)


@audience.command("list")
def list_():
    for a in call(connect().segment.list_audiences):
        status = "  archived" if a.status == "archived" else ""
        click.echo(f"{a.audience_id}  {a.name}  v{a.version}  by {a.created_by}  for {a.purpose or '-'}{status}")


def _comparison(c: segment_pb2.TraitCondition, field: str) -> dict:
    out: dict = {field: c.trait, "op": c.op}
    if c.erased or c.masked:
        out["value"] = "(erased)" if c.erased else "(masked)"
    elif c.value:
        out["value"] = json.loads(c.value)
    return out


def _event(e: segment_pb2.EventPredicate) -> dict:
    out: dict = {"event": e.event}
    if e.where:
        out["where"] = [_comparison(w, "property") for w in e.where]
    if e.HasField("count"):
        out["count"] = {
            "op": e.count.op,
            "value": [e.count.value, e.count.upper] if e.count.op == "between" else e.count.value,
        }
    if e.HasField("aggregate"):
        a = e.aggregate
        out["aggregate"] = {"fn": a.fn, "property": a.property, "op": a.op, "value": json.loads(a.value)}
    if e.HasField("window"):
        w = e.window
        start = getattr(w, "from")  # a Python keyword
        out["window"] = (
            {"last": w.last} if w.last else {"between": [w.far, w.near]} if w.far else {"from": start, "to": w.to}
        )
    return out


def definition_json(node: segment_pb2.Node) -> dict:
    """A stored definition in its JSON form; a personal literal the caller may not see says so."""
    kind = node.WhichOneof("kind")
    if kind in ("all", "any"):
        return {kind: [definition_json(n) for n in getattr(node, kind).nodes]}
    if kind == "not":
        return {"not": definition_json(getattr(node, "not"))}
    if kind == "trait":
        return _comparison(node.trait, "trait")
    if kind == "event":
        return _event(node.event)
    if kind == "funnel":
        f = node.funnel
        return {
            "funnel": [_event(s) for s in f.steps],
            "within": f.within,
            **({"negate_last": True} if f.negate_last else {}),
        }
    if kind == "account_trait":
        return _comparison(node.account_trait, "account_trait")
    if kind == "account":
        return {"account": {node.account.quantifier: definition_json(node.account.member)}}
    return {"audience": node.audience}


def part_text(node: segment_pb2.Node) -> str:
    """A part of a definition as the flags write it, where they can; else in the JSON form."""
    kind = node.WhichOneof("kind")
    if kind == "trait" and node.trait.op in ("eq", "neq", "gt", "gte", "lt", "lte", "exists", "contains"):
        return condition_text(segment_pb2.Condition(trait=node.trait))
    e = node.event
    plain = kind == "event" and not e.where and not e.HasField("aggregate") and not e.HasField("window")
    if plain and e.HasField("count") and e.count.op == "gte" and e.count.value >= 1:
        return f"--event '{e.event}>={e.count.value}'"
    return f"--definition '{json.dumps(definition_json(node))}'"


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
    level = "  (members are accounts)" if a.level == "account" else ""
    click.echo(f"{a.audience_id}  {a.name}  v{a.version}  by {a.created_by}  for {a.purpose or '-'}  {a.status}{level}")
    for condition in a.conditions:
        click.echo(f"  {condition_text(condition)}")
    if a.HasField("definition"):
        node = a.definition
        for part in node.all.nodes if node.WhichOneof("kind") == "all" else [node]:
            click.echo(f"  {part_text(part)}")


@audience.command("members")
@click.argument("audience_id")
@click.option("--page-size", default=0, type=click.IntRange(0, 10_000), help="Members per page (0: all).")
@click.option("--page-token", default="", help="The token a previous page printed.")
@with_caller
def members(audience_id, page_size, page_token, subject, roles):
    """An audience's members in person id order, one page, and how many there are in all."""
    page = call(connect(subject, roles).segment.list_members_page, audience_id, page_size, page_token)
    for person_id in page.person_ids:
        click.echo(person_id)
    click.echo(
        f"total {page.total}" + (f"  next page: --page-token {page.next_page_token}" if page.next_page_token else "")
    )


@audience.command("history")
@click.option("--audience", "audience_id", default="", help="An audience's entries and exits.")
@click.option("--person", "person_id", default="", help="A person's entries and exits.")
@click.option("--account", "account_id", default="", help="An account's entries and exits (account-level audiences).")
@click.option("--page-size", default=0, type=click.IntRange(0, 1000), help="Changes per page (0: 100).")
@click.option("--page-token", default="", help="The token a previous page printed.")
@with_caller
def history(audience_id, person_id, account_id, page_size, page_token, subject, roles):
    """Entries and exits, newest first: when, who, which audience and version, and why."""
    if not (audience_id or person_id or account_id):
        raise click.UsageError("give --audience, --person (or --account) or both")
    if person_id and account_id:
        raise click.UsageError("give --person or --account, not both")
    segment = connect(subject, roles).segment
    page = call(segment.list_membership_history, audience_id, person_id, page_size, page_token, account_id=account_id)
    for c in page.changes:
        cause = c.cause + (f" {c.cause_event_id}" if c.cause_event_id else "")
        what = "entered" if c.entered else "exited"
        who = f"account {c.account_id}" if c.account_id else c.person_id
        click.echo(f"{c.at}  {who}  {what}  {c.audience_id}  v{c.audience_version}  {cause}")
    if page.next_page_token:
        click.echo(f"next page: --page-token {page.next_page_token}")
