"""`cdp plan`: tracking plans, their versions, and trying them offline before publishing.

diff --files and validate need no running platform: they run the collector's own plan checking.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cdp.cli.client import call, connect
from cdp.collector.plan_diff import diff as plan_diff
from cdp.collector.plan_samples import judge_samples
from cdp.collector.plans import BLOCK, CHOICES, MODES, QUARANTINE, InvalidPlan, Settings, compile_plan

SETTINGS_HELP = (
    "A setting as NAME=VALUE, comma-separated or repeated: unplanned_events=allow|quarantine|block, "
    "unplanned_properties=allow|omit, violations=allow|omit|quarantine|block (each overrides the mode's)."
)


class BadInput(click.ClickException):
    """Input validate cannot judge by (exit 2, apart from 1: calls that would be held back)."""

    exit_code = 2


@click.group()
def plan() -> None:
    """Tracking plans: JSON Schemas per event, page and screen name, for identify and group traits."""


@plan.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="", help='Plan name (default: the document\'s "name", else the file name).')
def publish(file: Path, name: str) -> None:
    """Publish FILE as the next version of its plan."""
    text = file.read_text()
    document = _document(file)
    name = name or _name_of(document, file)
    published = call(connect().collector.publish_plan, name, text)
    click.echo(f"{published.name} v{published.version} published")


@plan.command("list")
def list_() -> None:
    """The latest version of each plan."""
    for p in call(connect().collector.list_plans):
        document = json.loads(p.document)
        listed = "; ".join(
            f"{section}: {', '.join(sorted(document[section]))}"
            for section in ("events", "pages", "screens")
            if document.get(section)
        )
        click.echo(f"{p.name} v{p.version}  published {p.published_at}  {listed}")


@plan.command("get")
@click.argument("name")
@click.option("--version", "version", default=0, type=click.IntRange(min=0), help="Default: the latest.")
def get(name: str, version: int) -> None:
    """Print a version of a plan: its document, as published (a file `diff --files` and
    `validate` take)."""
    found = call(connect().collector.get_plan, name, version)
    click.echo(f"# {found.name} v{found.version}, published {found.published_at}", err=True)
    click.echo(json.dumps(json.loads(found.document), indent=2, sort_keys=True))


@plan.command("assign")
@click.argument("plan_name")
@click.option("--source", "source_name", required=True)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="A shorthand for settings: allow (the default) lets everything through with its violations "
    "recorded; quarantine holds unplanned and violating calls; reject blocks them.",
)
@click.option("--settings", "settings", multiple=True, help=SETTINGS_HELP)
@click.option(
    "--version",
    "version",
    default=0,
    type=click.IntRange(min=0),
    help="Pin the source to this version (default: follow the latest).",
)
def assign(plan_name: str, source_name: str, mode: str | None, settings: tuple[str, ...], version: int) -> None:
    """Check SOURCE's calls against PLAN_NAME."""
    overrides = _settings(settings)
    try:
        Settings.of(mode or "", overrides)  # refused here with the field and the rule, before anything is sent
    except InvalidPlan as error:
        raise click.ClickException(str(error)) from None
    source = call(connect().collector.assign_plan, source_name, plan_name, mode or "", overrides, version)
    click.echo(f"{source.name}: {describe_plan(source)}")


def describe_plan(source) -> str:
    """A source's plan as `source list` and `plan assign` say it."""
    if not source.plan_name:
        return "no plan"
    pinned = f"v{source.plan_version} (pinned)" if source.plan_version else "latest"
    s = source.plan_settings
    return (
        f"plan {source.plan_name} {pinned}, {source.plan_mode}: unplanned events {s.unplanned_events}, "
        f"unplanned properties {s.unplanned_properties}, violations {s.violations}"
    )


@plan.command("diff")
@click.argument("name", required=False)
@click.argument("old_version", required=False, type=click.IntRange(min=1))
@click.argument("new_version", required=False, type=click.IntRange(min=1))
@click.option(
    "--files",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="OLD.json NEW.json: compare two plan files (no platform needed).",
)
def diff(name: str | None, old_version: int | None, new_version: int | None, files: tuple[Path, Path] | None) -> None:
    """What changes from one version of a plan to another: NAME OLD_VERSION NEW_VERSION as
    published, or --files OLD.json NEW.json."""
    if files:
        if name:
            raise click.UsageError("give NAME OLD_VERSION NEW_VERSION or --files OLD.json NEW.json, not both")
        old, new = _document(files[0]), _document(files[1])
    else:
        if not (name and old_version and new_version):
            raise click.UsageError("give NAME OLD_VERSION NEW_VERSION, or --files OLD.json NEW.json")
        collector = connect().collector
        old = json.loads(call(collector.get_plan, name, old_version).document)
        new = json.loads(call(collector.get_plan, name, new_version).document)
    try:
        changes = plan_diff(old, new)
    except InvalidPlan as error:
        raise click.ClickException(str(error)) from None
    for change in changes:
        click.echo(str(change))
    click.echo(f"{len(changes)} change{'s' if len(changes) != 1 else ''}", err=True)


@plan.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--events",
    "samples",
    required=True,
    type=click.File("r"),
    help="Sample calls, one Segment JSON call a line (- for standard input).",
)
@click.option("--mode", type=click.Choice(MODES), default=None, help="A shorthand for settings (as `plan assign`).")
@click.option("--settings", "settings", multiple=True, help=SETTINGS_HELP)
@click.option("--name", default="", help='Plan name in messages (default: the document\'s "name", else the file name).')
def validate(file: Path, samples, mode: str | None, settings: tuple[str, ...], name: str) -> None:
    """Say, for each sample call, whether the plan in FILE under these settings would allow, omit,
    quarantine or block it, and why; no platform needed. Exits 1 when any would be blocked or
    quarantined (2 on bad input)."""
    document = _document(file, BadInput)
    try:
        chosen = Settings.of(mode or "", _settings(settings))
        tried = compile_plan(name or _name_of(document, file), 0, document)
    except InvalidPlan as error:
        about_settings = error.field == "mode" or error.field.startswith("settings")
        raise BadInput(str(error) if about_settings else f"{file}: {error}") from None
    results = judge_samples(tried, chosen, samples)
    counts = dict.fromkeys(("allow", "omit", QUARANTINE, BLOCK), 0)
    for result in results:
        counts[result.action] += 1
        click.echo(str(result))
    click.echo(f"{len(results)} calls: " + ", ".join(f"{n} {action}" for action, n in counts.items()))
    if counts[BLOCK] or counts[QUARANTINE]:
        sys.exit(1)


def _settings(given: tuple[str, ...]) -> dict[str, str]:
    """--settings NAME=VALUE[,NAME=VALUE] as a dict; the values are checked where they are used."""
    found: dict[str, str] = {}
    for item in (part.strip() for text in given for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE ({', '.join(CHOICES)})", param_hint="--settings")
        found[key.strip()] = value.strip()
    return found


def _document(file: Path, error_class: type[click.ClickException] = click.ClickException):
    try:
        return json.loads(file.read_text())
    except ValueError as error:
        raise error_class(f"{file}: not JSON ({error})") from None


def _name_of(document, file: Path) -> str:
    return (document.get("name") if isinstance(document, dict) else "") or file.stem
