"""`cdp sync`: an audience bound to a destination, with a mode and a field mapping."""

from __future__ import annotations

import json

import click

from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.cli.client import call, connect, with_caller

MODES = ["membership", "upsert", "mirror"]


@click.group()
def sync() -> None:
    """Syncs: membership (entered/exited events), upsert (the member's record, kept current) or
    mirror (the destination holds exactly the members)."""


def mapping_of(fields: tuple[str, ...], constants: tuple[str, ...]) -> pb.Mapping | None:
    """--field trait or trait=name; --const name=JSON (a bare word is taken as a string)."""
    if not fields and not constants:
        return None
    mapping = pb.Mapping()
    for item in fields:
        trait, _, to = item.partition("=")
        mapping.fields.add(trait=trait, to=to)
    for item in constants:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--const")
        try:
            json.loads(value)
        except ValueError:
            value = json.dumps(value)
        mapping.constants[name] = value
    return mapping


def shown(s: pb.Sync) -> str:
    fields = ", ".join(f"{f.trait}->{f.to or f.trait}" for f in s.mapping.fields) or "all allowed traits"
    constants = "".join(f", {k}={v}" for k, v in sorted(s.mapping.constants.items()))
    return (
        f"{s.sync_id}  destination {s.destination_id}  audience {s.audience_id}  {s.mode}  v{s.version} {s.status}"
        f"  fields {fields}{constants}\n    approval {s.approval or '-'}"
        + (f" by {s.approved_by}" if s.approved_by else "")
        + (f" ({s.approval_reason})" if s.approval_reason else "")
        + (f"  author {s.author}" if s.author else "")
        + (f"  decision {s.approval_decision_id}" if s.approval_decision_id else "")
    )


mapping_options = [
    click.option("--field", "fields", multiple=True, metavar="TRAIT[=NAME]", help="A trait to send (repeatable)."),
    click.option("--const", "constants", multiple=True, metavar="NAME=VALUE", help="A constant sent with each record."),
]


def with_mapping(function):
    for option in reversed(mapping_options):
        function = option(function)
    return function


@sync.command("create")
@click.argument("destination_id")
@click.argument("audience_id")
@click.option("--mode", type=click.Choice(MODES), default="membership", show_default=True)
@with_mapping
@with_caller
def create(destination_id, audience_id, mode, fields, constants, subject, roles):
    """Sync an audience to a destination: its current members go out first, then the changes."""
    mapping = mapping_of(fields, constants)
    created = call(connect(subject, roles).activation.create_sync, destination_id, audience_id, mode, mapping)
    click.echo(shown(created))


@sync.command("list")
@click.option("--destination", "destination_id", default="")
def list_(destination_id):
    for s in call(connect().activation.list_syncs, destination_id):
        click.echo(shown(s))


@sync.command("show")
@click.argument("sync_id")
def show(sync_id):
    click.echo(shown(call(connect().activation.get_sync, sync_id)))


@sync.command("edit")
@click.argument("sync_id")
@click.option("--mode", type=click.Choice(MODES), default=None)
@with_mapping
@with_caller
def edit(sync_id, mode, fields, constants, subject, roles):
    """A new version of the sync; the destination gets the records that differ under it."""
    mapping = mapping_of(fields, constants)
    click.echo(shown(call(connect(subject, roles).activation.update_sync, sync_id, mode or "", mapping)))


@sync.command("pause")
@click.argument("sync_id")
@with_caller
def pause(sync_id, subject, roles):
    """Send nothing until resumed (the difference is sent then)."""
    click.echo(shown(call(connect(subject, roles).activation.pause_sync, sync_id)))


@sync.command("resume")
@click.argument("sync_id")
@with_caller
def resume(sync_id, subject, roles):
    """Send what changed while paused: entries, exits and changed records, against what was sent."""
    click.echo(shown(call(connect(subject, roles).activation.resume_sync, sync_id)))


@sync.command("delete")
@click.argument("sync_id")
@with_caller
def delete(sync_id, subject, roles):
    """Stop the sync; what it sent stays at the destination."""
    click.echo(shown(call(connect(subject, roles).activation.delete_sync, sync_id)))


@sync.command("pending")
@with_caller
def pending(subject, roles):
    """Syncs waiting for approval (four eyes): nothing of them is sent until approved."""
    for s in call(connect(subject, roles).activation.list_pending_syncs):
        click.echo(shown(s))


@sync.command("approve")
@click.argument("sync_id")
@with_caller
def approve(sync_id, subject, roles):
    """Approve the sync's version in force (someone other than its author, with an approver role)."""
    click.echo(shown(call(connect(subject, roles).activation.approve_sync, sync_id)))


@sync.command("reject")
@click.argument("sync_id")
@click.option("--reason", default="", help="Why (kept with the sync).")
@with_caller
def reject(sync_id, reason, subject, roles):
    """Refuse the sync's version in force: it sends nothing until changed and approved."""
    click.echo(shown(call(connect(subject, roles).activation.reject_sync, sync_id, reason)))
