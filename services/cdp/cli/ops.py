"""`cdp status` and `cdp parked`: where each service's followers stand, and what they parked."""

from __future__ import annotations

import click

from cdp.cli.client import call, connect, with_caller
from cdp.platform.config import SERVICES

FOLLOWERS = ("identity", "profile", "segment", "activation")  # the services that follow a log


def _services(service: str, among: tuple[str, ...]) -> tuple[str, ...]:
    return (service,) if service else among


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
    for name in _services(service, FOLLOWERS):
        if upstream and not service and upstream == name:
            continue  # no service follows itself
        try:
            events = call(platform.ops(name).list_parked, upstream, limit)
        except click.ClickException:
            if upstream and not service:
                continue  # this service does not follow that upstream
            raise
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
    for name in _services(service, FOLLOWERS):
        if upstream and not service and upstream == name:
            continue
        try:
            reply = call(platform.ops(name).retry_parked, upstream)
        except click.ClickException:
            if upstream and not service:
                continue
            raise
        click.echo(f"{name}: {reply.applied} applied, {reply.still_parked} still parked")
