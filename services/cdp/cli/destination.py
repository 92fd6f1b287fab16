"""`cdp destination`: where audiences go, and what was delivered."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect, with_caller


@click.group()
def destination() -> None:
    """Destinations (webhooks) that audiences are synced to."""


@destination.command("create")
@click.argument("name")
@click.option("--url", required=True, help="The webhook to POST audience changes to.")
@click.option("--purpose", required=True, help="What the data is used for there (cdp.egress decides by it).")
@click.option("--audience", "audiences", multiple=True, required=True, help="Audience id to sync (repeatable).")
@with_caller
def create(name, url, purpose, audiences, subject, roles):
    created = call(connect(subject, roles).activation.create_destination, name, url, purpose, audiences)
    click.echo(f"{created.destination_id}  {created.name}  -> {created.url}  purpose {created.purpose}")


@destination.command("list")
def list_():
    for d in call(connect().activation.list_destinations):
        audiences = ", ".join(d.audience_ids)
        click.echo(f"{d.destination_id}  {d.name}  {d.type} {d.url}  purpose {d.purpose}  audiences {audiences}")


@destination.command("deliveries")
@click.option("--destination-id", default="")
@click.option("--limit", default=20, show_default=True)
def deliveries(destination_id, limit):
    """The latest deliveries: status, attempts, what policy withheld."""
    for d in call(connect().activation.list_deliveries, destination_id, limit):
        withheld = f"  withheld {', '.join(d.withheld)}" if d.withheld else ""
        error = f"  last error {d.last_error}" if d.last_error and d.status != "delivered" else ""
        click.echo(
            f"{d.delivery_id}  {d.action:<7} person {d.person_id}  {d.status} after {d.attempts} attempt(s)"
            f"{withheld}{error}"
        )
