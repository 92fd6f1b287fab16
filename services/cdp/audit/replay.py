"""Re-evaluating recorded decisions: against a candidate policy (replay) or the revision that made them (verify).

A decision's outcome is read as verdicts: a yes or no per thing it decided (allow; each property
that may leave; each property collected; each field that may be kept in clear), so a report can say
what would flip, from allow to deny and back, not only that a result changed. A name one side does
not mention is allowed there: a property newly dropped, a field newly personal or a trait newly
withheld flips from allow to deny.

The impact of the flips follows the links the services published: activation's deliveries name the
egress decision each relied on (and its destination and person), the collector's accepted and
rejected events name their collect and pii decisions (and their subject).
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdp.audit.evaluate import Item
from cdp.audit.records import Links, Recorded

MAX_EXAMPLES = 5


def verdicts(entrypoint: str, result: Any) -> dict[str, bool]:
    """What a result allowed (True) or denied (False), by the thing it decided about."""
    if not isinstance(result, dict):
        return {"": bool(result)}
    out: dict[str, bool] = {}
    if "allow" in result:
        out["allow"] = bool(result["allow"])
    if "outcome" in result:  # an identity link: made (allow) or refused or held (deny)
        out["link"] = result["outcome"] == "link"
    for name in result.get("allowed", []):
        out[f"egress:{name}"] = True
    for name in result.get("withheld", []):
        out[f"egress:{name}"] = False
    for name in result.get("drop", []):
        out[f"collect:{name}"] = False
    for name in result.get("personal", []):
        out[f"clear:{name}"] = False  # a personal field may not be kept in clear
    for name in result.get("personal_qualified", []):
        out[f"clear:{name}"] = False  # so may a field at depth, by its qualified name
    for name, pattern in (result.get("value_patterns") or {}).items():
        # A value matching it may not be kept in clear; a pattern changed is two flips.
        out[f"clear-value:{name}:{pattern.get('pattern', '') if isinstance(pattern, dict) else ''}"] = False
    return out


def flips(before: Mapping[str, bool], after: Mapping[str, bool]) -> list[tuple[str, bool, bool]]:
    """(what, was allowed, is allowed) for every verdict that differs; a name one side does not
    mention counts as allowed there."""
    return [
        (k, before.get(k, True), after.get(k, True))
        for k in sorted(before.keys() | after.keys())
        if before.get(k, True) != after.get(k, True)
    ]


@dataclass(frozen=True)
class Flipped:
    """A recorded decision whose verdicts would flip under the candidate."""

    service: str
    entrypoint: str
    decision_id: str
    flips: tuple[tuple[str, bool, bool], ...]


@dataclass
class EntrypointReport:
    replayed: int = 0
    changed: int = 0
    allow_to_deny: int = 0
    deny_to_allow: int = 0
    examples: list[dict] = field(default_factory=list)


@dataclass
class Report:
    candidate: str  # the revision (or label) decisions were re-evaluated against
    by_entrypoint: dict[str, EntrypointReport] = field(default_factory=lambda: defaultdict(EntrypointReport))
    timeline: dict[str, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )  # hour -> [decisions, flips]
    errors: list[str] = field(default_factory=list)
    flipped: dict[str, Flipped] = field(default_factory=dict)  # decision id -> its flips
    impact: dict[str, Any] = field(default_factory=dict)  # see impact()
    policy_diff: list[dict[str, Any]] = field(default_factory=list)  # see policy_diff()

    @property
    def replayed(self) -> int:
        return sum(e.replayed for e in self.by_entrypoint.values())

    @property
    def changed(self) -> int:
        return sum(e.changed for e in self.by_entrypoint.values())

    def as_dict(self) -> dict:
        return {
            "candidate": self.candidate,
            "replayed": self.replayed,
            "changed": self.changed,
            "entrypoints": {
                name: {
                    "replayed": e.replayed,
                    "changed": e.changed,
                    "allow_to_deny": e.allow_to_deny,
                    "deny_to_allow": e.deny_to_allow,
                    "examples": e.examples,
                }
                for name, e in sorted(self.by_entrypoint.items())
            },
            "timeline": [{"hour": hour, "decisions": d, "flips": f} for hour, (d, f) in sorted(self.timeline.items())],
            "impact": self.impact,
            "policy_diff": self.policy_diff,
            "errors": self.errors,
        }


def replay(records: Sequence[Recorded], results: dict[Item, tuple[bool, str]], candidate: str) -> Report:
    """Compare each record's result with what its item evaluates to now (see evaluate_all):
    against candidate, or, with candidate empty, against the revision that made it."""
    report = Report(candidate)
    for item in records:
        record = item.record
        entry = report.by_entrypoint[record.entrypoint]
        entry.replayed += 1
        hour = record.decided_at[:13] + ":00"
        report.timeline[hour][0] += 1
        ok, now = results[item_of(record, candidate)]
        if not ok:  # a policy that fails to evaluate is a finding, not a crash
            report.errors.append(f"{item.service} {record.decision_id[:12]}: {now}")
            continue
        if now == record.result:
            continue
        entry.changed += 1
        before, after = (
            verdicts(record.entrypoint, json.loads(record.result)),
            verdicts(record.entrypoint, json.loads(now)),
        )
        flipped = flips(before, after)
        entry.allow_to_deny += sum(1 for _, was, _ in flipped if was)
        entry.deny_to_allow += sum(1 for _, was, _ in flipped if not was)
        if flipped:
            report.flipped[record.decision_id] = Flipped(
                item.service, record.entrypoint, record.decision_id, tuple(flipped)
            )
        report.timeline[hour][1] += 1
        if len(entry.examples) < MAX_EXAMPLES:
            entry.examples.append(
                {
                    "service": item.service,
                    "decision_id": record.decision_id,
                    "decided_at": record.decided_at,
                    "input": json.loads(record.input),
                    "recorded": json.loads(record.result),
                    "now": json.loads(now),
                    "flips": [
                        {"what": k, "from": "allow" if was else "deny", "to": "allow" if became else "deny"}
                        for k, was, became in flipped
                    ],
                }
            )
    return report


def item_of(record, candidate: str) -> Item:
    """What to evaluate for a record: its input, under the candidate or its own revision."""
    return (candidate or record.revision, record.entrypoint, record.input)


def _label(what: str, was: bool, became: bool) -> str:
    return f"{what} {'allow' if was else 'deny'}→{'allow' if became else 'deny'}"


def _count(rows: Iterable[tuple[str, str]], things: str = "deliveries", persons: str = "persons") -> dict[str, int]:
    """(thing, person) pairs counted as distinct things and distinct persons."""
    pairs = set(rows)
    return {things: len({t for t, _ in pairs}), persons: len({p for _, p in pairs})}


def impact(flipped: Mapping[str, Flipped], links: Links) -> dict[str, Any]:
    """What the flipped decisions touched.

    destinations: per destination, the deliveries and distinct persons that relied on a flipped
    egress decision; of those, the deliveries that would not have happened (allow flipped to deny)
    and, per trait, the deliveries that would have withheld it (egress:<trait> allow to deny) or
    sent it (deny to allow). events: per entrypoint (collect, pii), the events and distinct subjects
    that relied on a flipped decision, in all and per flip."""
    destinations: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for d in links.deliveries:
        decision = flipped.get(d.decision_id)
        if decision is None:
            continue
        rows = destinations[d.destination_id]
        row = (d.delivery_id, d.person_id)
        rows["all"].append(row)
        rows["decisions:" + d.decision_id].append(row)
        for what, was, _ in decision.flips:
            if what == "allow" and was:
                rows["not_delivered"].append(row)
            elif what.startswith("egress:"):
                rows[("withheld:" if was else "released:") + what.removeprefix("egress:")].append(row)
    by_destination = []
    for destination_id, rows in sorted(destinations.items()):
        name, purpose = links.destinations.get(destination_id, ("", ""))
        by_destination.append(
            {
                "destination_id": destination_id,
                "name": name,
                "purpose": purpose,
                "decisions": sum(1 for k in rows if k.startswith("decisions:")),
                **_count(rows["all"]),
                "not_delivered": _count(rows.get("not_delivered", [])),
                "withheld": {
                    k.removeprefix("withheld:"): _count(v) for k, v in sorted(rows.items()) if k.startswith("withheld:")
                },
                "released": {
                    k.removeprefix("released:"): _count(v) for k, v in sorted(rows.items()) if k.startswith("released:")
                },
            }
        )
    events: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for e in links.events:
        for decision_id in e.decision_ids:
            decision = flipped.get(decision_id)
            if decision is None:
                continue
            rows = events[decision.entrypoint]
            row = (e.event_id, e.subject)
            rows[""].append(row)
            for what, was, became in decision.flips:
                rows[_label(what, was, became)].append(row)
    by_entrypoint = {}
    for entrypoint, rows in sorted(events.items()):
        by_entrypoint[entrypoint] = {
            **_count(rows.pop(""), "events", "subjects"),
            "flips": {k: _count(v, "events", "subjects") for k, v in sorted(rows.items())},
        }
    return {"destinations": by_destination, "events": by_entrypoint}


def policy_diff(in_force: Mapping[str, str], candidate: Mapping[str, str]) -> list[dict[str, Any]]:
    """The files (as a revision records them: modules, tests, merged data) that differ between the
    revision in force and the candidate: status, lines added and removed, and a unified diff."""
    out = []
    for name in sorted(in_force.keys() | candidate.keys()):
        old, new = in_force.get(name), candidate.get(name)
        if old == new:
            continue
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"in force/{name}" if old is not None else "/dev/null",
                tofile=f"candidate/{name}" if new is not None else "/dev/null",
            )
        )
        body = [line for line in lines if not line.startswith(("---", "+++"))]
        out.append(
            {
                "file": name,
                "status": "added" if old is None else "removed" if new is None else "changed",
                "added": sum(1 for line in body if line.startswith("+")),
                "removed": sum(1 for line in body if line.startswith("-")),
                "diff": "".join(lines),
            }
        )
    return out
