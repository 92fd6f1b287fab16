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
from urllib.parse import urlsplit

from cdp.platform.sealed import Param, params, replace_spans, sealed, unquoted_forms
from cdp.platform.vault import TOKEN_PREFIX

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


def _ip_list(text: str) -> bool:
    """A list of IP addresses, as X-Forwarded-For holds: every item one."""
    return all(_ip(item) for item in text.split(","))


def _ip_host(text: str) -> bool:
    """A URL whose host is an IP address (the client's or a device's)."""
    try:
        host = urlsplit(text.strip()).hostname
    except ValueError:
        return False
    return host is not None and _ip(host)


_NO_DIGITS = str.maketrans("", "", "0123456789")

CHECKS: dict[str, Callable[[str], bool]] = {
    "luhn": _luhn,
    "iban": _iban,
    "ip": _ip,
    "ip_list": _ip_list,
    "ip_host": _ip_host,
}


_MEMO_SIZE = 20_000  # strings whose verdict is remembered, per policy revision
_MEMO_LENGTH = 256  # ... each at most this long: the memo stays a few megabytes whatever calls bring


@dataclass(frozen=True)
class ValuePattern:
    name: str
    cls: str
    regex: re.Pattern[str]
    requires: frozenset[str]  # one of these characters must be in the value
    min_digits: int
    min_length: int
    check: Callable[[str], bool] | None

    def matches(self, text: str) -> bool:
        """The expression (and check) alone; the pre-checks are ValueRules.match()'s."""
        check = self.check
        if check is None:
            return self.regex.search(text) is not None
        return any(check(found.group(0)) for found in self.regex.finditer(text))


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
                    frozenset("".join(str(r) for r in ([requires] if isinstance(requires, str) else requires))),
                    int(spec.get("min_digits", 0)),
                    int(spec.get("min_length", 0)),
                    check,
                )
            )
        # The pre-checks as plain tuples, so most strings are passed over without a call each.
        self._checks = [(p.min_length, p.min_digits, tuple(sorted(p.requires)), p) for p in self.patterns]
        self._shortest = min((p.min_length for p in self.patterns), default=0)
        self._any_digits = min((p.min_digits for p in self.patterns if not p.requires), default=1 << 30)
        # A number can match only a pattern that needs no punctuation: with at least this many digits.
        self._number_digits = max(1, self._any_digits)
        self._memo: dict[str, str] = {}

    def match(self, text: str) -> str:
        """The name of the first pattern the text (or a percent-decoded form of it) matches; ""."""
        if len(text) < self._shortest:
            return ""
        # Calls repeat most of their strings (currencies, plans, page names, library versions):
        # each is judged once. Memory only, bounded, and gone with the policy revision.
        if len(text) > _MEMO_LENGTH:  # long strings are rarely repeated, and would make the memo large
            return self._match(text)
        known = self._memo.get(text)
        if known is not None:
            return known
        found = self._match(text)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[text] = found
        return found

    def _match(self, text: str) -> str:
        for form in unquoted_forms(text) if "%" in text else (text,):
            length = len(form)
            digits = length - len(form.translate(_NO_DIGITS))
            for min_length, min_digits, requires, pattern in self._checks:
                if length < min_length or digits < min_digits:
                    continue
                if requires:
                    for c in requires:
                        if c in form:
                            break
                    else:
                        continue
                if pattern.matches(form):
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
        return self.match(str(number)) if abs(number) >= 10 ** (self._number_digits - 1) else ""


# The walk --------------------------------------------------------------------------------------------
#
# Two passes over the call, each cheap: names() collects the names the decision is asked about
# (whole objects' keys at once); targets() then visits each value once with the verdict in hand,
# making an object only for a value to seal.


@dataclass
class Names:
    """The names of one call that cdp.pii is asked about."""

    names: set[str] = field(default_factory=set)
    qualified: set[str] = field(default_factory=set)
    params: dict[str, list[Param]] = field(default_factory=dict)  # strings holding query parameters


def names(fields: dict[str, Any]) -> Names:
    found = Names()
    for top in TOP_LEVEL:
        value = fields.get(top)
        if isinstance(value, dict) and value:
            _names_of_object(found, value, top)
    return found


