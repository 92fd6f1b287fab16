"""`cdp identity`: persons, the evidence that links their identifiers, and what was done to it.

An identifier is given as TYPE=VALUE (--id email=ana@example.com, --id crm_id=C-9), or with the
shorthands --user-id, --anonymous-id, --email and --phone. Emails and phones come back as their
opaque node id unless the caller may see them in clear.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from pathlib import Path

import click
from google.protobuf import json_format

from cdp.api.identity.v1 import identity_pb2
from cdp.cli.client import call, connect, said, with_caller
from cdp.client import CdpError

EXPORT_COLUMNS = ("identifier_type", "identifier_value", "person_id")


def parse_id(text: str, param_hint: str = "--id") -> tuple[str, str]:
    """TYPE=VALUE as a (type, value) pair; the value may hold '=' itself."""
    kind, sep, value = text.partition("=")
    kind, value = kind.strip(), value.strip()
    if not sep or not kind or not value:
        raise click.BadParameter(f"{text!r}: expected TYPE=VALUE, e.g. email=ana@example.com", param_hint=param_hint)
    if kind == "email":
        value = value.lower()
    return kind, value


def given_identifiers(
    user_id: str = "", anonymous_id: str = "", email: str = "", phone: str = "", ids: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """The identifiers given by shorthand (in that order), then those given with --id."""
    shorthand = [
        ("user_id", user_id),
        ("anonymous_id", anonymous_id),
        ("email", email.strip().lower()),
        ("phone", phone.strip()),
    ]
    return [(k, v) for k, v in shorthand if v] + [parse_id(text) for text in ids]


def identifier_options(function):
    """--user-id, --anonymous-id, --email, --phone and --id TYPE=VALUE (repeatable)."""
    options = [
        click.option("--user-id", default=""),
        click.option("--anonymous-id", default=""),
        click.option("--email", default=""),
        click.option("--phone", default=""),
        click.option("--id", "ids", multiple=True, metavar="TYPE=VALUE", help="Any identifier, e.g. crm_id=C-9."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def one_person(person_id: str, identifiers: list[tuple[str, str]]) -> tuple[str, tuple[str, str] | None]:
    """A person by id or by exactly one identifier."""
    if bool(person_id) + len(identifiers) != 1:
        raise click.UsageError(
            "give one of --person-id, --user-id, --anonymous-id, --email, --phone or --id TYPE=VALUE"
        )
    return person_id, identifiers[0] if identifiers else None


def shown(identifier: identity_pb2.Identifier) -> str:
    return f"{identifier.type}={identifier.value}"


def as_dict(message) -> dict:
    return json_format.MessageToDict(message)


def echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2))


def evidence_lines(evidence: identity_pb2.Evidence) -> list[str]:
    """One edge: id, the two identifiers, rule@version, score, event, decision, and whether it is
    active, refused, held for review or retracted (and why); then a model's weight per field."""
    if evidence.active:
        state = "active"
    else:
        kind = "retracted" if evidence.retracted else "held" if evidence.held else "refused"
        state = kind + (f": {evidence.reason}" if evidence.reason else "")
    lines = [
        f"{evidence.edge_id}  {shown(evidence.a)} -- {shown(evidence.b)}  "
        f"{evidence.rule}@{evidence.rule_version or '-'}  score {evidence.score:.2f}  "
        f"event {evidence.event_id or '-'}  decision {evidence.decision_id or '-'}  {state}"
    ]
    lines += [f"    {w.field:<16} {w.level:<20} {w.weight:+.2f}" for w in evidence.weights]
    return lines


def split_lines(split: identity_pb2.PersonSplit) -> list[str]:
    why = f" ({split.reason})" if split.reason else ""
    lines = [f"split {split.person_id}{why}" + (f" by {split.actor}" if split.actor else "")]
    lines += [f"  {part.person_id}: " + ", ".join(shown(i) for i in part.identifiers) for part in split.parts]
    return lines


@click.group()
def identity() -> None:
    """Persons and the evidence that links their identifiers: explain, split, retract, review."""


@identity.command("show")
@click.option("--person-id", default="")
@identifier_options
@click.option("--json", "as_json", is_flag=True, help="The person as JSON.")
@with_caller
def show(person_id, user_id, anonymous_id, email, phone, ids, as_json, subject, roles):
    """A person and every identifier evidenced as theirs."""
    person_id, identifier = one_person(person_id, given_identifiers(user_id, anonymous_id, email, phone, ids))
    person = call(connect(subject, roles).identity.get_person, person_id, identifier)
    if as_json:
        echo_json(as_dict(person))
        return
    notes = [n for n, on in (("probabilistic", person.probabilistic), ("protected", person.protected)) if on]
    click.echo(f"person {person.person_id}" + (f" ({', '.join(notes)})" if notes else ""))
    for i in person.identifiers:
        click.echo(f"  {i.type:<16} {i.value}")
    if person.merged_person_ids:
        click.echo("  merged from " + ", ".join(person.merged_person_ids))


