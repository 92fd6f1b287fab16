"""`cdp profile`: read a person's profile."""

from __future__ import annotations

import json

import click
from google.protobuf import json_format

from cdp.cli.client import call, connect, with_caller


@click.group()
def profile() -> None:
    """Profiles: traits with provenance, event counts, accounts."""


@profile.command("get")
@click.option("--person-id", default="")
@click.option("--user-id", default="")
@click.option("--anonymous-id", default="")
@click.option("--email", default="")
@click.option("--purpose", default="", help="Why it is read (a short label; the access log records it).")
@click.option("--json", "as_json", is_flag=True, help="The whole profile as JSON.")
@with_caller
def get(person_id, user_id, anonymous_id, email, purpose, as_json, subject, roles):
    """One profile, by person id or any identifier (personal data in clear only where cdp.access allows)."""
    identifier = None
    for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id), ("email", email.strip().lower())):
        if value:
            identifier = (kind, value)  # the last one given, as before
    if not person_id and not identifier:
        raise click.UsageError("give --person-id, --user-id, --anonymous-id or --email")
    found = call(connect(subject, roles).profile.get_profile, person_id, identifier, purpose)
    if as_json:
        click.echo(json.dumps(json_format.MessageToDict(found), indent=2))
        return
    click.echo(f"person {found.person_id}   first seen {found.first_seen}   last seen {found.last_seen}")
    for name in sorted(found.traits):
        trait = found.traits[name]
        note = " (masked)" if trait.masked else " (erased)" if trait.erased else ""
        click.echo(f"  {name:<20} {trait.value + note:<30} from source {trait.source_id} at {trait.updated_at}")
    for name in sorted(found.event_counts):
        click.echo(f"  {found.event_counts[name]:>6} x {name}")
    for account in found.accounts:
        click.echo(
            f"  account {account.group_id}: " + ", ".join(f"{k}={v.value}" for k, v in sorted(account.traits.items()))
        )
