"""The condition language: a tree of conditions, and its JSON form both ways.

    {"all": [...]}, {"any": [...]}, {"not": {...}}
    {"trait": "plan", "op": "eq", "value": "pro"}
    {"event": "Order Completed", "where": [{"property": "total", "op": "gte", "value": 50}],
     "count": {"op": "gte", "value": 2}, "aggregate": {"fn": "sum", "property": "total", "op": "gte",
     "value": 100}, "window": {"last": "P7D"} | {"between": ["P90D", "P30D"]} | {"from": t, "to": t}}
    {"funnel": [{"event": ...}, {"event": ...}], "within": "P1D", "negate_last": true}
    {"audience": "<id>"}
    {"account_trait": "plan", "op": "eq", "value": "pro"}        (the trait operators)
    {"account": {"any" | "all" | "none": {...a person condition...}}}

Accounts come from group calls. In a person-level audience, an account trait holds when some
account of the person has it, and {"account": {"any": C}} when, in some account of the person, any
(all: at least one, and every one; none: not one) of the account's members satisfies C. In an
account-level audience (Audience.level "account", members are accounts) both read the account
itself, and person conditions (trait, event, funnel) appear only inside a quantifier; an audience
condition there is the account's membership of another account-level audience. A member condition
C is a person condition: no account condition inside it.

Durations are ISO 8601 (P1W, P30D, PT12H, P1DT30M); months and years are refused (not one length).
Bad input raises InvalidAudience naming the JSON path ("definition.all[1].window.last") and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cdp.platform.clock import format_iso, parse_iso
from cdp.segment.leaves import AccountTrait, EventCondition, InvalidAudience, TraitCondition

TRAIT_OPS = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "exists",
    "not_exists",
    "before",
    "after",
    "within_last",
    "within_next",
)
VALUELESS = ("exists", "not_exists")
DATE_OPS = ("before", "after")
RELATIVE_OPS = ("within_last", "within_next")
COUNT_OPS = ("gte", "eq", "lte", "between")
AGGREGATE_FNS = ("sum", "avg", "min", "max")
AGGREGATE_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")
QUANTIFIERS = ("any", "all", "none")
LEVELS = ("person", "account")
MAX_NODES = 200
MAX_DURATION = timedelta(days=36_525)  # a hundred years
MAX_DEPTH = 12

_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration(text: Any, where: str) -> timedelta:
    if not isinstance(text, str) or text in ("P", "PT") or text.endswith("T") or not _DURATION.match(text):
        raise InvalidAudience(
            f"{where}: must be an ISO 8601 duration in weeks, days, hours, minutes or seconds, e.g. P30D"
        )
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in _DURATION.match(text).groups())  # type: ignore[union-attr]
    # Within MAX_DURATION, now minus or plus it is a time (a longer one overflowed where it was used,
    # in every evaluation of every call after the definition was accepted).
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise InvalidAudience(f"{where}: must be at most {MAX_DURATION.days} days")
    return timedelta(seconds=total)


def is_duration(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("P") and bool(_DURATION.match(text)) and text not in ("P", "PT")


def instant(text: Any, where: str) -> datetime:
    if not isinstance(text, str):
        raise InvalidAudience(f"{where}: must be an ISO 8601 time")
    try:
        return parse_iso(text)
    except ValueError:
        raise InvalidAudience(f"{where}: must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z") from None


# The tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Count:
    op: str = "gte"
    value: int = 1
    upper: int = 0  # between: value..upper


@dataclass(frozen=True)
class Aggregate:
    fn: str
    property: str
    op: str
    value: float


@dataclass(frozen=True)
class Window:
    """One of: last (the last d), far..near ago, or start..end (end excluded)."""

    last: timedelta | None = None
    far: timedelta | None = None
    near: timedelta | None = None
    start: datetime | None = None
    end: datetime | None = None

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The instants an event's time t must satisfy: lo < t <= hi (relative windows), or
        start <= t < end (absolute): see contains()."""
        if self.last is not None:
            return now - self.last, now
        if self.far is not None and self.near is not None:
            return now - self.far, now - self.near
        return self.start, self.end

    def contains(self, t: datetime, now: datetime) -> bool:
        lo, hi = self.bounds(now)
        if self.start is not None or self.end is not None:
            return (lo is None or t >= lo) and (hi is None or t < hi)
        return lo is not None and hi is not None and lo < t <= hi

    def horizon(self) -> timedelta | None:
        """How far back it looks, for relative windows (what facts must keep)."""
        return self.last if self.last is not None else self.far


