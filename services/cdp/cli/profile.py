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
    for category, choice in sorted(found.consent.items()):
        state = "granted" if choice.granted else "denied"
        where = f"from {choice.source} ({choice.form}) in {choice.event_id} at {choice.at}"
        click.echo(f"  consent {category:<20} {state:<8} {where}")


@profile.command("events")
@click.option("--person-id", default="")
@click.option("--user-id", default="")
@click.option("--anonymous-id", default="")
@click.option("--email", default="")
@click.option("--limit", default=20, type=click.IntRange(min=1), show_default=True, help="At most this many calls.")
@click.option("--type", "types", multiple=True, help="Only calls of this type (track, page, ...; repeatable).")
@click.option("--since", default="", help="RFC 3339: calls at or after.")
@click.option("--until", default="", help="RFC 3339: calls before.")
@click.option("--purpose", default="", help="Why it is read (a short label; the access log records it).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@with_caller
def events(person_id, user_id, anonymous_id, email, limit, types, since, until, purpose, as_json, subject, roles):
    """A person's calls, newest first, with properties, traits and context (personal data in clear
    only where cdp.access allows)."""
    identifier = None
    for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id), ("email", email.strip().lower())):
        if value:
            identifier = (kind, value)
    if not person_id and not identifier:
        raise click.UsageError("give --person-id, --user-id, --anonymous-id or --email")
    profiles = connect(subject, roles).profile
    token, shown = "", 0
    while shown < limit:
        page = call(
            profiles.list_events, person_id, identifier, min(limit - shown, 1000), token, types, since, until, purpose
        )
        for found in page.events:
            shown += 1
            if as_json:
                click.echo(json.dumps(json_format.MessageToDict(found)))
                continue
            what = found.event or found.name or found.group_id
            note = " (masked)" if found.masked else " (erased)" if found.erased else ""
            click.echo(f"{found.timestamp}  {found.type:<8} {what}{note}")
            for name in ("properties", "traits", "context"):
                value = getattr(found, name)
                if value and value != "{}":
                    click.echo(f"    {name}: {value}")
        token = page.next_page_token
        if not token:
            break


@profile.command("search")
@click.option(
    "--where",
    "where",
    required=True,
    help='A JSON file, or - for stdin: {"trait": "plan", "op": "eq", "value": "pro"}.',
)
@click.option("--page-size", default=50, type=click.IntRange(min=1, max=1000), show_default=True)
@click.option("--page-token", default="", help="The next page's token a previous search printed.")
@click.option("--purpose", default="", help="Why it is read (a short label; the access log records it).")
@click.option("--json", "as_json", is_flag=True, help="One profile as JSON a line.")
@with_caller
def search(where, page_size, page_token, purpose, as_json, subject, roles):
    """Profiles whose traits meet a condition (all/any/not over trait conditions), one page of them,
    personal data in clear only where cdp.access allows."""
    from cdp.cli.audience import read_definition

    condition = read_definition(where)
    found = call(connect(subject, roles).profile.search_profiles, json.dumps(condition), page_size, page_token, purpose)
    for p in found.profiles:
        if as_json:
            click.echo(json.dumps(json_format.MessageToDict(p)))
        else:
            traits = ", ".join(f"{k}={v.value}" for k, v in sorted(p.traits.items()))
            click.echo(f"{p.person_id}  {traits}")
    click.echo(
        f"{found.total} match"
        + (f"; next page: --page-token {found.next_page_token}" if found.next_page_token else ""),
        err=as_json,
    )