def _names_of_object(found: Names, obj: dict[str, Any], key: str) -> None:
    found.names.update(obj)
    found.qualified.update([f"{key}.{name}" for name in obj])
    for name, value in obj.items():
        if isinstance(value, str):
            if "=" in value and value not in found.params:
                _params_of(found, value)
        elif isinstance(value, dict):
            _names_of_object(found, value, name)
        elif isinstance(value, list):
            _names_of_list(found, value, name)
            if name == EXTERNAL_IDS and key == "context":
                # An external id {"id": ..., "type": "email"} is classified by its type too.
                found.names.update(e["type"] for e in value if isinstance(e, dict) and isinstance(e.get("type"), str))


def _names_of_list(found: Names, items: list[Any], key: str) -> None:
    for item in items:
        if isinstance(item, str):
            if "=" in item and item not in found.params:
                _params_of(found, item)
        elif isinstance(item, dict):
            _names_of_object(found, item, key)
        elif isinstance(item, list):
            _names_of_list(found, item, key)


# A parameter name the policy is asked about. Any other (an email as a name: "?ada@x.io=1") is not
# written into a recorded decision's input; the string is then sealed whole, by its value.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,100}")


def _params_of(found: Names, text: str) -> None:
    parsed = params(text) if not sealed(text) else []
    found.params[text] = parsed
    found.names.update(p.name for p in parsed if _PLAIN_NAME.fullmatch(p.name))


@dataclass(frozen=True)
class NameVerdict:
    """What the cdp.pii decision says of a call's names."""

    personal: frozenset[str]
    personal_qualified: frozenset[str]
    not_personal_qualified: frozenset[str]
    # The keys some qualified name ends in: only those need their qualified name looked up.
    qualified_keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, result: dict[str, Any]) -> NameVerdict:
        personal_qualified = frozenset(result.get("personal_qualified", ()))
        not_personal_qualified = frozenset(result.get("not_personal_qualified", ()))
        keys = frozenset(q.rsplit(".", 1)[-1] for q in personal_qualified | not_personal_qualified)
        return cls(frozenset(result.get("personal", ())), personal_qualified, not_personal_qualified, keys)

    def personal_name(self, key: str, parent: str) -> bool:
        if key in self.qualified_keys:
            qualified = f"{parent}.{key}"
            if qualified in self.personal_qualified:
                return True
            if qualified in self.not_personal_qualified:
                return False
        return key in self.personal


@dataclass(slots=True)
class Target:
    """A value to seal: a whole value, or parameters of a string in place."""

    holder: Any  # the dict or list holding the value
    slot: Any  # its key or index
    key: str  # the nearest key: the field name it is sealed under
    path: str
    params: list[Param] | None = None  # None: the whole value


def _path(base: str, slot: Any) -> str:
    return f"{base}[{slot}]" if isinstance(slot, int) else f"{base}.{slot}"


class _Visit:
    def __init__(self, found: Names, verdict: NameVerdict, rules: ValueRules):
        self.found, self.verdict, self.rules = found, verdict, rules
        self.out: list[Target] = []
        self.already: list[str] = []

    def object(self, obj: dict[str, Any], key: str, path: str, personal: bool) -> None:
        personal_name = self.verdict.personal_name
        for name, value in obj.items():
            if value is None:
                continue
            inner = personal or personal_name(name, key)
            if not inner and name == EXTERNAL_IDS and key == "context" and isinstance(value, list):
                self.external_ids(value, f"{path}.{name}")
            else:
                self.value(obj, name, value, name, path, inner)

    def value(self, holder: Any, slot: Any, value: Any, key: str, base: str, personal: bool) -> None:
        """One value, holder[slot]; base: the path of its holder."""
        if isinstance(value, str):
            if sealed(value):
                self.already.append(_path(base, slot))
            elif personal:
                self.out.append(Target(holder, slot, key, _path(base, slot)))
            else:
                self.string(holder, slot, value, key, base)
        elif isinstance(value, dict):
            self.object(value, key, _path(base, slot), personal)
        elif isinstance(value, list):
            path = _path(base, slot)
            for i, item in enumerate(value):
                if item is not None:
                    self.value(value, i, item, key, path, personal)
        elif personal or self.rules.match_value(value):  # booleans only by name
            self.out.append(Target(holder, slot, key, _path(base, slot)))

    def string(self, holder: Any, slot: Any, text: str, key: str, base: str) -> None:
        found = self.found.params.get(text) if "=" in text else None
        if not found:
            if text and self.rules.match(text):
                self.out.append(Target(holder, slot, key, _path(base, slot)))
            return
        path = _path(base, slot)
        personal: list[Param] = []
        for p in found:
            if sealed(p.value):
                self.already.append(f"{path}{p.marker}{p.name}")
            elif p.value and (
                p.name in self.verdict.personal
                or self.rules.match(p.value)
                # Decoding reads "+" as a space, and "?to=+447700900505" is a phone as sent.
                or ("+" in (raw := p.raw(text)) and self.rules.match(raw))
            ):
                personal.append(p)
        rest = _without(text, personal) if personal else text
        if self.rules.match(rest):
            self.out.append(Target(holder, slot, key, path))  # e.g. an email in a URL's path
        elif personal:
            self.out.append(Target(holder, slot, key, path, personal))

    def external_ids(self, entries: list[Any], path: str) -> None:
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                if entry is not None:
                    self.value(entries, i, entry, EXTERNAL_IDS, path, False)
                continue
            kind = entry.get("type")
            by_type = isinstance(kind, str) and kind in self.verdict.personal
            entry_path = f"{path}[{i}]"
            for name, value in entry.items():
                personal = self.verdict.personal_name(name, EXTERNAL_IDS) or (by_type and name == "id")
                if value is not None:
                    self.value(entry, name, value, name, entry_path, personal)