@dataclass(frozen=True)
class Event:
    event: str
    where: tuple[TraitCondition, ...] = ()
    count: Count | None = None
    aggregate: Aggregate | None = None
    window: Window | None = None

    def predicate(self) -> Predicate:
        return Predicate(self.event, self.where)


@dataclass(frozen=True)
class Predicate:
    """An event name with its filters: the unit event facts are kept for."""

    event: str
    where: tuple[TraitCondition, ...] = ()


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Event, ...]
    within: timedelta
    negate_last: bool = False


@dataclass(frozen=True)
class InAudience:
    audience_id: str


@dataclass(frozen=True)
class Quantified:
    """Any, all or none of an account's members satisfy the member condition."""

    quantifier: str
    member: Node


Node = All | Any_ | Not | TraitCondition | Event | Funnel | InAudience | Quantified


def walk(node: Node):
    yield node
    if isinstance(node, All | Any_):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Funnel):
        yield from node.steps
    elif isinstance(node, Quantified):
        yield from walk(node.member)


def audience_levels(node: Node, level: str) -> list[tuple[str, str]]:
    """Each audience condition's audience with the level it must have: the audience's own level,
    but a person's inside an account quantifier (a member condition is a person condition)."""
    out: list[tuple[str, str]] = []
    if isinstance(node, InAudience):
        out.append((node.audience_id, level))
    elif isinstance(node, All | Any_):
        for item in node.items:
            out.extend(audience_levels(item, level))
    elif isinstance(node, Not):
        out.extend(audience_levels(node.item, level))
    elif isinstance(node, Quantified):
        out.extend(audience_levels(node.member, "person"))
    return out


def level_of(text: str, where: str = "level") -> str:
    """An audience's level: "person" (also when empty) or "account"."""
    level = text or "person"
    if level not in LEVELS:
        raise InvalidAudience(f"{where}: must be one of {', '.join(LEVELS)}")
    return level


def check_level(node: Node, level: str, where: str = "definition") -> None:
    """Account conditions only outside quantifiers; at the account level, person conditions only
    inside them."""
    if isinstance(node, All | Any_):
        kind = "all" if isinstance(node, All) else "any"
        for i, item in enumerate(node.items):
            check_level(item, level, f"{where}.{kind}[{i}]")
    elif isinstance(node, Not):
        check_level(node.item, level, f"{where}.not")
    elif isinstance(node, Quantified):
        for inner in walk(node.member):
            if isinstance(inner, Quantified | AccountTrait):
                raise InvalidAudience(
                    f"{where}.account.{node.quantifier}: a member condition is a person condition "
                    "(no account condition inside it)"
                )
    elif (
        level == "account"
        and isinstance(node, TraitCondition | EventCondition | Event | Funnel)
        and not isinstance(node, AccountTrait)
    ):
        raise InvalidAudience(
            f"{where}: an account-level audience reads persons only inside an account quantifier "
            '({"account": {"any": ...}})'
        )


# JSON -> tree -----------------------------------------------------------------------------------


