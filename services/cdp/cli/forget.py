"""`cdp forget`: the right to erasure."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect, with_caller


@click.command()
@click.option("--person-id", default="")
@click.option("--user-id", default="")
@click.option("--anonymous-id", default="")
@click.option("--email", default="")
@with_caller
def forget(person_id, user_id, anonymous_id, email, subject, roles):
    """Forget a person: destroy the keys of every identifier linked to them.

    Their events still replay, with personal fields erased; profiles, audiences and
    deliveries keep their records without personal data.
    """
    identifier = None
    for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id), ("email", email)):
        if value:
            identifier = (kind, value)  # the last one given, as before
    if not person_id and not identifier:
        raise click.UsageError("give --person-id, --user-id, --anonymous-id or --email")
    done = call(connect(subject, roles).identity.forget, person_id, identifier)
    click.echo(
        f"forgot person {done.person_id}: {done.keys_destroyed} key(s) destroyed "
        f"across {done.identifiers} identifier(s)"
    )