def targets(
    fields: dict[str, Any], found: Names, verdict: NameVerdict, rules: ValueRules
) -> tuple[list[Target], list[str]]:
    """The values of a call to seal, and the paths of its values sealed already."""
    visit = _Visit(found, verdict, rules)
    for top in TOP_LEVEL:
        value = fields.get(top)
        if isinstance(value, dict) and value:
            visit.object(value, top, top, False)
    return visit.out, visit.already


def _without(text: str, personal: Iterable[Param]) -> str:
    return replace_spans(text, [(p.start, p.end, "") for p in personal])


# Plans: the walk, once per shape ---------------------------------------------------------------------
#
# Most calls of one event type have the same shape: the same keys at the same depths, each holding
# the same kind of value. Where no list and no string with "=" occurs (no query parameters, no
# external ids), the names a call holds, and so the verdict and which values are personal by name,
# follow from its shape alone: a Plan records them once, and each call of that shape then checks
# only what depends on its values (tokens sealed before, value patterns).

_STR, _NUM, _BOOL, _NULL = "s", "d", "b", "n"

Shape = tuple[Any, ...]


def shape(fields: dict[str, Any]) -> Shape | None:
    """The shape of a call's properties, traits and context; None when a plan cannot stand for it."""
    out: list[tuple[str, Shape]] = []
    for top in TOP_LEVEL:
        value = fields.get(top)
        if isinstance(value, dict) and value:
            inner = _shape_of_object(value)
            if inner is None:
                return None
            out.append((top, inner))
    return tuple(out)


def _shape_of_object(obj: dict[str, Any]) -> Shape | None:
    out: list[tuple[str, Any]] = []
    for name, value in obj.items():
        if isinstance(value, str):
            if "=" in value:
                return None
            out.append((name, _STR))
        elif isinstance(value, dict):
            inner = _shape_of_object(value)
            if inner is None:
                return None
            out.append((name, inner))
        elif value is None:
            out.append((name, _NULL))
        elif isinstance(value, bool):
            out.append((name, _BOOL))
        elif isinstance(value, int | float):
            out.append((name, _NUM))
        else:  # a list
            return None
    return tuple(out)


# One value of a planned object: its key, its kind (or the plan of an object), personal by name.
_Step = tuple[str, Any, bool]


@dataclass(frozen=True)
class Plan:
    """Which values of a call of one shape are personal by name: what targets() would find, less
    what depends on the values."""

    steps: tuple[tuple[str, tuple[_Step, ...]], ...]

    @classmethod
    def of(cls, call_shape: Shape, verdict: NameVerdict) -> Plan:
        return cls(tuple((top, _steps(inner, top, False, verdict)) for top, inner in call_shape))

    def targets(self, fields: dict[str, Any], rules: ValueRules) -> tuple[list[Target], list[str]]:
        """As targets(), for a call of this plan's shape."""
        out: list[Target] = []
        already: list[str] = []
        for top, steps in self.steps:
            _run(fields[top], steps, top, rules, out, already)
        return out, already


