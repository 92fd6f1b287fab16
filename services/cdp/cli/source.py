"""`cdp source`: sources and their write keys."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect
from cdp.cli.plan import describe_plan


@click.group()
def source() -> None:
    """Sources that send events, each with a write key."""


@source.command("create")
@click.argument("name")
@click.option("--client-side", is_flag=True, help="Events come from browsers or apps (default: server-side).")
def create(name: str, client_side: bool) -> None:
    created = call(connect().collector.create_source, name, server_side=not client_side)
    click.echo(f"{created.source_id}  {created.name}  write key: {created.write_key}")
    click.echo("Keep the write key: it is shown only now (the collector stores a keyed hash of it).", err=True)


@source.command("list")
def list_() -> None:
    for s in call(connect().collector.list_sources):
        side = "server-side" if s.server_side else "client-side"
        plan = f"  {describe_plan(s)}" if s.plan_name else ""
        state = "disabled" if s.disabled else "enabled"
        click.echo(f"{s.source_id}  {s.name:<20} {side:<12} {state}  key {s.write_key_hint}…{plan}")


@source.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """Refuse the source's write key from now on (401 over HTTP, UNAUTHENTICATED over gRPC)."""
    disabled = call(connect().collector.disable_source, name)
    click.echo(f"{disabled.name} disabled")
