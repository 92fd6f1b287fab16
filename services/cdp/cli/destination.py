"""`cdp destination`: where audiences go, how they are sent, and what was delivered."""

from __future__ import annotations

import json

import click

from cdp.api.activation.v1 import activation_pb2 as pb
from cdp.cli.client import call, connect, with_caller


@click.group()
def destination() -> None:
    """Destinations that audiences are synced to: webhook, postgres, rabbitmq, nats, redis, file."""


def settings_options(function):
    options = [
        click.option(
            "--config",
            "config",
            multiple=True,
            metavar="JSON|KEY=VALUE",
            help="The kind's config as a JSON object, or one KEY=VALUE (repeatable); secret fields are stored sealed.",
        ),
        click.option(
            "--config-file", type=click.File("r"), default=None, help="The kind's config as a JSON object, from a file."
        ),
        click.option("--secret", default=None, help="The webhook's signing secret (stored sealed, never shown)."),
        click.option("--purpose", "purposes", multiple=True, help="What the data is used for there (repeatable)."),
        click.option(
            "--consent-category",
            "categories",
            multiple=True,
            help="A consent category the destination needs besides its purposes' (repeatable).",
        ),
        click.option("--retry-window", type=float, default=0.0, help="Seconds a delivery is retried (default 4 h)."),
        click.option("--max-backoff", type=float, default=0.0, help="The longest wait between attempts, seconds."),
        click.option("--concurrency", type=int, default=0, help="Sends in flight at once (default 32)."),
        click.option("--rate", type=float, default=0.0, help="Sends started a second at most (default 2000)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings(
    config, config_file, secret, purposes, categories, retry_window, max_backoff, concurrency, rate
) -> pb.DestinationSettings:
    given: dict = {}
    documents = [("--config-file", config_file.read())] if config_file else []
    for item in config:
        if item.lstrip().startswith("{"):
            documents.append(("--config", item))
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not a JSON object nor KEY=VALUE", param_hint="--config")
        try:
            given[key] = json.loads(value)  # numbers and booleans typed; anything else a string
        except ValueError:
            given[key] = value
    for hint, text in documents:
        try:
            document = json.loads(text)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint=hint) from None
        if not isinstance(document, dict):
            raise click.BadParameter("must be a JSON object", param_hint=hint)
        given.update(document)
    return pb.DestinationSettings(
        config_json=json.dumps(given) if given else "",
        consent_categories=list(categories),
        purposes=list(purposes),
        retry_window_s=retry_window,
        max_backoff_s=max_backoff,
        concurrency=concurrency,
        rate_per_s=rate,
        secrets={"secret": secret} if secret else {},
    )


def shown(d: pb.Destination) -> str:
    audiences = ", ".join(d.audience_ids) or "-"
    secrets = f"  secrets set: {', '.join(d.secret_fields)}" if d.secret_fields else ""
    reason = f" ({d.disabled_reason})" if d.disabled_reason else ""
    config = f"\n    config {d.config_json}" if d.config_json and d.type != "webhook" else ""
    categories = f"  consent {', '.join(d.consent_categories)}" if d.consent_categories else ""
    return (
        f"{d.destination_id}  {d.name}  {d.type} {d.url}  v{d.version} {d.status}{reason}  "
        f"purposes {', '.join(d.purposes) or d.purpose}{categories}  audiences {audiences}{config}\n"
        f"    retry window {d.retry_window_s:g}s  max backoff {d.max_backoff_s:g}s  "
        f"concurrency {d.concurrency}  rate {d.rate_per_s:g}/s{secrets}"
    )


@destination.command("create")
@click.argument("name")
@click.option("--kind", default="webhook", show_default=True, help="webhook, postgres, rabbitmq, nats, redis or file.")
@click.option("--url", default="", help="The webhook to POST audience changes to (or a broker's URL).")
@click.option("--audience", "audiences", multiple=True, help="Audience id to sync as memberships (repeatable).")
@settings_options
@with_caller
def create(
    name,
    kind,
    url,
    audiences,
    config,
    config_file,
    secret,
    purposes,
    categories,
    retry_window,
    max_backoff,
    concurrency,
    rate,
    subject,
    roles,
):
    """A destination; each --audience gets a membership sync (see `cdp sync create` for others)."""
    if not purposes:
        raise click.BadParameter("is required (what the data is used for there)", param_hint="--purpose")
    if kind == "webhook" and not url:
        raise click.BadParameter("is required for a webhook", param_hint="--url")
    given = settings(config, config_file, secret, purposes, categories, retry_window, max_backoff, concurrency, rate)
    created = call(
        connect(subject, roles).activation.create_destination,
        name,
        url,
        purposes[0],
        audiences,
        type=kind,
        settings=given,
    )
    click.echo(shown(created))


