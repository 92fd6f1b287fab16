"""Evaluating a condition tree for one person, exactly, and when its answer can next change.

A person's event facts are kept per predicate (an event name with its filters): the sorted times
of the matching calls (with the aggregated properties' values), pruned to the longest relative
window the predicate is used with, plus the total and first and last time. evaluate() answers a
tree at an instant and gives the earliest later instant at which a window edge or a relative date
may flip it: the person's timer. Times are half-open so an edge flips at its exact instant: an
event at t is in "the last d" while now - d < t <= now, so it leaves at t + d; a call whose time
has not come (t > now) counts from t.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cdp.platform.clock import parse_iso
from cdp.segment.language import (
    DATE_OPS,
    RELATIVE_OPS,
    All,
    Any_,
    Event,
    Funnel,
    InAudience,
    Node,
    Not,
    Predicate,
    Quantified,
    duration,
    is_duration,
    walk,
)
from cdp.segment.leaves import ERASED, AccountTrait, EventCondition, Sealed, TraitCondition


@dataclass
class Facts:
    """One person's calls matching one predicate: (time, values of aggregated properties)."""

    times: list[datetime] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)
    total: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, t: datetime, values: dict[str, float]) -> None:
        """In time order, wherever it falls (a late call goes where it belongs)."""
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.values.insert(i, values)
        self.total += 1
        self.first = t if self.first is None or t < self.first else self.first
        self.last = t if self.last is None or t > self.last else self.last

    def prune(self, before: datetime) -> None:
        """Forget the times no window reaches any more (strictly before `before`)."""
        i = bisect.bisect_left(self.times, before)
        if i:
            del self.times[:i]
            del self.values[:i]

    def merged(self, other: Facts) -> Facts:
        out = Facts()
        for t, v in sorted(
            [*zip(self.times, self.values, strict=True), *zip(other.times, other.values, strict=True)],
            key=lambda p: p[0],
        ):
            out.times.append(t)
            out.values.append(v)
        out.total = self.total + other.total
        firsts = [x for x in (self.first, other.first) if x is not None]
        lasts = [x for x in (self.last, other.last) if x is not None]
        out.first, out.last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
        return out


EMPTY = Facts()


def lookup(value: Any, path: str) -> Any:
    """A property at a dotted path ("cart.total"); None when absent."""
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def number(value: Any) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


# Comparisons -----------------------------------------------------------------------------------


def _time_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def compare(c: TraitCondition, actual: Any, now: datetime) -> tuple[bool, datetime | None]:
    """A trait's or property's condition on its value (None: absent), and when the answer flips
    by itself (only relative dates do). An absent value holds nothing but not_exists."""
    if c.value is ERASED or isinstance(c.value, Sealed):  # erased, or not opened
        return False, None
    if actual is None:
        return c.op == "not_exists", None
    op, expected = c.op, c.value
    if op == "exists":
        return True, None
    if op == "not_exists":
        return False, None
    if op in DATE_OPS or op in RELATIVE_OPS:
        return _compare_time(op, _time_of(actual), expected, now)
    if op == "eq":
        return bool(actual == expected), None
    if op == "neq":
        return bool(actual != expected), None
    if op == "in":
        return actual in expected, None
    if op == "not_in":
        return actual not in expected, None
    if op == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected in actual, None
        return isinstance(actual, list) and expected in actual, None
    if op in ("starts_with", "ends_with"):
        if not (isinstance(actual, str) and isinstance(expected, str)):
            return False, None
        return (actual.startswith(expected) if op == "starts_with" else actual.endswith(expected)), None
    numbers = (int, float)
    comparable = not isinstance(actual, bool) and isinstance(actual, numbers) and isinstance(expected, numbers)
    if not comparable and not (isinstance(actual, str) and isinstance(expected, str)):
        return False, None
    return bool(_ORDER[op](actual, expected)), None


_ORDER = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
HOLDS: tuple[bool, datetime | None] = (True, None)
FAILS: tuple[bool, datetime | None] = (False, None)
Test = Callable[[Any, datetime], tuple[bool, "datetime | None"]]


def tester(c: TraitCondition) -> Test:
    """compare() for this condition, with what depends on the condition only decided once (the
    cached truths answer a leaf again on every change of what it reads)."""
    op, expected = c.op, c.value
    if expected is ERASED or isinstance(expected, Sealed) or (op not in _ORDER and op not in ("eq", "neq")):
        return lambda actual, now: compare(c, actual, now)
    if op in ("eq", "neq"):
        equal = op == "eq"

        def equality(actual: Any, now: datetime) -> tuple[bool, datetime | None]:
            if actual is None:
                return FAILS
            return HOLDS if (actual == expected) is equal else FAILS

        return equality
    order = _ORDER[op]
    numeric = isinstance(expected, int | float)
    text = isinstance(expected, str)

    def ordered(actual: Any, now: datetime) -> tuple[bool, datetime | None]:
        if numeric:
            if isinstance(actual, bool) or not isinstance(actual, int | float):
                return FAILS
        elif not (text and isinstance(actual, str)):
            return FAILS
        return HOLDS if order(actual, expected) else FAILS

    return ordered


