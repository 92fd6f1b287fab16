"""`cdp forget`: the right to erasure."""

from __future__ import annotations

import click

from cdp.api.identity.v1 import identity_pb2, identity_pb2_grpc
from cdp.cli.client import Caller, call, channel, with_caller


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
    request = identity_pb2.ForgetRequest(person_id=person_id)
    for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id), ("email", email)):
        if value:
            request.identifier.CopyFrom(identity_pb2.Identifier(type=kind, value=value))
    if not person_id and not request.identifier.value:
        raise click.UsageError("give --person-id, --user-id, --anonymous-id or --email")
    done = call(
        identity_pb2_grpc.IdentityServiceStub(channel("identity")).Forget,
        request,
        metadata=Caller(subject, roles).metadata,
    )
    click.echo(
        f"forgot person {done.person_id}: {done.keys_destroyed} key(s) destroyed "
        f"across {done.identifiers} identifier(s)"
    )