@destination.command("list")
def list_():
    for d in call(connect().activation.list_destinations):
        click.echo(shown(d))


@destination.command("show")
@click.argument("destination_id")
def show(destination_id):
    client = connect().activation
    click.echo(shown(call(client.get_destination, destination_id)))
    for s in call(client.list_syncs, destination_id):
        click.echo(f"    sync {s.sync_id}  audience {s.audience_id}  {s.mode}  v{s.version} {s.status}")


@destination.command("edit")
@click.argument("destination_id")
@click.option("--name", default="")
@click.option("--url", default="")
@settings_options
@with_caller
def edit(
    destination_id,
    name,
    url,
    config,
    config_file,
    secret,
    purposes,
    categories,
    retry_window,
    max_backoff,
    concurrency,
    rate,
    subject,
    roles,
):
    """A new version of the destination: what is given replaces what was (a secret left out stays)."""
    given = settings(config, config_file, secret, purposes, categories, retry_window, max_backoff, concurrency, rate)
    updated = call(connect(subject, roles).activation.update_destination, destination_id, name, url, settings=given)
    click.echo(shown(updated))


@destination.command("pause")
@click.argument("destination_id")
@with_caller
def pause(destination_id, subject, roles):
    """Stop sending: deliveries wait, stored and in order, until it is resumed."""
    click.echo(shown(call(connect(subject, roles).activation.pause_destination, destination_id)))


@destination.command("resume")
@click.argument("destination_id")
@with_caller
def resume(destination_id, subject, roles):
    """Send again: after a pause, or after the destination answered 410 (disabled)."""
    click.echo(shown(call(connect(subject, roles).activation.resume_destination, destination_id)))


@destination.command("delete")
@click.argument("destination_id")
@with_caller
def delete(destination_id, subject, roles):
    """Refused while the destination has syncs (delete those first)."""
    click.echo(shown(call(connect(subject, roles).activation.delete_destination, destination_id)))


def delivery_lines(d: pb.Delivery, attempts: bool) -> list[str]:
    withheld = f"  withheld {', '.join(d.withheld)}" if d.withheld else ""
    error = f"  last error {d.last_error}" if d.last_error and d.status != "delivered" else ""
    lines = [
        f"{d.delivery_id}  {d.action:<7} person {d.person_id}  {d.status} after {d.attempts} attempt(s)"
        f"{withheld}{error}"
    ]
    if attempts:
        lines += [attempt_line(a) for a in d.attempt_list]
    return lines


def attempt_line(a: pb.Attempt) -> str:
    outcome = "ok" if a.ok else (a.error or "failed")
    return f"    #{a.attempt} (series {a.series})  {a.at}  status {a.http_status}  {a.latency_ms:.1f} ms  {outcome}"


@destination.command("deliveries")
@click.argument("destination_id", default="")
@click.option("--destination-id", "destination_option", default="", hidden=True)
@click.option("--person", default="", help="Only this person's.")
@click.option("--status", default="", type=click.Choice(["", "pending", "delivered", "dead_lettered"]))
@click.option("--limit", default=20, show_default=True)
@click.option("--attempts/--no-attempts", default=True, show_default=True, help="List each delivery's attempts.")
def deliveries(destination_id, destination_option, person, status, limit, attempts):
    """The latest deliveries: status, attempts (status, latency, error), what policy withheld."""
    found = call(connect().activation.list_deliveries, destination_id or destination_option, limit, person, status)
    for d in found:
        for line in delivery_lines(d, attempts):
            click.echo(line)


@destination.command("attempts")
@click.argument("delivery_id")
def attempts_(delivery_id):
    """Every attempt of one delivery."""
    found = [d for d in call(connect().activation.list_deliveries, "", 1_000_000) if d.delivery_id == delivery_id]
    if not found:
        raise click.ClickException(f"no delivery {delivery_id}")
    for line in delivery_lines(found[0], True):
        click.echo(line)


@destination.command("dead-letters")
@click.argument("destination_id")
@click.option("--limit", default=100, show_default=True)
def dead_letters(destination_id, limit):
    """Deliveries given up on (refused, or failing past the retry window); `replay` sends them again."""
    for d in call(connect().activation.list_dead_letters, destination_id, limit):
        for line in delivery_lines(d, True):
            click.echo(line)


@destination.command("replay")
@click.argument("destination_id")
@click.option("--delivery", "delivery_ids", multiple=True, help="A dead letter to send again (default: all).")
@with_caller
def replay(destination_id, delivery_ids, subject, roles):
    """Send dead letters again: a new attempt series under each one's own delivery id."""
    replayed = call(connect(subject, roles).activation.replay_deliveries, destination_id, delivery_ids)
    for delivery_id in replayed:
        click.echo(f"replaying {delivery_id}")
    click.echo(f"{len(replayed)} delivery(ies) replayed")
