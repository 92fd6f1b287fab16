"""`cdp status` and `cdp parked`: where each service's followers stand, and what they parked."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect, said, with_caller
from cdp.platform.config import SERVICES
from cdp.platform.errors import CdpError, NotFound

FOLLOWERS = ("identity", "profile", "segment", "activation")  # the services that follow a log


def _services(service: str, among: tuple[str, ...]) -> tuple[str, ...]:
    return (service,) if service else among


def _each_follower(service: str, upstream: str, ask):
    """(name, ask(name)) for each chosen follower service. Asked about one upstream without
    naming a service, the services that do not follow it are passed over; any other refusal or
    failure is a clean error."""
    for name in _services(service, FOLLOWERS):
        try:
            yield name, ask(name)
        except NotFound as error:
            if upstream and not service:
                continue
            raise said(error) from None
        except CdpError as error:
            raise said(error) from None


service_option = click.option(
    "--service", type=click.Choice(SERVICES), default=None, help="Only this service (default: all)."
)


@click.command()
@service_option
@with_caller
def status(service, subject, roles):
    """Each service's log head, and each follower's position, lag and parked events."""
    platform = connect(subject, roles)
    for name in _services(service, SERVICES):
        reply = call(platform.ops(name).get_status)
        click.echo(f"{reply.service}: log head {reply.head}")
        for f in reply.followers:
            click.echo(
                f"  follows {f.upstream}: at {f.position} of {f.head} ({f.head - f.position} behind), {f.parked} parked"
            )


@click.group()
def parked() -> None:
    """Upstream events a follower could not process, kept with their error."""


@parked.command("list")
@service_option
@click.option("--upstream", default="", help="Only what was parked from this upstream log.")
@click.option("--limit", default=100, show_default=True)
@with_caller
def list_parked(service, upstream, limit, subject, roles):
    """List parked events: position in the upstream log, topic, error and error id."""
    platform = connect(subject, roles)
    count = 0
    for name, events in _each_follower(service, upstream, lambda name: platform.ops(name).list_parked(upstream, limit)):
        for p in events:
            count += 1
            click.echo(f"{name} <- {p.upstream} #{p.position} {p.topic} [{p.error_id or 'waiting'}] {p.error}")
    if not count:
        click.echo("nothing parked")


@parked.command("retry")
@service_option
@click.option("--upstream", default="", help="Only what was parked from this upstream log.")
@with_caller
def retry_parked(service, upstream, subject, roles):
    """Apply parked events again, oldest first (after the cause is fixed); each applies once."""
    platform = connect(subject, roles)
    retried = _each_follower(service, upstream, lambda name: platform.ops(name).retry_parked(upstream))
    for name, reply in retried:
        click.echo(f"{name}: {reply.applied} applied, {reply.still_parked} still parked")
