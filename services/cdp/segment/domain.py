"""Audiences: conditions over a person's traits and event counts, and who is in them.

An audience is a conjunction of conditions. A person enters when all hold and
exits when one stops holding; both are events, so membership has a history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdp.platform.errors import InvalidArgument

TRAIT_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "exists", "contains")
MAX_CONDITIONS = 50


@dataclass(frozen=True)
class Sealed:
    """A personal literal as stored: a vault token under its subject, opened only to evaluate."""

    subject: str
    token: str


class _Erased:
    def __repr__(self) -> str:
        return "ERASED"


ERASED = _Erased()  # a sealed literal whose key was destroyed: its condition holds for nobody


@dataclass(frozen=True)
class TraitCondition:
    trait: str
    op: str
    value: Any = None  # decoded JSON, a Sealed literal, or ERASED


@dataclass(frozen=True)
class EventCondition:
    event: str
    min_count: int


Condition = TraitCondition | EventCondition


class InvalidAudience(InvalidArgument):
    """A definition that breaks a rule; the message names the field."""


@dataclass(frozen=True)
class AudienceDefinition:
    name: str
    conditions: tuple[Condition, ...]

    def trait_conditions(self) -> list[TraitCondition]:
        return [c for c in self.conditions if isinstance(c, TraitCondition)]

    def traits(self) -> list[str]:
        return sorted({c.trait for c in self.conditions if isinstance(c, TraitCondition)})

    def events(self) -> list[str]:
        return sorted({c.event for c in self.conditions if isinstance(c, EventCondition)})

    def erased(self) -> bool:
        """Whether a literal was erased: then the definition holds for nobody."""
        return any(isinstance(c, TraitCondition) and c.value is ERASED for c in self.conditions)


def define(name: str, conditions: list[Condition]) -> AudienceDefinition:
    if not name.strip():
        raise InvalidAudience("name: is required")
    if not conditions:
        raise InvalidAudience("conditions: at least one condition is required")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidAudience(f"conditions: at most {MAX_CONDITIONS}")
    for index, condition in enumerate(conditions):
        where = f"conditions[{index}]"
        if isinstance(condition, TraitCondition):
            if not condition.trait:
                raise InvalidAudience(f"{where}.trait: is required")
            if condition.op not in TRAIT_OPS:
                raise InvalidAudience(f"{where}.op: must be one of {', '.join(TRAIT_OPS)}")
        else:
            if not condition.event:
                raise InvalidAudience(f"{where}.event: is required")
            if condition.min_count < 1:
                raise InvalidAudience(f"{where}.min_count: must be at least 1")
    return AudienceDefinition(name.strip(), tuple(conditions))


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return bool(actual == expected)
    if op == "neq":
        return bool(actual != expected)
    if op == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected in actual
        return isinstance(actual, list) and expected in actual
    numbers = (int, float)
    comparable = not isinstance(actual, bool) and isinstance(actual, numbers) and isinstance(expected, numbers)
    if not comparable and not (isinstance(actual, str) and isinstance(expected, str)):
        return False
    return bool(
        {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]
    )


def holds(condition: Condition, traits: dict[str, Any], counts: dict[str, int]) -> bool:
    """traits: name -> decoded value."""
    if isinstance(condition, EventCondition):
        return counts.get(condition.event, 0) >= condition.min_count
    if condition.value is ERASED or isinstance(condition.value, Sealed):  # erased, or not opened
        return False
    if condition.trait not in traits or traits[condition.trait] is None:
        return condition.op == "neq"
    if condition.op == "exists":
        return True
    return _compare(condition.op, traits[condition.trait], condition.value)


def qualifies(audience: AudienceDefinition, traits: dict[str, Any], counts: dict[str, int]) -> bool:
    return all(holds(c, traits, counts) for c in audience.conditions)


@dataclass
class Memberships:
    """Who is in which audience (the fold of entered and exited events)."""

    members: dict[str, set[str]] = field(default_factory=dict)  # audience -> persons

    def has(self, audience_id: str, person_id: str) -> bool:
        return person_id in self.members.get(audience_id, ())

    def enter(self, audience_id: str, person_id: str) -> None:
        self.members.setdefault(audience_id, set()).add(person_id)

    def exit(self, audience_id: str, person_id: str) -> None:
        self.members.get(audience_id, set()).discard(person_id)

    def audiences_of(self, person_id: str) -> list[str]:
        return [a for a, persons in self.members.items() if person_id in persons]
