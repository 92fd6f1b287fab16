"""`cdp audit`: privacy audits by replaying recorded policy decisions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from cdp.audit import html
from cdp.audit.access import access_rows, since_time, text_lines
from cdp.audit.evaluate import evaluate_all
from cdp.audit.identity import GRAPH_MESSAGES, identity_changes
from cdp.audit.records import (
    Links,
    Witnessed,
    chain_breaks,
    head_breaks,
    read_accesses,
    read_chain,
    read_decisions,
    read_in_force,
    read_links,
    read_revisions,
    read_witnessed,
)
from cdp.audit.replay import impact, item_of, policy_diff, replay
from cdp.cli.client import call, connect, credentials_dir, state_dir
from cdp.client import EventLogClient
from cdp.platform.clock import SYSTEM_CLOCK
from cdp.platform.config import SERVICES
from cdp.platform.heads import SignedHead, load_head_key
from cdp.platform.policy import bundle_from_sources, load_bundle
from cdp.platform.witness import read_witnesses


def _logs(services: tuple[str, ...]) -> dict[str, EventLogClient]:
    platform = connect()
    return {s: platform.eventlog(s) for s in (services or SERVICES)}


def _replay_with_progress(records, sources: dict[str, dict[str, str]], candidate: str, label: str):
    """Evaluate every distinct recorded input (on all cores), with a progress bar, then compare."""
    started = time.perf_counter()
    items = [item_of(r.record, candidate) for r in records]
    with click.progressbar(length=len(set(items)), label=label, file=sys.stderr) as bar:
        results = evaluate_all(items, sources, progress=bar.update)
    return replay(records, results, candidate), time.perf_counter() - started


@click.group()
def audit() -> None:
    """Replay recorded decisions against a candidate policy, or verify the log."""


@audit.command("replay")
@click.option(
    "--policies",
    "policies_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The candidate policy directory (as policies/: cdp/**.rego and data/*.json).",
)
@click.option(
    "--since", default="", help="Only decisions made at or after this time (ISO 8601, or back from now: 1h, 2d)."
)
@click.option(
    "--service", "services", multiple=True, type=click.Choice(SERVICES), help="Only these services (repeatable)."
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as HTML.")
def replay_command(policies_dir, since, services, json_path, html_path):
    """What would change if DIR had been the policy: per entrypoint, how many would flip; the
    destinations, deliveries, events and persons the flips touch; and how DIR differs from the
    revision in force."""
    since = _since(since)
    logs = _logs(services)
    records = call(read_decisions, logs, since)
    bundle = load_bundle(policies_dir)
    report, seconds = _replay_with_progress(records, {bundle.revision: bundle.sources()}, bundle.revision, "replaying")
    # Only the logs of services whose decisions would flip: the collector's holds every event.
    services_flipped = {f.service for f in report.flipped.values()}
    flipped_at = {service: log for service, log in logs.items() if service in services_flipped}
    report.impact = impact(report.flipped, call(read_links, flipped_at, set(report.flipped)) if flipped_at else Links())
    report.policy_diff = _policy_diffs(call(read_in_force, logs), bundle.sources())
    data = report.as_dict()
    click.echo(
        f"candidate revision {bundle.revision[:12]}: {data['replayed']} decisions replayed in {seconds:.2f}s, "
        f"{data['changed']} would change"
    )
    _echo_policy_diff(data["policy_diff"])
    click.echo(f"{'entrypoint':<32} {'replayed':>9} {'changed':>8} {'allow→deny':>11} {'deny→allow':>11}")
    for name, e in data["entrypoints"].items():
        click.echo(f"{name:<32} {e['replayed']:>9} {e['changed']:>8} {e['allow_to_deny']:>11} {e['deny_to_allow']:>11}")
        for example in e["examples"][:2]:
            flips = ", ".join(f"{f['what']} {f['from']}→{f['to']}" for f in example["flips"]) or "result differs"
            click.echo(f"    e.g. {example['service']} decision {example['decision_id'][:12]}: {flips}")
    _echo_impact(data["impact"])
    if not services or "identity" in services:
        messages = call(lambda: list(_logs(("identity",))["identity"].read_messages(*GRAPH_MESSAGES)))
        changes = data["identity"] = identity_changes(messages, bundle)
        click.echo(
            f"identity: of {changes['persons']} persons, {changes['would_split']} would split and "
            f"{changes['would_merge']} would merge ({changes['persons_under_candidate']} persons in all)"
        )
        for example in changes["split_examples"][:2]:
            click.echo(f"    e.g. {example['person_id']} would split into {len(example['into'])}")
        for example in changes["merge_examples"][:2]:
            click.echo(f"    e.g. {', '.join(example['persons'])} would merge")
    if json_path:
        json_path.write_text(json.dumps(data, indent=2))
        click.echo(f"wrote {json_path}")
    if html_path:
        access = access_rows(call(read_accesses, logs), since=since)
        html_path.write_text(html.render(report, access))
        click.echo(f"wrote {html_path}")


DIFF_LINES = 40  # of each file's diff on the terminal; the JSON and HTML reports hold it all


def _policy_diffs(in_force: dict[str, tuple[str, dict[str, str]]], candidate: dict[str, str]) -> list[dict]:
    """The candidate's diff against each revision in force (one, unless services disagree)."""
    by_revision: dict[str, tuple[list[str], dict[str, str]]] = {}
    for service, (revision, sources) in sorted(in_force.items()):
        by_revision.setdefault(revision, ([], sources))[0].append(service)
    return [
        {"in_force": revision, "services": services, "files": policy_diff(sources, candidate)}
        for revision, (services, sources) in sorted(by_revision.items())
    ]