def _after(now: datetime, *instants: datetime) -> datetime | None:
    later = [t for t in instants if t > now]
    return min(later) if later else None


_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _shifted(t: datetime, d: timedelta) -> datetime:
    """t + d, held to the times there are: a trait may say year 1 or 9999, and a sum past them
    must not fail the evaluation (it would park every call of that person)."""
    try:
        return t + d
    except OverflowError:
        return _LATEST if d > timedelta(0) else _EARLIEST


def _compare_time(op: str, t: datetime | None, expected: Any, now: datetime) -> tuple[bool, datetime | None]:
    """before X: t < X; after X: t > X; X a time, or a duration ago (before P30D: at least 30 days
    ago, t <= now - d). within_last d: now - d < t <= now; within_next d: now < t <= now + d."""
    if t is None:
        return False, None
    if op in DATE_OPS and not is_duration(expected):
        x = parse_iso(expected)
        return (t < x if op == "before" else t > x), None
    d = duration(expected, "value")
    if op == "before":
        return t <= now - d, _after(now, _shifted(t, d))
    if op == "after":
        return t > now - d, _after(now, _shifted(t, d))
    if op == "within_last":
        return now - d < t <= now, _after(now, t, _shifted(t, d))
    return now < t <= now + d, _after(now, _shifted(t, -d), t)


# Events ----------------------------------------------------------------------------------------


def _in_window(event: Event, facts: Facts, now: datetime) -> tuple[list[int], datetime | None]:
    """Indexes of the calls inside the event's window now, and the next instant one moves in or out."""
    times, w = facts.times, event.window
    edges: list[datetime] = []
    if w is None or w.start is not None or w.end is not None:
        lo = w.start if w is not None else None
        hi = w.end if w is not None else None
        inside = [i for i, t in enumerate(times) if t <= now and (lo is None or t >= lo) and (hi is None or t < hi)]
        edges = [t for t in times if t > now and (lo is None or t >= lo) and (hi is None or t < hi)]
        return inside, (min(edges) if edges else None)
    if w.last is not None:
        lo_t, hi_t, near = now - w.last, now, timedelta(0)
        far = w.last
    else:
        assert w.far is not None and w.near is not None
        lo_t, hi_t, near, far = now - w.far, now - w.near, w.near, w.far
    start = bisect.bisect_right(times, lo_t)
    end = bisect.bisect_right(times, hi_t)
    inside = list(range(start, end))
    # The next to leave is the oldest inside (at t + far); the next to enter, the first after (t + near).
    if start < end:
        edges.append(times[start] + far)
    if end < len(times):
        edges.append(times[end] + near)
    return inside, (min(edges) if edges else None)


def _aggregate(fn: str, values: list[float]) -> float | None:
    if not values:
        return None  # as SQL: an aggregate of no values is null, and compares as false
    if fn == "sum":
        return sum(values)
    if fn == "avg":
        return sum(values) / len(values)
    return min(values) if fn == "min" else max(values)


def holds_event(event: Event, facts: Facts, now: datetime) -> tuple[bool, datetime | None]:
    inside, edge = _in_window(event, facts, now)
    n = len(inside)
    count = event.count
    if count is None:
        ok = n >= 1
    elif count.op == "gte":
        ok = n >= count.value
    elif count.op == "eq":
        ok = n == count.value
    elif count.op == "lte":
        ok = n <= count.value
    else:
        ok = count.value <= n <= count.upper
    if ok and event.aggregate is not None:
        a = event.aggregate
        values = [facts.values[i][a.property] for i in inside if a.property in facts.values[i]]
        result = _aggregate(a.fn, values)
        ok = result is not None and compare(TraitCondition(a.property, a.op, a.value), result, now)[0]
    return ok, edge


