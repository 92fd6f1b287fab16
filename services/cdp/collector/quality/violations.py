"""Plan violations as the collector recorded them, counted per kind and hour, with masked examples.

A kind is a source's call (type and event name) breaking one rule at one field. What is counted:
the violations an accepted call carries (a plan in allow mode), those of a quarantined call, and
the field and rule of a rejected one (by a plan, or by cdp.collect: then no plan). Any further
field a later collector records on them is ignored here.

Examples never show a personal value in clear: a value the collector sealed is a token, masked
here (***) at any depth and inside URLs; ids and context are left out altogether.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.collector.v1 import quality_pb2 as qpb
from cdp.collector.admission import json_object, traits_of
from cdp.collector.quality import bounds, tables
from cdp.collector.quality.upsert import upsert
from cdp.platform.personal import MASK
from cdp.platform.sealed import replace_tokens

EXAMPLES = 3  # shown per kind unless a caller asks for another number
MAX_EXAMPLES = 5  # kept per kind (the latest), and the most a caller may ask for
EXAMPLE_BYTES = 2000  # of an example's fields, as JSON
# Kinds a source may have. The names are its callers' and a client's write key is public: past
# this, a new kind (an invented property or event name) adds to one kind of its call type, whose
# event and field are OTHER, rather than to a table, and a listing, without bound.
MAX_KINDS_A_SOURCE = 10_000
OTHER = bounds.OTHER
OTHER_RULE = f"{OTHER}: kinds past the first {MAX_KINDS_A_SOURCE} of this source"
_KEYWORD = re.compile(r"\((\w+)\)\s*$")
Kind = tuple[str, str, str, str, str]  # source id, call type, event, field, rule


@dataclass(slots=True)
class Found:
    source_id: str
    event_type: str
    event: str
    field: str
    rule: str
    outcome: str  # accepted, quarantined, rejected
    plan_name: str
    plan_version: int
    at: str
    event_id: str
    call: Any  # the stored Event: its example is made only if it is one the page keeps
    sealed_paths: Sequence[str]

    @property
    def kind(self) -> Kind:
        return (self.source_id, self.event_type, self.event, self.field, self.rule)

    def example(self) -> dict[str, str]:
        return example(self.event_id, self.at, self.call, self.field, self.sealed_paths)


def rule_label(rule: str, plan_name: str) -> str:
    """A rule's short name, for metric labels: the schema keyword it names ("type", "required"),
    "unplanned" for an event the plan does not list, "policy" for a refusal of cdp.collect."""
    if not plan_name:
        return "policy"
    if "is not in tracking plan" in rule:
        return "unplanned"
    found = _KEYWORD.search(rule)
    return found.group(1)[:40] if found else "other"


def masked(value: Any, name: str) -> Any:
    """A stored value with every token in it (at any depth, inside URLs) shown as ***."""
    return replace_tokens(value, name, lambda _field, _token: MASK)


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def value_at(fields: dict[str, Any], path: str) -> tuple[bool, Any]:
    """The value at a violation's field (properties.total, traits.address.city, items[0]):
    (found, value). Its first step names the object (properties or traits)."""
    value: Any = fields
    for name, index in _STEP.findall("." + path.split(".", 1)[1]) if "." in path else ():
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return False, None
    return (True, value) if "." in path else (False, None)


def example(event_id: str, at: str, event, field: str, sealed_paths: Iterable[str]) -> dict[str, str]:
    scope = "traits" if event.type in ("identify", "group") else "properties"
    fields = traits_of(event) if scope == "traits" else json_object(event.properties)
    if field == "event":
        value = orjson.dumps(event.event).decode()
    else:
        found, raw = value_at(fields, field)
        sealed = any(field == p or field.startswith(p + ".") or field.startswith(p + "[") for p in sealed_paths)
        value = orjson.dumps(MASK if sealed else masked(raw, field.rsplit(".", 1)[-1])).decode() if found else ""
    text = orjson.dumps(masked(fields, scope)).decode()
    if len(text) > EXAMPLE_BYTES:
        text = orjson.dumps({"truncated": True, "names": sorted(fields)[:50]}).decode()
    return {"event_id": event_id, "at": at, "value": value, "fields": text}


def found_in(message) -> list[Found]:
    """The violations a stored collector event records (none for most)."""
    if isinstance(message, pb.EventAccepted):
        if not message.violations:
            return []
        return _each(
            message.event_id,
            message.source_id,
            message.event,
            message.violations,
            "accepted",
            message.plan_name,
            message.plan_version,
            message.event.received_at,
            message.encrypted_fields,
        )
    if isinstance(message, pb.EventQuarantined):
        q = message.quarantined
        return _each(
            q.event_id, q.source_id, q.event, q.violations, "quarantined", q.plan_name, q.plan_version, q.at, ()
        )
    if isinstance(message, pb.EventRejected):
        # Every violation the call had (recorded since plans gained settings), else the first.
        every = list(message.violations) or [pb.Violation(field=message.field, rule=message.rule)]
        return _each(
            "",
            message.source_id,
            message.event,
            every,
            "rejected",
            message.plan_name,
            message.plan_version,
            message.at,
            (),
        )
    return []


def _each(event_id, source_id, event, violations, outcome, plan_name, plan_version, at, sealed_paths) -> list[Found]:
    name = tables.name_of(event)
    # A rule names the plan's version ("... is not in tracking plan web v2"): a new version is not a
    # new kind of violation (the version is kept beside it).
    versioned = f"tracking plan {plan_name} v{plan_version}"
    return [
        Found(
            source_id,
            event.type,
            name,
            v.field,
            v.rule.replace(versioned, f"tracking plan {plan_name}") if plan_name else v.rule,
            outcome,
            plan_name,
            plan_version,
            at,
            event_id,
            event,
            sealed_paths,
        )
        for v in violations
    ]


def write(conn: sa.Connection, found: Sequence[Found]) -> None:
    """A page's violations: summed in memory under plain tuples, then one upsert per table; the
    examples of only the last few calls of each kind are made."""
    kinds: dict[Kind, list[Any]] = {}  # -> [total, first, last, plan name]
    hours: dict[tuple[Any, ...], int] = {}
    latest: dict[Kind, list[Found]] = {}
    counted_as = _within_bounds(conn, list(dict.fromkeys(f.kind for f in found)))
    for f in found:
        kind = counted_as.get(f.kind, f.kind)
        row = kinds.get(kind)
        if row is None:
            kinds[kind] = [1, f.at, f.at, f.plan_name]
        else:
            row[0] += 1
            if f.at < row[1]:
                row[1] = f.at
            elif f.at > row[2]:
                row[2] = f.at
        hour = (kind, tables.hour_of(f.at), f.outcome, f.plan_name, f.plan_version)
        hours[hour] = hours.get(hour, 0) + 1
        kept = latest.setdefault(kind, [])
        kept.append(f)
        if len(kept) > MAX_EXAMPLES:
            del kept[0]
    ids = {kind: tables.key_of(*kind) for kind in kinds}
    rows = [
        {
            "kind_id": ids[k],
            "source_id": k[0],
            "event_type": k[1],
            "event": k[2],
            "field": k[3],
            "rule": k[4],
            "rule_label": rule_label(k[4], plan),
            "total": n,
            "first_seen": first,
            "last_seen": last,
        }
        for k, (n, first, last, plan) in kinds.items()
    ]
    upsert(conn, tables.violation_kinds, rows, add=["total"], least=["first_seen"], greatest=["last_seen"])
    counts = [
        {"kind_id": ids[k], "hour": h, "outcome": outcome, "plan_name": plan, "plan_version": version, "count": n}
        for (k, h, outcome, plan, version), n in hours.items()
    ]
    upsert(conn, tables.violation_hours, counts, add=["count"])
    # The latest calls of a kind take its slots from the first: a page's examples replace the older ones.
    examples = [
        {"kind_id": ids[k], "slot": slot, **f.example()} for k, kept in latest.items() for slot, f in enumerate(kept)
    ]
    upsert(conn, tables.violation_examples, examples, replace=["event_id", "at", "value", "fields"])


def _within_bounds(conn: sa.Connection, page_kinds: list[Kind]) -> dict[Kind, Kind]:
    """The page's new kinds past their source's MAX_KINDS_A_SOURCE, each -> the kind it adds to."""
    k = tables.violation_kinds
    by_source: dict[str, dict[str, Kind]] = {}
    for kind in page_kinds:
        if kind[2:4] != (OTHER, OTHER):
            by_source.setdefault(kind[0], {})[tables.key_of(*kind)] = kind
    out: dict[Kind, Kind] = {}
    for source_id, kinds in by_source.items():
        for kind_id in bounds.past_limit(
            conn, k.c.source_id == source_id, k.c.kind_id, list(kinds), MAX_KINDS_A_SOURCE
        ):
            kind = kinds[kind_id]
            out[kind] = (source_id, kind[1], OTHER, OTHER, OTHER_RULE)
    return out


class ViolationQueries:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def kinds(
        self, since: datetime, until: datetime, source_ids: Sequence[str] | None, examples: int
    ) -> list[qpb.ViolationKind]:
        """Kinds with violations in [since, until), by hour; source_ids None: every source."""
        k, h = tables.violation_kinds, tables.violation_hours
        query = (
            sa.select(
                k.c.kind_id,
                k.c.source_id,
                k.c.event_type,
                k.c.event,
                k.c.field,
                k.c.rule,
                k.c.first_seen,
                h.c.outcome,
                h.c.plan_name,
                h.c.plan_version,
                h.c.hour,
                h.c.count.label("n"),
            )
            .join(h, h.c.kind_id == k.c.kind_id)
            .where(h.c.hour >= tables.hour_text(since), h.c.hour < tables.iso(until))
            .order_by(h.c.hour)
        )
        if source_ids is not None:
            query = query.where(k.c.source_id.in_(source_ids))
        out: dict[tuple, qpb.ViolationKind] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                key = (r.kind_id, r.outcome, r.plan_name, r.plan_version)
                kind = out.get(key)
                if kind is None:
                    kind = out[key] = qpb.ViolationKind(
                        source_id=r.source_id,
                        event_type=r.event_type,
                        event=r.event,
                        field=r.field,
                        rule=r.rule,
                        outcome=r.outcome,
                        plan_name=r.plan_name,
                        plan_version=r.plan_version,
                        first_seen=r.first_seen,
                    )
                kind.hours.append(qpb.HourCount(hour=r.hour, count=r.n))
                kind.count += r.n
            ids = list({key[0] for key in out})
            shown: dict[str, list[qpb.ViolationExample]] = {}
            if ids and examples:
                e = tables.violation_examples
                for r in conn.execute(sa.select(e).where(e.c.kind_id.in_(ids)).order_by(e.c.at.desc())):
                    shown.setdefault(r.kind_id, []).append(
                        qpb.ViolationExample(event_id=r.event_id, at=r.at, value=r.value, fields=r.fields)
                    )
        for (kind_id, *_), kind in out.items():
            kind.examples.extend(shown.get(kind_id, [])[:examples])
        return sorted(out.values(), key=lambda v: (-v.count, v.source_id, v.event, v.field, v.rule))

    def totals_by_rule(self) -> list[tuple[str, str, int]]:
        """(source id, rule keyword, violations since the read model began): the metrics' counters,
        summed by the database, so a scrape costs what the sources and rules number."""
        k = tables.violation_kinds
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(k.c.source_id, k.c.rule_label, sa.func.sum(k.c.total)).group_by(k.c.source_id, k.c.rule_label)
            )
            return [(source_id, rule, int(total or 0)) for source_id, rule, total in rows]

    def new_kinds(self, since: datetime) -> dict[str, int]:
        """Kinds first seen at or after since, by source id."""
        k = tables.violation_kinds
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(k.c.source_id, sa.func.count())
                .where(k.c.first_seen >= tables.iso(since))
                .group_by(k.c.source_id)
            )
            return {source_id: int(count) for source_id, count in rows}
