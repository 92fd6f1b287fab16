"""Finding the personal values of a call at any depth: by name, by value, and inside URLs.

One walk of a call's properties, traits and context collects every name (object keys, "parent.key"
qualified names, query parameter names, the types of context.externalIds) and every leaf value. The
cdp.pii decision on those names (cached per event type and name set) says which are personal by
name and carries the value patterns; a leaf is then personal when:

- its key, or the key of any object above it, is personal by name (so everything inside
  traits.address is); a qualified name listed in policy ("device.id", "library.name") wins over
  the key alone, either way;
- it is an external id whose type names a personal field (type "email");
- or its value matches a value pattern (email, phone, IP, card number passing Luhn, IBAN...):
  strings as they are and percent-decoded; numbers by their digits; booleans and nulls never.

A string holding query parameters (a URL with a query or fragment, "?a=b", "a=b&c=d") has each
personal parameter (by name or value) sealed in place; if the rest of it still matches a value
pattern (an email in a URL's path), the whole string is sealed instead.

The patterns are compiled once per policy revision; each pattern's cheap pre-check (a substring
such as "@", a number of digits) runs before its regular expression.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cdp.platform.sealed import Param, params, sealed, unquoted_forms

log = logging.getLogger(__name__)

TOP_LEVEL = ("properties", "traits", "context")
EXTERNAL_IDS = "externalIds"


# Value patterns ------------------------------------------------------------------------------------


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if i % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _iban(text: str) -> bool:
    compact = re.sub(r"[^A-Za-z0-9]", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


_NO_DIGITS = str.maketrans("", "", "0123456789")

CHECKS: dict[str, Callable[[str], bool]] = {"luhn": _luhn, "iban": _iban, "ip": _ip}


@dataclass(frozen=True)
class ValuePattern:
    name: str
    cls: str
    regex: re.Pattern[str]
    requires: tuple[str, ...]  # one of these substrings must be in the value
    min_digits: int
    check: Callable[[str], bool] | None

    def matches(self, text: str, digits: int) -> bool:
        if digits < self.min_digits:
            return False
        if self.requires and not any(r in text for r in self.requires):
            return False
        check = self.check
        return any(check is None or check(found.group(0)) for found in self.regex.finditer(text))


class ValueRules:
    """The value patterns of one policy revision (data.cdp.value_patterns, through cdp.pii)."""

    def __init__(self, patterns: dict[str, Any]):
        self.patterns: list[ValuePattern] = []
        for name, spec in sorted(patterns.items()):
            try:
                regex = re.compile(spec["pattern"])
            except (KeyError, TypeError, re.error) as error:
                log.error("cdp.pii: value pattern %s is not a regular expression (%s); it is not applied", name, error)
                continue
            check_name = spec.get("check", "")
            check = CHECKS.get(check_name) if check_name else None
            if check_name and check is None:
                log.error(
                    "cdp.pii: value pattern %s names an unknown check %r; its expression alone applies",
                    name,
                    check_name,
                )
            requires = spec.get("requires") or ()
            self.patterns.append(
                ValuePattern(
                    name,
                    str(spec.get("class", "")),
                    regex,
                    tuple(str(r) for r in ([requires] if isinstance(requires, str) else requires)),
                    int(spec.get("min_digits", 0)),
                    check,
                )
            )
        self.min_digits = min((p.min_digits for p in self.patterns), default=0)

    def match(self, text: str) -> str:
        """The name of the first pattern the text (or a percent-decoded form of it) matches; ""."""
        for form in unquoted_forms(text) if "%" in text else (text,):
            digits = len(form) - len(form.translate(_NO_DIGITS))
            for pattern in self.patterns:
                if pattern.matches(form, digits):
                    return pattern.name
        return ""

    def match_value(self, value: Any) -> str:
        """As match(), for any JSON value: numbers by their digits; booleans and nulls never."""
        if isinstance(value, str):
            return self.match(value) if value else ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ""
        if isinstance(value, float) and not value.is_integer():
            return ""
        number = int(value)
        return self.match(str(number)) if abs(number) >= 10 ** (self.min_digits - 1) else ""


# The walk --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Container:
    key: str  # the nearest key of this object ("" for a top-level field's object)
    qualified: str
    parent: int  # index of the enclosing object, -1 for none
    path: str


@dataclass(slots=True)
class Leaf:
    holder: Any  # the dict or list holding the value
    slot: Any  # its key or index
    key: str  # the nearest key: the field name it is sealed under
    qualified: str
    container: int
    path: str
    alias: str = ""  # an external id's type, classified as a name too
    params: list[Param] = field(default_factory=list)


@dataclass
class Walk:
    """Everything of one call the classification needs, collected in one pass."""

    names: set[str] = field(default_factory=set)
    qualified: set[str] = field(default_factory=set)
    containers: list[Container] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)


def walk(fields: dict[str, dict[str, Any]]) -> Walk:
    found = Walk()
    for top in TOP_LEVEL:
        value = fields.get(top)
        if isinstance(value, dict) and value:
            _object(found, value, top, top, -1, top)
    return found


def _object(found: Walk, obj: dict[str, Any], key: str, qualified: str, parent: int, path: str) -> None:
    index = len(found.containers)
    found.containers.append(Container(key, qualified, parent, path))
    for name, value in obj.items():
        if not isinstance(name, str):
            continue
        found.names.add(name)
        q = f"{key}.{name}"
        found.qualified.add(q)
        child_path = f"{path}.{name}"
        if name == EXTERNAL_IDS and isinstance(value, list) and path == "context":
            _external_ids(found, value, index, child_path)
        else:
            _value(found, obj, name, value, name, q, index, child_path)


def _value(found: Walk, holder: Any, slot: Any, value: Any, key: str, q: str, container: int, path: str) -> None:
    if isinstance(value, dict):
        _object(found, value, key, q, container, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _value(found, value, i, item, key, q, container, f"{path}[{i}]")
    elif value is not None:
        leaf = Leaf(holder, slot, key, q, container, path)
        if isinstance(value, str) and not sealed(value):
            leaf.params = params(value)
            found.names.update(p.name for p in leaf.params)
        found.leaves.append(leaf)


def _external_ids(found: Walk, entries: list[Any], container: int, path: str) -> None:
    # An external id {"id": ..., "type": "email"} is classified by its type as well as its key.
    for i, entry in enumerate(entries):
        entry_path = f"{path}[{i}]"
        if not isinstance(entry, dict):
            _value(found, entries, i, entry, EXTERNAL_IDS, f"context.{EXTERNAL_IDS}", container, entry_path)
            continue
        before = len(found.leaves)
        _object(found, entry, EXTERNAL_IDS, f"context.{EXTERNAL_IDS}", container, entry_path)
        kind = entry.get("type")
        if isinstance(kind, str) and kind:
            found.names.add(kind)
            for leaf in found.leaves[before:]:
                if leaf.holder is entry and leaf.slot == "id":
                    leaf.alias = kind


@dataclass(frozen=True)
class NameVerdict:
    """What the cdp.pii decision says of a walk's names."""

    personal: frozenset[str]
    personal_qualified: frozenset[str]
    not_personal_qualified: frozenset[str]

    def personal_name(self, key: str, qualified: str) -> bool:
        if qualified in self.personal_qualified:
            return True
        if qualified in self.not_personal_qualified:
            return False
        return key in self.personal