@identity.command("explain")
@click.option("--person-id", default="", help="Every edge of this person.")
@identifier_options
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
@with_caller
def explain(person_id, user_id, anonymous_id, email, phone, ids, as_json, subject, roles):
    """The evidence path between two identifiers, or every edge of one person.

    Give two identifiers (e.g. --id user_id=u-1 --email ana@example.com), or one identifier or
    --person-id for all of that person's evidence. Evidence that was not admitted is listed too.
    """
    identifiers = given_identifiers(user_id, anonymous_id, email, phone, ids)
    if person_id and identifiers:
        raise click.UsageError("give --person-id, or one or two identifiers, not both")
    if not person_id and not 1 <= len(identifiers) <= 2:
        raise click.UsageError("give two identifiers, or one identifier or --person-id")
    a = identifiers[0] if identifiers else None
    b = identifiers[1] if len(identifiers) == 2 else None
    answer = call(connect(subject, roles).identity.explain, a, b, person_id)
    if as_json:
        echo_json(as_dict(answer))
        return
    if b is not None:
        verdict = "the same person" if answer.same_person else "different persons"
        click.echo(
            f"{a[0]}={a[1]} ({answer.person_a or 'unknown'}) and {b[0]}={b[1]} "
            f"({answer.person_b or 'unknown'}): {verdict}"
        )
        click.echo(f"path: {len(answer.path)} edge(s)")
    else:
        click.echo(f"person {answer.person_a}: {len(answer.path)} edge(s)")
    for evidence in answer.path:
        for line in evidence_lines(evidence):
            click.echo(f"  {line}")
    if answer.refused:
        click.echo(f"not admitted: {len(answer.refused)} edge(s)")
        for evidence in answer.refused:
            for line in evidence_lines(evidence):
                click.echo(f"  {line}")


@identity.command("history")
@click.option("--person-id", default="")
@identifier_options
@click.option("--json", "as_json", is_flag=True, help="The entries as JSON.")
@with_caller
def history(person_id, user_id, anonymous_id, email, phone, ids, as_json, subject, roles):
    """Merges, splits and refusals that concerned a person, oldest first: when, what and why."""
    person_id, identifier = one_person(person_id, given_identifiers(user_id, anonymous_id, email, phone, ids))
    entries = call(connect(subject, roles).identity.history, person_id, identifier)
    if as_json:
        echo_json([as_dict(e) for e in entries])
        return
    if not entries:
        click.echo("no history")
    for e in entries:
        others = f" with {', '.join(e.other_person_ids)}" if e.other_person_ids else ""
        refs = [
            f"{name} {value}"
            for name, value in (
                ("edge", e.edge_id),
                ("event", e.event_id),
                ("decision", e.decision_id),
                ("by", e.actor),
            )
            if value
        ]
        why = f": {e.reason}" if e.reason else ""
        click.echo(f"{e.at}  {e.kind:<10} {e.person_id}{others}{why}" + (f"  [{', '.join(refs)}]" if refs else ""))


@identity.command("split")
@click.option("--person-id", required=True)
@click.option("--id", "ids", multiple=True, metavar="TYPE=VALUE", help="An identifier to split off (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Split every identifier into a person of its own.")
@click.option("--reason", default="", help="Why (kept in the person's history).")
@click.option("--json", "as_json", is_flag=True, help="The splits as JSON.")
@with_caller
def split(person_id, ids, everything, reason, as_json, subject, roles):
    """Split identifiers off a person into a person of their own (or, with --all, every one alone)."""
    identifiers = [parse_id(text) for text in ids]
    if bool(identifiers) == everything:
        raise click.UsageError("give the identifiers to split off with --id TYPE=VALUE, or --all")
    splits = call(connect(subject, roles).identity.split, person_id, identifiers, reason)
    if as_json:
        echo_json([as_dict(s) for s in splits])
        return
    if not splits:
        click.echo("nothing split")
    for s in splits:
        for line in split_lines(s):
            click.echo(line)


@identity.command("retract")
@click.option("--event-id", default="", help="Every link that call made.")
@click.option("--id", "id_text", default="", metavar="TYPE=VALUE", help="Every link of this identifier.")
@click.option("--edge-id", default="", help="One edge.")
@click.option("--reason", required=True, help="Why (kept in the person's history).")
@click.option("--basis", default="", help='The legal basis, e.g. "GDPR Art. 16 rectification".')
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON.")
@with_caller
def retract(event_id, id_text, edge_id, reason, basis, as_json, subject, roles):
    """Retract evidence: a call's links, an identifier's, or one edge; persons it held together split."""
    if bool(event_id) + bool(id_text) + bool(edge_id) != 1:
        raise click.UsageError("give one of --event-id, --id TYPE=VALUE or --edge-id")
    identifier = parse_id(id_text) if id_text else None
    done = call(
        connect(subject, roles).identity.retract,
        event_id=event_id,
        identifier=identifier,
        edge_id=edge_id,
        reason=reason,
        basis=basis,
    )
    if as_json:
        echo_json(as_dict(done))
        return
    click.echo(f"retracted {done.retracted} edge(s)")
    for s in done.splits:
        for line in split_lines(s):
            click.echo(line)