def holds_funnel(funnel: Funnel, facts: list[Facts], now: datetime) -> tuple[bool, datetime | None]:
    """Steps in order (each at or after the one before) within `within` of the first step. With
    negate_last: a first step not followed by the second within `within`, once that has passed."""
    step_times: list[list[datetime]] = []
    edges: list[datetime] = []
    for step, f in zip(funnel.steps, facts, strict=True):
        inside, edge = _in_window(step, f, now)
        step_times.append([f.times[i] for i in inside])
        if edge is not None:
            edges.append(edge)
    d = funnel.within
    if funnel.negate_last:
        firsts, seconds = step_times
        result = False
        for t in firsts:
            j = bisect.bisect_left(seconds, t)
            followed = j < len(seconds) and seconds[j] <= t + d
            if t + d <= now and not followed:
                result = True
            if t + d > now:
                edges.append(t + d)
        return result, (min(edges) if edges else None)
    for t1 in step_times[0]:
        current, ok = t1, True
        for times in step_times[1:]:
            j = bisect.bisect_left(times, current)
            if j == len(times) or times[j] > t1 + d:
                ok = False
                break
            current = times[j]
        if ok:
            return True, (min(edges) if edges else None)
    return False, (min(edges) if edges else None)


# Trees -----------------------------------------------------------------------------------------


def _no_accounts() -> Sequence[Account]:
    return ()


@dataclass
class Person:
    """What a person's conditions look at: decoded traits, profile counts, facts, memberships, and
    the accounts the person belongs to."""

    traits: Mapping[str, Any]
    counts: Mapping[str, int]
    facts: Callable[[Predicate], Facts]
    member: Callable[[str], bool]
    accounts: Callable[[], Sequence[Account]] = _no_accounts


@dataclass
class Account:
    """What an account's conditions look at: its decoded traits, its members, its memberships."""

    traits: Mapping[str, Any]
    members: Callable[[], Sequence[Person]]
    member: Callable[[str], bool]


def _earliest(edges: list[datetime | None]) -> datetime | None:
    present = [e for e in edges if e is not None]
    return min(present) if present else None


def evaluate(node: Node, subject: Person | Account, now: datetime) -> tuple[bool, datetime | None]:
    """The tree's answer now, and the earliest later instant a time edge may flip a leaf. The
    subject is a person, or an account (an account-level audience)."""
    if isinstance(node, All | Any_):
        results = [evaluate(item, subject, now) for item in node.items]
        answers = [r for r, _ in results]
        result = all(answers) if isinstance(node, All) else any(answers)
        return result, _earliest([e for _, e in results])
    if isinstance(node, Not):
        result, edge = evaluate(node.item, subject, now)
        return not result, edge
    if isinstance(node, AccountTrait | Quantified):
        if isinstance(subject, Person):  # in some account of the person
            results = [evaluate(node, a, now) for a in subject.accounts()]
            return any(r for r, _ in results), _earliest([e for _, e in results])
        if isinstance(node, AccountTrait):
            return compare(node, subject.traits.get(node.trait), now)
        results = [evaluate(node.member, m, now) for m in subject.members()]
        satisfied = sum(1 for r, _ in results if r)
        edge = _earliest([e for _, e in results])
        if node.quantifier == "any":
            return satisfied > 0, edge
        if node.quantifier == "all":
            return bool(results) and satisfied == len(results), edge
        return satisfied == 0, edge
    if isinstance(node, InAudience):
        return subject.member(node.audience_id), None
    assert isinstance(subject, Person)  # person conditions of an account only inside a quantifier
    if isinstance(node, TraitCondition):
        value = subject.traits.get(node.trait)
        return compare(node, value, now)
    if isinstance(node, EventCondition):
        return subject.counts.get(node.event, 0) >= node.min_count, None
    if isinstance(node, Event):
        return holds_event(node, subject.facts(node.predicate()), now)
    assert isinstance(node, Funnel)
    return holds_funnel(node, [subject.facts(s.predicate()) for s in node.steps], now)


def predicates(node: Node) -> list[Predicate]:
    return list(dict.fromkeys(n.predicate() for n in walk(node) if isinstance(n, Event)))


def aggregated(node: Node) -> dict[Predicate, set[str]]:
    """The properties each predicate's calls keep values of (for aggregates)."""
    out: dict[Predicate, set[str]] = {}
    for n in walk(node):
        if isinstance(n, Event):
            props = out.setdefault(n.predicate(), set())
            if n.aggregate is not None:
                props.add(n.aggregate.property)
    return out


def horizons(node: Node) -> dict[Predicate, timedelta | None]:
    """How far back each predicate's calls are needed: None when some use is all-time or absolute."""
    out: dict[Predicate, timedelta | None] = {}
    for n in walk(node):
        if isinstance(n, Event):
            h = n.window.horizon() if n.window is not None else None
            key = n.predicate()
            if key not in out:
                out[key] = h
            else:
                prev = out[key]
                out[key] = None if prev is None or h is None else max(prev, h)
    return out


def matches(predicate: Predicate, properties: Mapping[str, Any], now: datetime) -> bool:
    return all(compare(w, lookup(properties, w.trait), now)[0] for w in predicate.where)
