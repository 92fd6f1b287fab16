"""The warehouse's rows, and how personal values become what policy lets a warehouse hold.

Plain Python: the application turns published messages into the arguments here, and writes the
rows these functions return. A personal value reaches the warehouse only as policy decides for it
as a destination: withheld, a sealed value is left out (null) and an id is masked (a keyed hash,
the same for the same id, so tables still join on it); allowed, a sealed value stays its token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Ids of a call the decider is asked about by these names, beside the sealed fields' names.
ID_FIELDS = ("user_id", "anonymous_id")
MASK_PREFIX = "mask:"


@dataclass(frozen=True)
class FieldVerdict:
    """What policy said about a set of field names for the warehouse, and the decision's id."""

    allowed: frozenset[str]
    withheld: frozenset[str]
    decision_id: str

    def allows(self, name: str) -> bool:
        # A name the decider was not asked about is no personal field: it stays.
        return name not in self.withheld


def timestamp(text: str) -> datetime | None:
    """An RFC 3339 time of a message as a datetime (empty or malformed: unknown)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def masked_id(verdict: FieldVerdict, field: str, value: str, mask: Callable[[str, str], str]) -> str | None:
    """An id as the warehouse may hold it: in clear where allowed, else its keyed hash."""
    if not value:
        return None
    return value if verdict.allows(field) else MASK_PREFIX + mask(field, value)


def keep_allowed(
    value: Any,
    field: str,
    verdict: FieldVerdict,
    replace: Callable[..., Any],
    class_name: Callable[[str], str],
) -> tuple[Any, list[str]]:
    """A stored JSON value with every sealed value policy withholds taken out (null, an empty URL
    parameter); allowed ones stay tokens. Returns the value and the withheld fields' names.
    replace and class_name are cdp.platform.sealed's replace_tokens and class_name."""
    taken: list[str] = []

    def keep(name: str, token: str) -> Any:
        if verdict.allows(class_name(name)):
            return token
        taken.append(class_name(name))
        return None

    return replace(value, field, keep), sorted(set(taken))


def erased(value: Any, field: str, replace: Callable[..., Any]) -> Any:
    """A stored JSON value with every sealed value taken out (a forgotten person's)."""
    return replace(value, field, lambda _name, _token: None)


def link_state(active: bool, held: bool, retracted: bool) -> str:
    """An evidence edge's state as a column: active, held (for review), retracted or refused."""
    if retracted:
        return "retracted"
    if active:
        return "active"
    return "held" if held else "refused"


def names_in(pairs: Iterable[tuple[str, str]], class_name: Callable[[str], str]) -> set[str]:
    """The class names of sealed fields found by cdp.platform.sealed.tokens_in."""
    return {class_name(field) for field, _ in pairs}


Key = tuple[str, str]  # an identifier: (type, value as the warehouse holds it)


def persons_of(seen: Iterable[tuple[Key, str, int]], links: Iterable[tuple[Key, Key]]) -> dict[Key, str]:
    """Identity's rule, over the rows the warehouse holds: a person is a connected component of
    active links, its id that of its oldest identifier. seen: (identifier, its own person id, the
    order it was first seen in); returns each identifier's person."""
    parent: dict[Key, Key] = {}
    own: dict[Key, tuple[int, str]] = {}
    for key, person_id, order in seen:
        parent[key] = key
        own[key] = (order, person_id)

    def root(key: Key) -> Key:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in links:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                # The root is the oldest: the component's person id is read off it.
                first, second = (ra, rb) if own[ra] <= own[rb] else (rb, ra)
                parent[second] = first
    return {key: own[root(key)][1] for key in parent}