def _steps(call_shape: Shape, key: str, personal: bool, verdict: NameVerdict) -> tuple[_Step, ...]:
    out: list[_Step] = []
    for name, kind in call_shape:
        if kind == _NULL:  # as _Visit.object: nothing to seal
            continue
        inner = personal or verdict.personal_name(name, key)
        out.append((name, _steps(kind, name, inner, verdict) if isinstance(kind, tuple) else kind, inner))
    return tuple(out)


def _run(
    obj: dict[str, Any], steps: tuple[_Step, ...], path: str, rules: ValueRules, out: list[Target], already: list[str]
) -> None:
    for name, kind, personal in steps:
        value = obj[name]
        if kind == _STR:
            if value.startswith(TOKEN_PREFIX) and sealed(value):  # most strings fail the cheap test
                already.append(f"{path}.{name}")
            elif personal or (value and rules.match(value)):
                out.append(Target(obj, name, name, f"{path}.{name}"))
        elif kind == _NUM:
            if personal or rules.match_value(value):
                out.append(Target(obj, name, name, f"{path}.{name}"))
        elif kind == _BOOL:
            if personal:
                out.append(Target(obj, name, name, f"{path}.{name}"))
        else:
            _run(value, kind, f"{path}.{name}", rules, out, already)


# Keys that are personal data ----------------------------------------------------------------------
#
# A key can hold personal data too ({"ada@x.io": true}, {"+44 7700 900101": "mobile"}, an IP counted
# by address). A key cannot be sealed in place, so the object holding it is sealed whole, under its
# own key's name; at the top of properties, traits or context such entries move into one object,
# SEALED_KEYS, sealed whole. They are sealed before the names are judged, so no such key is ever a
# decision's input either.

SEALED_KEYS = "sealed_keys"
# Most keys are names ("plan", "First Name", "$browser", "first-name") and skip the patterns: what
# the policy's patterns find needs a digit, "@", "+" or ":" (but for a MAC address spelt in the
# letters a-f alone, which a key of this form is not looked at for).
_NAME_LIKE = re.compile(r"[A-Za-z_$][A-Za-z_$ \-]*")


def name_like(name: str) -> bool:
    """Whether a key is a plain name (letters, spaces, "_", "$", "-"), not looked at by the patterns."""
    return _NAME_LIKE.fullmatch(name) is not None


def personal_key(name: str, rules: ValueRules) -> bool:
    """Whether an object key is personal data by the value patterns."""
    return not name_like(name) and bool(rules.match(name))


def _holds_personal_key(obj: dict[str, Any], rules: ValueRules) -> bool:
    return any(personal_key(name, rules) for name in obj)


def shape_names(call_shape: Shape) -> Iterable[str]:
    """Every key a shape holds, at any depth."""
    for name, kind in call_shape:
        yield name
        if isinstance(kind, tuple):
            yield from shape_names(kind)


def keyed_objects(fields: dict[str, Any], rules: ValueRules) -> list[Target]:
    """The objects to seal whole because a key of theirs is personal (outermost only); entries
    with such keys at the top of a field are moved into fields[top][SEALED_KEYS] first."""
    out: list[Target] = []
    for top in TOP_LEVEL:
        value = fields.get(top)
        if not isinstance(value, dict) or not value:
            continue
        moved = {name: value.pop(name) for name in [n for n in value if personal_key(n, rules)]}
        if moved:
            held = value.get(SEALED_KEYS)  # the caller's own, if any, is kept inside
            if isinstance(held, dict):
                moved = {**held, **moved}
            elif held is not None:
                moved = {SEALED_KEYS: held, **moved}
            value[SEALED_KEYS] = moved
            out.append(Target(value, SEALED_KEYS, SEALED_KEYS, f"{top}.{SEALED_KEYS}"))
        for name, inner in value.items():
            if name != SEALED_KEYS or not moved:
                _keyed(value, name, inner, name, f"{top}.{name}", rules, out)
    return out


def _keyed(holder: Any, slot: Any, value: Any, key: str, path: str, rules: ValueRules, out: list[Target]) -> None:
    if isinstance(value, dict):
        if _holds_personal_key(value, rules):
            out.append(Target(holder, slot, key, path))
            return
        for name, inner in value.items():
            _keyed(value, name, inner, name, f"{path}.{name}", rules, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _keyed(value, i, item, key, f"{path}[{i}]", rules, out)