@dataclass
class Target:
    """A value to seal: a whole leaf, or parameters of a string leaf in place."""

    leaf: Leaf
    whole: bool
    params: list[Param] = field(default_factory=list)


def targets(found: Walk, verdict: NameVerdict, rules: ValueRules) -> tuple[list[Target], list[str]]:
    """The values of a walk to seal, and the paths of values sealed already."""
    inherited = [False] * len(found.containers)
    for i, c in enumerate(found.containers):
        inherited[i] = (c.parent >= 0 and inherited[c.parent]) or (
            c.parent >= 0 and verdict.personal_name(c.key, c.qualified)
        )
    out: list[Target] = []
    already: list[str] = []
    for leaf in found.leaves:
        value = leaf.holder[leaf.slot]
        if sealed(value):
            already.append(leaf.path)
            continue
        if (
            inherited[leaf.container]
            or verdict.personal_name(leaf.key, leaf.qualified)
            or (leaf.alias and leaf.alias in verdict.personal)
        ):
            out.append(Target(leaf, True))
            continue
        if leaf.params:
            personal: list[Param] = []
            for p in leaf.params:
                if sealed(p.value):
                    already.append(f"{leaf.path}{p.marker}{p.name}")
                elif p.value and (p.name in verdict.personal or rules.match(p.value)):
                    personal.append(p)
            rest = _without(value, personal) if personal else value
            if rules.match(rest):
                out.append(Target(leaf, True))
            elif personal:
                out.append(Target(leaf, False, personal))
            continue
        if rules.match_value(value):
            out.append(Target(leaf, True))
    return out, already


def _without(text: str, personal: Iterable[Param]) -> str:
    from cdp.platform.sealed import replace_spans

    return replace_spans(text, [(p.start, p.end, "") for p in personal])