@identity.group("review")
def review() -> None:
    """Probabilistic links held for a reviewer."""


@review.command("list")
@click.option("--limit", default=0, help="At most this many (default: the server's page).")
@click.option("--json", "as_json", is_flag=True, help="The reviews as JSON.")
@with_caller
def list_reviews(limit, as_json, subject, roles):
    """Links held for review: the two persons, the score band and the model's evidence."""
    reviews = call(connect(subject, roles).identity.reviews, limit)
    if as_json:
        echo_json([as_dict(r) for r in reviews])
        return
    if not reviews:
        click.echo("nothing to review")
    for r in reviews:
        click.echo(f"review {r.review_id}: {r.person_a} ~ {r.person_b}  band {r.band}  requested {r.requested_at}")
        for line in evidence_lines(r.evidence):
            click.echo(f"  {line}")


@review.command("approve")
@click.argument("review_id")
@click.option("--reason", default="")
@with_caller
def approve(review_id, reason, subject, roles):
    """Admit the held link: its two persons merge."""
    done = call(connect(subject, roles).identity.decide_review, review_id, True, reason)
    click.echo(f"approved {review_id} (decision {done.decision_id})")
    for m in done.merges:
        click.echo(f"  merged {m.merged_id} into {m.survivor_id}")


@review.command("reject")
@click.argument("review_id")
@click.option("--reason", required=True)
@with_caller
def reject(review_id, reason, subject, roles):
    """Refuse the held link: its two persons stay apart."""
    done = call(connect(subject, roles).identity.decide_review, review_id, False, reason)
    click.echo(f"rejected {review_id} (decision {done.decision_id})")


@identity.command("train")
@click.option("--max-pairs", default=0, help="Random pairs for the u probabilities (default: the server's).")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON (the summary parsed).")
@with_caller
def train(max_pairs, as_json, subject, roles):
    """Fit the matching model on the records held, then re-match every record with it."""
    done = call(connect(subject, roles).identity.train, max_pairs)
    if as_json:
        answer = as_dict(done)
        with contextlib.suppress(ValueError):  # else kept as the text it is
            answer["summary"] = json.loads(done.summary) if done.summary else {}
        echo_json(answer)
        return
    click.echo(
        f"model {done.model_version}: {done.records} record(s), {done.candidate_pairs} candidate pair(s), "
        f"{done.links} link(s), {done.reviews} held for review"
    )


@identity.command("lift-suppression")
@click.option("--id", "id_text", required=True, metavar="TYPE=VALUE", help="The forgotten identifier.")
@click.option("--reason", required=True)
@with_caller
def lift_suppression(id_text, reason, subject, roles):
    """Let the collector take calls carrying a forgotten identifier again."""
    identifier = parse_id(id_text)
    lifted = call(connect(subject, roles).identity.lift_suppression, identifier, reason)
    if lifted:
        click.echo(f"lifted the suppression of {identifier[0]}={identifier[1]}")
    else:
        click.echo(f"{identifier[0]}={identifier[1]} was not suppressed")


@identity.command("export")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the CSV here (default: standard output).",
)
@click.option(
    "--clear",
    is_flag=True,
    help="Emails and phones in clear, for a caller whose role may see them (else refused, or their opaque node ids).",
)
@click.option("--purpose", default="", help="Why they are read in clear (a short label; the access log records it).")
@click.option("--page-size", default=1000, show_default=True)
@with_caller
def export(out, clear, purpose, page_size, subject, roles):
    """Every identifier and its person as CSV: identifier_type, identifier_value, person_id."""
    rows = connect(subject, roles).identity.identifiers(page_size, clear, purpose)
    # To a file: written beside it and moved into place when whole, so a failed export leaves none.
    partial = out.with_name(out.name + ".partial") if out is not None else None
    stream = partial.open("w", newline="", encoding="utf-8") if partial is not None else sys.stdout
    count, whole = 0, False
    try:
        writer = csv.writer(stream)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow((row.identifier.type, row.identifier.value, row.person_id))
            count += 1
        whole = True
    except CdpError as error:
        raise said(error) from None
    finally:
        if partial is not None:
            stream.close()
            if whole:
                os.replace(partial, out)
            else:
                partial.unlink(missing_ok=True)
        else:
            stream.flush()
    if out is not None:
        click.echo(f"exported {count} row(s) to {out}")
    else:
        click.echo(f"exported {count} row(s)", err=True)