def _keys(obj: Any, where: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(obj, dict):
        raise InvalidAudience(f"{where}: must be an object")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidAudience(f"{where}.{unknown[0]}: is not a field here (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in obj:
            raise InvalidAudience(f"{where}.{key}: is required")
    return obj


def _name(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidAudience(f"{where}.{key}: must be a non-empty string")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAudience(f"{where}: must be a number")
    return float(value)


def _count_value(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidAudience(f"{where}: must be a whole number, 0 or more")
    return value


def comparison(obj: Any, where: str, field: str) -> TraitCondition:
    """A trait's (field "trait") or an event property's (field "property") condition."""
    obj = _keys(obj, where, {field, "op", "value"}, {field, "op"})
    name = _name(obj, field, where)
    op = obj["op"]
    if op not in TRAIT_OPS:
        raise InvalidAudience(f"{where}.op: must be one of {', '.join(TRAIT_OPS)}")
    value = obj.get("value")
    if op in VALUELESS:
        if "value" in obj:
            raise InvalidAudience(f"{where}.value: {op} takes no value")
        return TraitCondition(name, op, None)
    if "value" not in obj:
        raise InvalidAudience(f"{where}.value: is required for {op}")
    if op in ("in", "not_in") and not isinstance(value, list):
        raise InvalidAudience(f"{where}.value: {op} takes a list")
    if op in DATE_OPS and not is_duration(value):
        instant(value, f"{where}.value")  # a time, or a duration ago
    if op in RELATIVE_OPS:
        duration(value, f"{where}.value")
    return TraitCondition(name, op, value)


def _window(obj: Any, where: str) -> Window:
    obj = _keys(obj, where, {"last", "between", "from", "to"}, set())
    kinds = [k for k in ("last", "between") if k in obj] + (["from/to"] if "from" in obj or "to" in obj else [])
    if len(kinds) != 1:
        raise InvalidAudience(f"{where}: give exactly one of last, between, or from/to")
    if "last" in obj:
        return Window(last=_positive(obj["last"], f"{where}.last"))
    if "between" in obj:
        pair = obj["between"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidAudience(f'{where}.between: must be two durations, the farther first, e.g. ["P90D", "P30D"]')
        far, near = duration(pair[0], f"{where}.between[0]"), duration(pair[1], f"{where}.between[1]")
        if far <= near:
            raise InvalidAudience(f"{where}.between: the first duration must be longer than the second")
        return Window(far=far, near=near)
    start = instant(obj["from"], f"{where}.from") if "from" in obj else None
    end = instant(obj["to"], f"{where}.to") if "to" in obj else None
    if start is not None and end is not None and end <= start:
        raise InvalidAudience(f"{where}.to: must be after from")
    return Window(start=start, end=end)


def _positive(text: Any, where: str) -> timedelta:
    value = duration(text, where)
    if value <= timedelta(0):
        raise InvalidAudience(f"{where}: must be longer than zero")
    return value


def _event(obj: Any, where: str) -> Event:
    obj = _keys(obj, where, {"event", "where", "count", "aggregate", "window"}, {"event"})
    name = _name(obj, "event", where)
    filters = obj.get("where", [])
    if not isinstance(filters, list):
        raise InvalidAudience(f"{where}.where: must be a list of property conditions")
    where_ = tuple(comparison(f, f"{where}.where[{i}]", "property") for i, f in enumerate(filters))
    for i, w in enumerate(where_):
        if w.op in RELATIVE_OPS or (w.op in DATE_OPS and is_duration(w.value)):
            raise InvalidAudience(
                f"{where}.where[{i}].op: a property is compared when its call comes, so not with a relative date"
            )
    count = None
    if "count" in obj:
        c = _keys(obj["count"], f"{where}.count", {"op", "value"}, {"op", "value"})
        if c["op"] not in COUNT_OPS:
            raise InvalidAudience(f"{where}.count.op: must be one of {', '.join(COUNT_OPS)}")
        if c["op"] == "between":
            pair = c["value"]
            if not isinstance(pair, list) or len(pair) != 2:
                raise InvalidAudience(f"{where}.count.value: between takes [low, high]")
            low, high = (
                _count_value(pair[0], f"{where}.count.value[0]"),
                _count_value(pair[1], f"{where}.count.value[1]"),
            )
            if high < low:
                raise InvalidAudience(f"{where}.count.value: high must not be below low")
            count = Count("between", low, high)
        else:
            count = Count(c["op"], _count_value(c["value"], f"{where}.count.value"))
    aggregate = None
    if "aggregate" in obj:
        a = _keys(
            obj["aggregate"], f"{where}.aggregate", {"fn", "property", "op", "value"}, {"fn", "property", "op", "value"}
        )
        if a["fn"] not in AGGREGATE_FNS:
            raise InvalidAudience(f"{where}.aggregate.fn: must be one of {', '.join(AGGREGATE_FNS)}")
        if a["op"] not in AGGREGATE_OPS:
            raise InvalidAudience(f"{where}.aggregate.op: must be one of {', '.join(AGGREGATE_OPS)}")
        aggregate = Aggregate(
            a["fn"],
            _name(a, "property", f"{where}.aggregate"),
            a["op"],
            _number(a["value"], f"{where}.aggregate.value"),
        )
    window = _window(obj["window"], f"{where}.window") if "window" in obj else None
    return Event(name, where_, count, aggregate, window)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def parse(obj: Any, where: str = "definition", depth: int = 0, budget: _Budget | None = None) -> Node:
    """The tree of a definition's JSON form (decoded)."""
    budget = budget or _Budget()
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise InvalidAudience(f"{where}: a definition has at most {MAX_NODES} conditions")
    if depth > MAX_DEPTH:
        raise InvalidAudience(f"{where}: conditions nest at most {MAX_DEPTH} deep")
    if not isinstance(obj, dict):
        raise InvalidAudience(f"{where}: must be an object")
    for group, kind in (("all", All), ("any", Any_)):
        if group in obj:
            _keys(obj, where, {group}, set())
            items = obj[group]
            if not isinstance(items, list) or not items:
                raise InvalidAudience(f"{where}.{group}: must be a non-empty list of conditions")
            return kind(tuple(parse(x, f"{where}.{group}[{i}]", depth + 1, budget) for i, x in enumerate(items)))
    if "not" in obj:
        _keys(obj, where, {"not"}, set())
        return Not(parse(obj["not"], f"{where}.not", depth + 1, budget))
    if "trait" in obj:
        return comparison(obj, where, "trait")
    if "account_trait" in obj:
        c = comparison(obj, where, "account_trait")
        return AccountTrait(c.trait, c.op, c.value)
    if "account" in obj:
        obj = _keys(obj, where, {"account"}, {"account"})
        inner = _keys(obj["account"], f"{where}.account", set(QUANTIFIERS), set())
        if len(inner) != 1:
            raise InvalidAudience(f"{where}.account: give exactly one of {', '.join(QUANTIFIERS)}")
        (quantifier, member), *_ = inner.items()
        return Quantified(quantifier, parse(member, f"{where}.account.{quantifier}", depth + 1, budget))
    if "event" in obj:
        return _event(obj, where)
    if "funnel" in obj:
        obj = _keys(obj, where, {"funnel", "within", "negate_last"}, {"funnel", "within"})
        steps = obj["funnel"]
        if not isinstance(steps, list) or len(steps) < 2:
            raise InvalidAudience(f"{where}.funnel: must be a list of at least two event conditions")
        parsed = []
        for i, step in enumerate(steps):
            e = _event(step, f"{where}.funnel[{i}]")
            if e.count is not None or e.aggregate is not None:
                raise InvalidAudience(f"{where}.funnel[{i}]: a funnel step takes no count or aggregate")
            parsed.append(e)
        negate = obj.get("negate_last", False)
        if not isinstance(negate, bool):
            raise InvalidAudience(f"{where}.negate_last: must be true or false")
        if negate and len(parsed) != 2:
            raise InvalidAudience(f"{where}.negate_last: takes a funnel of two steps (A not followed by B)")
        return Funnel(tuple(parsed), _positive(obj["within"], f"{where}.within"), negate)
    if "audience" in obj:
        obj = _keys(obj, where, {"audience"}, {"audience"})
        return InAudience(_name(obj, "audience", where))
    keys = ", ".join(sorted(obj)) or "none"
    raise InvalidAudience(
        f"{where}: must have one of all, any, not, trait, event, funnel, audience, account_trait, account (has {keys})"
    )


# tree -> JSON -----------------------------------------------------------------------------------


def _iso_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    days, rest = divmod(seconds, 86400)
    out = f"P{int(days)}D" if days else "P"
    if rest:
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        out += "T" + (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
        out += f"{secs:g}S" if secs else ""
    return out if out != "P" else "PT0S"


def _comparison_json(c: TraitCondition, field: str) -> dict:
    out: dict[str, Any] = {field: c.trait, "op": c.op}
    if c.op not in VALUELESS:
        out["value"] = c.value
    return out


def _event_json(e: Event) -> dict:
    out: dict[str, Any] = {"event": e.event}
    if e.where:
        out["where"] = [_comparison_json(w, "property") for w in e.where]
    if e.count is not None:
        value: Any = [e.count.value, e.count.upper] if e.count.op == "between" else e.count.value
        out["count"] = {"op": e.count.op, "value": value}
    if e.aggregate is not None:
        a = e.aggregate
        out["aggregate"] = {"fn": a.fn, "property": a.property, "op": a.op, "value": a.value}
    if e.window is not None:
        w = e.window
        if w.last is not None:
            out["window"] = {"last": _iso_duration(w.last)}
        elif w.far is not None and w.near is not None:
            out["window"] = {"between": [_iso_duration(w.far), _iso_duration(w.near)]}
        else:
            out["window"] = {
                **({"from": format_iso(w.start)} if w.start else {}),
                **({"to": format_iso(w.end)} if w.end else {}),
            }
    return out


def to_json(node: Node) -> dict:
    if isinstance(node, All):
        return {"all": [to_json(x) for x in node.items]}
    if isinstance(node, Any_):
        return {"any": [to_json(x) for x in node.items]}
    if isinstance(node, Not):
        return {"not": to_json(node.item)}
    if isinstance(node, AccountTrait):
        return _comparison_json(node, "account_trait")
    if isinstance(node, TraitCondition):
        return _comparison_json(node, "trait")
    if isinstance(node, Quantified):
        return {"account": {node.quantifier: to_json(node.member)}}
    if isinstance(node, Event):
        return _event_json(node)
    if isinstance(node, Funnel):
        out: dict[str, Any] = {"funnel": [_event_json(s) for s in node.steps], "within": _iso_duration(node.within)}
        if node.negate_last:
            out["negate_last"] = True
        return out
    return {"audience": node.audience_id}
