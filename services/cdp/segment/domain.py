"""Audiences: conditions over a person's traits and events, and who is in them.

An audience is a tree of conditions (cdp.segment.language). A person enters when it holds and
exits when it stops holding; both are events, so membership has a history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from cdp.segment.engine import EMPTY, Person, evaluate
from cdp.segment.language import All, Event, InAudience, check_level, level_of, walk
from cdp.segment.leaves import (
    ERASED,
    LEGACY_TRAIT_OPS,
    Condition,
    EventCondition,
    InvalidAudience,
    Sealed,
    TraitCondition,
)

__all__ = [  # the leaves are the domain's names too
    "ERASED",
    "AudienceDefinition",
    "Condition",
    "EventCondition",
    "InvalidAudience",
    "Memberships",
    "Sealed",
    "TraitCondition",
    "define",
    "holds",
    "qualifies",
]

TRAIT_OPS = LEGACY_TRAIT_OPS  # the first form's operators
MAX_CONDITIONS = 50


@dataclass(frozen=True)
class AudienceDefinition:
    """An audience's condition tree (cdp.segment.language); the first definitions, a conjunction of
    trait and event-count conditions, are an All of them."""

    name: str
    root: Any  # a language.Node
    level: str = "person"  # or "account": members are accounts

    @property
    def conditions(self) -> tuple[Any, ...]:
        """The top-level conditions (all must hold)."""
        return self.root.items if isinstance(self.root, All) else (self.root,)

    @cached_property
    def _nodes(self) -> tuple[Any, ...]:
        return tuple(walk(self.root))

    @cached_property
    def _traits(self) -> tuple[str, ...]:
        return tuple(sorted({c.trait for c in self.trait_conditions()}))

    def nodes(self) -> list[Any]:
        return list(self._nodes)

    def comparisons(self) -> list[TraitCondition]:
        """Every trait condition and event property filter (where literals are)."""
        out: list[TraitCondition] = []
        for n in self.nodes():
            if isinstance(n, TraitCondition):
                out.append(n)
            elif isinstance(n, Event):
                out.extend(n.where)
        return out

    def trait_conditions(self) -> list[TraitCondition]:
        return [n for n in self.nodes() if isinstance(n, TraitCondition)]

    def traits(self) -> list[str]:
        return list(self._traits)

    def properties(self) -> list[str]:
        out: set[str] = set()
        for n in self.nodes():
            if isinstance(n, Event):
                out.update(w.trait for w in n.where)
                if n.aggregate is not None:
                    out.add(n.aggregate.property)
        return sorted(out)

    def events(self) -> list[str]:
        return sorted({n.event for n in self.nodes() if isinstance(n, EventCondition | Event)})

    def audiences(self) -> list[str]:
        return sorted({n.audience_id for n in self.nodes() if isinstance(n, InAudience)})

    def erased(self) -> bool:
        """Whether a literal was erased: then the definition holds for nobody."""
        return any(c.value is ERASED for c in self.comparisons())


def define(
    name: str, conditions: list[Condition] | None = None, root: Any = None, level: str = ""
) -> AudienceDefinition:
    """A definition from the first form's conditions (all must hold), a tree, or both (all of them)."""
    conditions = conditions or []
    level = level_of(level)
    if not name.strip():
        raise InvalidAudience("name: is required")
    if not conditions and root is None:
        raise InvalidAudience("conditions: at least one condition (or a definition) is required")
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
    if conditions and level == "account":
        raise InvalidAudience(
            "conditions: an account-level audience takes a definition (persons only inside an account quantifier)"
        )
    if root is not None:
        check_level(root, level)
    items = [*conditions, *([root] if root is not None else [])]
    tree = items[0] if len(items) == 1 and root is not None else All(tuple(items))
    return AudienceDefinition(name.strip(), tree, level)


def holds(condition: Any, traits: dict[str, Any], counts: dict[str, int]) -> bool:
    """One condition of traits and profile counts (no event facts), now."""
    return qualifies(AudienceDefinition("", condition), traits, counts)


def qualifies(audience: AudienceDefinition, traits: dict[str, Any], counts: dict[str, int]) -> bool:
    person = Person(traits, counts, lambda _p: EMPTY, lambda _a: False)
    return evaluate(audience.root, person, datetime.now(UTC))[0]


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
