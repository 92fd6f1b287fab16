"""A plan tried on sample calls, offline: what the collector would do with each (`cdp plan validate`).

Each sample is one Segment JSON call a line (or a line holding {"batch": [calls]}, as /v1/batch
takes). It goes through the collector's own checks: the call's well-formedness (segment_json,
domain.check; a malformed call is rejected, so blocked) and the plan's judge() under the given
settings. cdp.collect, which may drop properties or refuse calls of a source, is not asked: its
policies are the platform's, not the plan's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cdp.collector import domain, segment_json
from cdp.collector.plans import BLOCK, Settings, TrackingPlan, planned_call


@dataclass(frozen=True)
class Sample:
    """line: its number in the file (with the call's index in a batch line: 3[1]); call: what it
    is (track 'Order Completed'); action: allow, omit, quarantine or block; reasons:
    "field: rule (kind, action)" for each violation."""

    line: str
    call: str
    action: str
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        reasons = "".join(f"\n    {r}" for r in self.reasons)
        return f"line {self.line}: {self.call}: {self.action}{reasons}"


def judge_samples(plan: TrackingPlan, settings: Settings, lines: Iterable[str]) -> list[Sample]:
    """What the collector would do with each sample call (blank lines are skipped)."""
    found = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            document = segment_json.loads(line.encode())
        except ValueError as error:
            found.append(Sample(str(number), "call", BLOCK, (f"line: not JSON ({error})",)))
            continue
        batch = document.get("batch") if isinstance(document, dict) else None
        if isinstance(batch, list):
            found += [judge_sample(plan, settings, f"{number}[{i}]", call) for i, call in enumerate(batch)]
        else:
            found.append(judge_sample(plan, settings, str(number), document))
    return found


def judge_sample(plan: TrackingPlan, settings: Settings, where: str, call: Any) -> Sample:
    """What the collector would do with one decoded Segment JSON call."""
    try:
        event = segment_json.to_event(call)
    except segment_json.MalformedCall as error:
        return Sample(where, "call", BLOCK, (f"{error.field}: {error.rule} (malformed call)",))
    rejection = domain.validate(event, event.ByteSize())
    what = describe(event)
    if rejection is not None:
        return Sample(where, what, BLOCK, (f"{rejection} (malformed call)",))
    verdict = plan.judge(planned_call(event), settings)
    reasons = tuple(f"{v.field}: {v.rule} ({v.kind.replace('_', ' ')}, {v.action})" for v in verdict.violations)
    return Sample(where, what, verdict.action, reasons)


def describe(event) -> str:
    name = event.event if event.type == "track" else event.name
    return f"{event.type} {name!r}" if name else event.type
