"""`cdp account`: accounts (a group call's groupId) with their own traits, and their members."""

from __future__ import annotations

import json

import click
from google.protobuf import json_format

from cdp.cli.client import call, connect, with_caller


@click.group()
def account() -> None:
    """Accounts: traits from every member's group calls, and who belongs."""


@account.command("get")
@click.argument("account_id")
@click.option("--purpose", default="", help="Why it is read (a short label; the access log records it).")
@click.option("--json", "as_json", is_flag=True, help="The whole account as JSON.")
@with_caller
def get(account_id, purpose, as_json, subject, roles):
    """One account's traits (personal data in clear only where cdp.access allows) and member count."""
    found = call(connect(subject, roles).profile.get_account, account_id, purpose)
    if as_json:
        click.echo(json.dumps(json_format.MessageToDict(found), indent=2))
        return
    click.echo(f"account {found.group_id}   {found.member_count} members")
    for name in sorted(found.traits):
        trait = found.traits[name]
        note = " (masked)" if trait.masked else " (erased)" if trait.erased else ""
        click.echo(f"  {name:<20} {trait.value + note:<30} from source {trait.source_id} at {trait.updated_at}")


@account.command("members")
@click.argument("account_id")
@click.option("--limit", default=0, type=click.IntRange(min=0), help="At most this many (0: all).")
@with_caller
def members(account_id, limit, subject, roles):
    """The person ids of an account's members, one a line, and how many there are."""
    profiles = connect(subject, roles).profile
    token, shown, total = "", 0, 0
    while True:
        page = call(profiles.list_account_members, account_id, 500, token)
        total = page.total
        for person_id in page.person_ids:
            if limit and shown >= limit:
                break
            click.echo(person_id)
            shown += 1
        token = page.next_page_token
        if not token or (limit and shown >= limit):
            break
    click.echo(f"{total} members", err=True)
