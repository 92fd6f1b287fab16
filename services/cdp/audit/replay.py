"""Re-evaluating recorded decisions: against a candidate policy (replay) or the revision that made them (verify).

A decision's outcome is read as verdicts: a yes or no per thing it decided (allow; each property
that may leave; each field that is personal data), so a report can say what would flip, from allow
to deny and back, not only that a result changed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cdp.audit.evaluate import Item
from cdp.audit.records import Recorded

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
    return out


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
        flips = [(k, before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]]
        entry.allow_to_deny += sum(1 for _, was, _ in flips if was)
        entry.deny_to_allow += sum(1 for _, was, _ in flips if not was)
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
                        for k, was, became in sorted(flips)
                    ],
                }
            )
    return report


def item_of(record, candidate: str) -> Item:
    """What to evaluate for a record: its input, under the candidate or its own revision."""
    return (candidate or record.revision, record.entrypoint, record.input)