def _echo_policy_diff(diffs: list[dict]) -> None:
    for diff in diffs:
        files = diff["files"]
        click.echo(
            f"policy diff against revision {diff['in_force'][:12]} (in force at {', '.join(diff['services'])}): "
            + (f"{len(files)} file(s) differ" if files else "no file differs")
        )
        for f in files:
            click.echo(f"    {f['status']:<8} {f['file']} +{f['added']} -{f['removed']}")
        for f in files:
            lines = f["diff"].splitlines()
            for line in lines[:DIFF_LINES]:
                click.echo(f"    | {line}")
            if len(lines) > DIFF_LINES:
                click.echo(f"    | ... {len(lines) - DIFF_LINES} more lines (see --json or --html)")


def _echo_impact(found: dict) -> None:
    for d in found["destinations"]:
        name = f"{d['name']} ({d['destination_id']})" if d["name"] else d["destination_id"]
        click.echo(
            f"destination {name}, purpose {d['purpose'] or '?'}: {d['deliveries']} deliveries to "
            f"{d['persons']} persons relied on {d['decisions']} decision(s) that would flip"
        )
        if d["not_delivered"]["deliveries"]:
            n = d["not_delivered"]
            click.echo(f"    {n['deliveries']} deliveries to {n['persons']} persons would not have happened")
        for trait, n in d["withheld"].items():
            click.echo(
                f"    {trait} would have been withheld from {n['deliveries']} deliveries to {n['persons']} persons"
            )
        for trait, n in d["released"].items():
            click.echo(f"    {trait} would have left in {n['deliveries']} deliveries to {n['persons']} persons")
    for entrypoint, e in found["events"].items():
        click.echo(
            f"{entrypoint}: {e['events']} events of {e['subjects']} subjects relied on decisions that would flip"
        )
        for flip, n in e["flips"].items():
            click.echo(f"    {flip}: {n['events']} events of {n['subjects']} subjects")


@audit.command("verify")
@click.option(
    "--service", "services", multiple=True, type=click.Choice(SERVICES), help="Only these services (repeatable)."
)
def verify_command(services):
    """Re-evaluate every decision against the revision that made it; fail on any difference,
    a broken hash chain, or a chain that disagrees with a head its service signed."""
    logs = _logs(services)
    records = call(read_decisions, logs)
    revisions = call(read_revisions, logs)
    rebuilt = [
        f"revision {r[:12]}: its recorded sources rebuild to another revision"
        for r, sources in revisions.items()
        if bundle_from_sources(sources).revision != r
    ]
    report, seconds = _replay_with_progress(records, revisions, "", "verifying")
    chain = call(read_chain, logs)  # the decision records and access records, as chained
    problems = rebuilt + chain_breaks(chain) + _head_breaks(chain, logs) + report.errors
    for name, e in report.as_dict()["entrypoints"].items():
        for example in e["examples"]:
            problems.append(
                f"{example['service']} decision {example['decision_id'][:12]} ({name}): recorded "
                f"{json.dumps(example['recorded'])[:120]} but its revision now gives {json.dumps(example['now'])[:120]}"
            )
    click.echo(
        f"{len(records)} decisions from {len(revisions)} revision(s) re-evaluated in {seconds:.2f}s; "
        f"{len(chain) - len(records)} access records chained with them"
    )
    if problems or report.changed:
        for problem in problems:
            click.echo(f"FAIL {problem}", err=True)
        raise SystemExit(1)
    click.echo("OK: every decision reproduces and every hash chain is intact and agrees with its signed heads")


def _head_breaks(records, logs: dict[str, EventLogClient]) -> list[str]:
    """The chains checked against their services' signed heads: the one in each witness file, and
    those the peers recorded in their stores (read from every service's log)."""
    keys = {service: load_head_key(credentials_dir(), service) for service in logs}
    local = [
        Witnessed(f"{service}'s witness file", SignedHead.from_dict(fields, service))
        for service, fields in read_witnesses(state_dir()).items()
        if service in logs
    ]
    peers = call(read_witnessed, _logs(()) if len(logs) < len(SERVICES) else logs)
    return head_breaks(records, local + peers, keys)


def _since(text: str) -> str:
    try:
        return since_time(text, SYSTEM_CLOCK.now())
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give an ISO 8601 time (2026-12-01T09:00:00Z) or a span back from now (30m, 1h, 2d)",
            param_hint="--since",
        ) from None


@audit.command("access")
@click.option("--person", "person", default="", help="Only reads of this person's data (a person id).")
@click.option("--caller", "caller", default="", help="Only reads by this caller (a subject, or destination:ID).")
@click.option("--since", default="", help="Only reads at or after this time (ISO 8601, or back from now: 1h, 2d).")
@click.option(
    "--service", "services", multiple=True, type=click.Choice(SERVICES), help="Only these services (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="The rows as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write them as HTML.")
def access_command(person, caller, since, services, as_json, html_path):
    """Who read whose personal data in clear, and when: one row per read (time, caller, roles,
    person, service, operation, fields, purpose, and the decision that allowed it)."""
    if not person and not caller:
        raise click.UsageError("give --person ID or --caller WHO (or both)")
    since = _since(since)
    rows = access_rows(call(read_accesses, _logs(services)), person=person, caller=caller, since=since)
    if html_path:
        html_path.write_text(html.access_page(rows))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for line in text_lines(rows):
        click.echo(line)
    click.echo(f"{len(rows)} read(s)", err=True)
