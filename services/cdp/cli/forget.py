"""`cdp forget`: the right to erasure."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect, with_caller
from cdp.cli.identity import given_identifiers, identifier_options


@click.command()
@click.option("--person-id", default="")
@identifier_options
@with_caller
def forget(person_id, user_id, anonymous_id, email, phone, ids, subject, roles):
    """Forget a person: destroy the keys of every identifier linked to them, and suppress those
    identifiers (the collector drops later calls carrying them; see `cdp identity lift-suppression`).

    Their events still replay, with personal fields erased; profiles, audiences and
    deliveries keep their records without personal data. About a second later identity rotates
    the key-encryption key (`cdp keys`): from then on no copy of the key table made before (a WAL
    segment, a backup) decrypts their data either.
    """
    identifiers = given_identifiers(user_id, anonymous_id, email, phone, ids)
    identifier = identifiers[-1] if identifiers else None  # the last one given, as before
    if not person_id and not identifier:
        raise click.UsageError("give --person-id, --user-id, --anonymous-id, --email, --phone or --id TYPE=VALUE")
    done = call(connect(subject, roles).identity.forget, person_id, identifier)
    if not done.person_id:  # no person had the identifier: what was kept under it is forgotten
        click.echo(
            f"forgot {identifier[0] if identifier else 'the identifier'} (no person has it): "
            f"{done.keys_destroyed} key(s) destroyed, {done.suppressed} identifier(s) suppressed"
        )
        return
    click.echo(
        f"forgot person {done.person_id}: {done.keys_destroyed} key(s) destroyed "
        f"across {done.identifiers} identifier(s), {done.suppressed} identifier(s) suppressed"
    )
