"""Computed traits: a trait whose value is computed from a person's calls of one event.

    {"event": "Order Completed", "fn": "sum", "property": "total",
     "where": [{"property": "currency", "op": "eq", "value": "EUR"}], "window": {"last": "P30D"}}

fn: count, sum, avg, min, max, most_frequent, first, last, unique, unique_count. `where` and
`window` are the audience language's (cdp.segment.language): the same filters, the same ISO 8601
durations and the same window rule (last d: now - d < t <= now). A value is a pure function of the
calls and the instant, and each windowed value says when it next changes by itself.

Rules, as the anchors have them (Segment's computed traits): most_frequent needs a value seen at
least twice and breaks ties by the value that sorts first (its JSON text); unique lists values in
that order; first and last are by call time (then call id). A person
has the trait once a call matched (even outside the window): count, sum, unique_count are then 0
and unique [] when the window holds none; avg, min, max, most_frequent, first, last are absent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from cdp.segment import language
from cdp.segment.engine import number
from cdp.segment.leaves import InvalidAudience, TraitCondition

FNS = ("count", "sum", "avg", "min", "max", "most_frequent", "first", "last", "unique", "unique_count")
NUMERIC = ("sum", "avg", "min", "max")
# Results that are one of the calls' values (or a list of them): a personal one stays sealed.
VALUES = ("most_frequent", "first", "last", "unique")
MAX_NAME = 100
MOST_FREQUENT_AT_LEAST = 2  # one occurrence of each value makes none the most frequent


class InvalidComputedTrait(InvalidAudience):
    """A definition that breaks a rule; the message names the JSON field."""


@dataclass(frozen=True)
class Definition:
    name: str
    event: str
    fn: str
    property: str = ""
    where: tuple[TraitCondition, ...] = ()
    window: language.Window | None = None

    def properties(self) -> list[str]:
        """The event properties it reads (what the audience policy classes)."""
        return sorted({*([self.property] if self.property else []), *(w.trait for w in self.where)})

    def to_json(self) -> dict[str, Any]:
        event = language.to_json(language.Event(self.event, self.where, window=self.window))
        out: dict[str, Any] = {"event": self.event, "fn": self.fn}
        if self.property:
            out["property"] = self.property
        for key in ("where", "window"):
            if key in event:
                out[key] = event[key]
        return out


def parse(name: Any, obj: Any) -> Definition:
    """A definition from its JSON form (decoded); bad input names the field ("definition.fn")."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or name != name.strip():
        raise InvalidComputedTrait(f"name: must be a non-empty trait name of at most {MAX_NAME} characters")
    if not isinstance(obj, dict):
        raise InvalidComputedTrait("definition: must be an object")
    allowed = {"event", "fn", "property", "where", "window"}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidComputedTrait(
            f"definition.{unknown[0]}: is not a field here (allowed: {', '.join(sorted(allowed))})"
        )
    fn = obj.get("fn")
    if fn not in FNS:
        raise InvalidComputedTrait(f"definition.fn: must be one of {', '.join(FNS)}")
    prop = obj.get("property", "")
    if fn == "count":
        if "property" in obj:
            raise InvalidComputedTrait("definition.property: count takes no property")
    elif not isinstance(prop, str) or not prop.strip():
        raise InvalidComputedTrait(f"definition.property: is required for {fn} (a property path, e.g. total)")
    event = {k: obj[k] for k in ("event", "where", "window") if k in obj}
    if "event" not in event:
        raise InvalidComputedTrait("definition.event: is required")
    try:
        parsed = language.parse(event)
    except InvalidAudience as error:
        raise InvalidComputedTrait(str(error.args[0]) if error.args else str(error)) from None
    assert isinstance(parsed, language.Event)
    return Definition(name, parsed.event, fn, prop, parsed.where, parsed.window)


@dataclass(frozen=True)
class Observation:
    """One matching call, as a computed trait keeps it."""

    at: datetime
    event_id: str
    value: Any = None  # the property's stored JSON value (a personal one: its token); None: absent
    same: str = ""  # what two values are equal by: the JSON text of the value (clear, for a token)
    subject: str = ""  # whose key seals a personal value
    event_type: str = ""
    sealed: bool = False


@dataclass(frozen=True)
class Result:
    value: Any  # JSON-able; for a sealed result, the tokens it is made of
    latest: Observation  # the last call it depends on (provenance)
    sealed: tuple[Observation, ...] = ()  # a personal result: the calls whose values it is


def canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _number_out(value: float, ints: bool) -> float | int:
    return int(value) if ints and value.is_integer() else value


def in_window(definition: Definition, observations: Sequence[Observation], now: datetime) -> list[Observation]:
    window = definition.window
    if window is None:
        return list(observations)
    return [o for o in observations if window.contains(o.at, now)]


def compute(definition: Definition, observations: Sequence[Observation], now: datetime) -> Result | None:
    """The value at `now` over the calls (in time order), or None: the person has no such trait."""
    if not observations:
        return None
    inside = in_window(definition, observations, now)
    latest = inside[-1] if inside else observations[-1]
    fn = definition.fn
    if fn == "count":
        return Result(len(inside), latest)
    present = [o for o in inside if o.value is not None]
    if fn in NUMERIC:
        numbers = [(o, n) for o in present if not o.sealed and (n := number(o.value)) is not None]
        if fn == "sum":
            ints = all(isinstance(o.value, int) for o, _ in numbers)
            return Result(_number_out(math.fsum(n for _, n in numbers), ints), latest)
        if not numbers:
            return None
        values = [n for _, n in numbers]
        ints = all(isinstance(o.value, int) for o, _ in numbers)
        if fn == "avg":
            return Result(math.fsum(values) / len(values), numbers[-1][0])
        return Result(_number_out(min(values) if fn == "min" else max(values), ints), numbers[-1][0])
    if fn == "unique_count":
        return Result(len({o.same for o in present}), latest)
    if fn == "unique":
        last_of: dict[str, Observation] = {}
        for o in present:
            last_of[o.same] = o
        chosen = [last_of[s] for s in sorted(last_of)]
        return _valued([o.value for o in chosen], latest, chosen)
    if not present:
        return None
    if fn == "first":
        return _valued(present[0].value, present[0], [present[0]])
    if fn == "last":
        return _valued(present[-1].value, present[-1], [present[-1]])
    counts = Counter(o.same for o in present)  # most_frequent
    top = max(counts.values())
    if top < MOST_FREQUENT_AT_LEAST:
        return None
    winner = min(s for s, c in counts.items() if c == top)
    chosen_one = [o for o in present if o.same == winner][-1]
    return _valued(chosen_one.value, chosen_one, [chosen_one])


def _valued(value: Any, latest: Observation, chosen: Sequence[Observation]) -> Result:
    sealed = tuple(o for o in chosen if o.sealed)
    return Result(value, latest, sealed)


def next_change(definition: Definition, observations: Sequence[Observation], now: datetime) -> datetime | None:
    """The earliest instant after now at which a call enters or leaves the window (None: never)."""
    window = definition.window
    if window is None:
        return None
    if window.start is not None or window.end is not None:
        edges = [t for t in (window.start, window.end) if t is not None]
    else:
        near = window.near or timedelta(0)
        far = window.last if window.last is not None else window.far
        assert far is not None
        edges = [t for o in observations for t in (o.at + near, o.at + far)]
    later = [t for t in edges if t > now]
    return min(later) if later else None
