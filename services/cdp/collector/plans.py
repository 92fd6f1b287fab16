"""Tracking plans: what a source's calls must look like (as Segment Protocols).

A plan is versioned JSON Schema: one schema per track event name (over its properties), per page
and per screen name (optionally under a category), one for identify traits and one for group
traits. What a call does wrong is a violation of one of three kinds, each with its own setting on
the source: an unplanned event (a track name, page or screen the plan does not list), an unplanned
property (a property or trait the entry's schema does not list) and a schema violation. The
setting gives each violation its action (allow, omit, quarantine, block); the call's outcome is the
most severe of them.

judge() is the one implementation of plan checking: the collector runs it on every call, and
`cdp plan validate` runs it offline on sample calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import fastjsonschema
import orjson

from cdp.platform.errors import InvalidArgument

# Actions a violation may be given, from the least to the most severe.
ALLOW, OMIT, QUARANTINE, BLOCK = "allow", "omit", "quarantine", "block"
SEVERITY = {ALLOW: 0, OMIT: 1, QUARANTINE: 2, BLOCK: 3}

# Kinds of violation.
UNPLANNED_EVENT, UNPLANNED_PROPERTY, SCHEMA = "unplanned_event", "unplanned_property", "schema"

# Which actions each setting allows.
CHOICES = {
    "unplanned_events": (ALLOW, QUARANTINE, BLOCK),
    "unplanned_properties": (ALLOW, OMIT),
    "violations": (ALLOW, OMIT, QUARANTINE, BLOCK),
}

MODES = ("allow", "quarantine", "reject")  # the single mode of before: a shorthand for settings

# The document's sections: the call type each checks, and whether it maps names to schemas.
SECTIONS = {"events": "track", "pages": "page", "screens": "screen", "identify": "identify", "group": "group"}
NAMED = ("events", "pages", "screens")
DOCUMENT_KEYS = (*SECTIONS, "name", "description")
CATEGORY_SEPARATOR = "/"  # a page or screen entry "Docs/Getting Started": category Docs, name Getting Started
# Keywords that make a property planned besides its name under "properties".
OPEN_KEYWORDS = ("additionalProperties",)
# Keywords a property's own check keeps from the entry's schema (for $ref and patterns to resolve).
PROPERTY_KEYWORDS = ("properties", "patternProperties", "definitions", "$defs", "$schema", "$id", "id")


class InvalidPlan(InvalidArgument):
    """A plan document or settings that break a rule; the message names the place."""


@dataclass(frozen=True)
class Settings:
    """What becomes of each kind of violation on a source."""

    unplanned_events: str = ALLOW
    unplanned_properties: str = ALLOW
    violations: str = ALLOW

    @classmethod
    def of(cls, mode: str = "", overrides: Mapping[str, str] | None = None, where: str = "settings") -> Settings:
        """The settings of a mode (default allow) with any of its fields overridden; raises
        InvalidPlan naming the field and the rule."""
        if mode and mode not in MODES:
            raise InvalidPlan("mode", f"must be one of {', '.join(MODES)}")
        settings = MODE_SETTINGS[mode or "allow"]
        chosen = {name: value for name, value in (overrides or {}).items() if value}
        for name, value in chosen.items():
            if name not in CHOICES:
                raise InvalidPlan(f"{where}.{name}", f"is not a setting (use {', '.join(CHOICES)})")
            if value not in CHOICES[name]:
                raise InvalidPlan(f"{where}.{name}", f"must be one of {', '.join(CHOICES[name])}")
        return replace(settings, **chosen)

    @property
    def mode(self) -> str:
        """The single mode these settings are, or "custom"."""
        return next((mode for mode, settings in MODE_SETTINGS.items() if settings == self), "custom")

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CHOICES}


MODE_SETTINGS = {
    "allow": Settings(ALLOW, ALLOW, ALLOW),
    "quarantine": Settings(QUARANTINE, ALLOW, QUARANTINE),
    "reject": Settings(BLOCK, ALLOW, BLOCK),
}


@dataclass(frozen=True)
class Violation:
    """field: where (properties.total, traits.email, event); rule: what it breaks, in words;
    kind: unplanned_event, unplanned_property or schema; keyword: the JSON Schema keyword broken
    (type, required, ...); action: what was done about it (allow, omit, quarantine, block)."""

    field: str
    rule: str
    kind: str = SCHEMA
    keyword: str = ""
    action: str = ""


@dataclass(frozen=True)
class PlannedCall:
    """What of a call a plan checks: its type, its name (a track's event name, a page's or a
    screen's name), its category (a page's or screen's) and its properties and traits. The plan's
    schemas may fill in defaults, nested ones in place: give it values of its own (planned_call())."""

    type: str
    name: str = ""
    category: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)
    traits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A call judged: its violations, each with its action, and the properties or traits to drop
    from the stored call (as paths: properties.coupon, traits.age)."""

    violations: tuple[Violation, ...] = ()
    omitted: tuple[str, ...] = ()

    @property
    def action(self) -> str:
        """The call's action: the most severe of its violations' (allow when there are none)."""
        return max((v.action for v in self.violations), key=SEVERITY.__getitem__, default=ALLOW)


class Schema:
    """One entry's JSON Schema, compiled: whole (the fast path: a call that passes costs one
    validator run), and, for a call that fails, one property at a time and the object's own rules,
    so that every offending property is named."""

    def __init__(self, where: str, document: dict):
        self.where = where
        self.document = document
        listed = document.get("properties", {})
        if not isinstance(listed, dict):
            raise InvalidPlan(f"{where}.properties", "must map property names to JSON Schemas")
        self.required = _names(where, "required", document.get("required", []))
        self.whole = _compile(where, document)
        self.listed = frozenset(listed)
        patterns = document.get("patternProperties", {})
        self.patterns = tuple(re.compile(p) for p in patterns) if isinstance(patterns, dict) else ()
        self.open = any(document.get(k, False) not in (False, None) for k in OPEN_KEYWORDS)
        self._split: tuple[Callable[[Any], Any], Callable[[Any], Any]] | Literal[False] | None = None

    def unplanned(self, values: Mapping[str, Any]) -> list[str]:
        """The names the schema does not list (an explicit additionalProperties plans every name)."""
        if self.open:
            return []
        return [n for n in values if n not in self.listed and not any(p.search(n) for p in self.patterns)]

    def violations(self, values: dict, root: str, omit: bool) -> tuple[list[Violation], list[str]]:
        """The schema's violations and, with omit, the names of the offending properties removed
        from values (their violations' action omit; the required rule then sees them missing).
        The other violations have no action yet."""
        first = _run(self.whole, values, root)
        if not first:
            return [], []
        parts = self._parts()
        if parts is None:
            return first, []
        each, own = parts
        found: list[Violation] = []
        dropped: list[str] = []
        for name in list(values):
            wrong = _run(each, {name: values[name]}, root)
            if wrong and omit:
                wrong = [replace(v, action=OMIT) for v in wrong]
                dropped.append(name)
                del values[name]
            found += wrong
        found += [
            Violation(f"{root}.{n}", "is required by the plan (required)", SCHEMA, "required")
            for n in self.required
            if n not in values
        ]
        found += _run(own, values, root)
        if not found:  # a rule of the whole that neither part sees alone (e.g. a root anyOf)
            found = _run(self.whole, values, root)
        return found, dropped

    def _parts(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
        """The check of one property at a time, and of the object's own rules (additionalProperties,
        minProperties, ...: each property allowed anything, required left to violations());
        compiled when a call first fails. None when a part does not compile alone (a $ref into a
        place the part leaves out): the whole's first violation is all there is to report."""
        if self._split is None:
            own = {k: v for k, v in self.document.items() if k != "required"}
            own["properties"] = {name: {} for name in self.listed}
            if isinstance(own.get("patternProperties"), dict):
                own["patternProperties"] = {pattern: {} for pattern in own["patternProperties"]}
            try:
                each = _compile(self.where, {k: v for k, v in self.document.items() if k in PROPERTY_KEYWORDS})
                self._split = (each, _compile(self.where, own))
            except InvalidPlan:
                self._split = False
        return self._split or None


@dataclass
class TrackingPlan:
    name: str
    version: int
    events: dict[str, Schema] = field(default_factory=dict)
    pages: dict[str, Schema] | None = None  # None: the plan says nothing of pages (not checked)
    screens: dict[str, Schema] | None = None
    identify: Schema | None = None
    group: Schema | None = None

    @property
    def label(self) -> str:
        """How rules name the plan (version 0: a draft, not published)."""
        return f"tracking plan {self.name} " + (f"v{self.version}" if self.version else "(draft)")

    def judge(self, call: PlannedCall, settings: Settings) -> Verdict:
        """The call's violations under these settings, each with its action, and what to omit."""
        entry = self._entry(call)
        if isinstance(entry, Violation):
            return Verdict((replace(entry, action=settings.unplanned_events),))
        if entry is None:
            return Verdict()
        root = "traits" if call.type in ("identify", "group") else "properties"
        values = dict(call.traits if root == "traits" else call.properties)
        violations: list[Violation] = []
        omitted: list[str] = []
        for name in entry.unplanned(values):
            action = settings.unplanned_properties
            violations.append(Violation(f"{root}.{name}", f"is not in {self.label}", UNPLANNED_PROPERTY, "", action))
            if action == OMIT:
                omitted.append(f"{root}.{name}")
                del values[name]
        found, dropped = entry.violations(values, root, omit=settings.violations == OMIT)
        omitted += [f"{root}.{name}" for name in dropped]
        # Omitting drops the offending property; a rule no property can be dropped for (one
        # missing) lets the call through with the violation recorded.
        otherwise = ALLOW if settings.violations == OMIT else settings.violations
        violations += [v if v.action else replace(v, action=otherwise) for v in found]
        return Verdict(tuple(violations), tuple(omitted))

    def _entry(self, call: PlannedCall) -> Schema | Violation | None:
        """The schema the call is checked against; a Violation when the plan does not list it;
        None when the plan does not check calls of its type."""
        if call.type == "track":
            found = self.events.get(call.name)
            return found or Violation("event", f"{call.name!r} is not in {self.label}", UNPLANNED_EVENT)
        if call.type in ("page", "screen"):
            entries = self.pages if call.type == "page" else self.screens
            if entries is None:
                return None
            qualified = f"{call.category}{CATEGORY_SEPARATOR}{call.name}" if call.category else None
            found = entries.get(qualified) if qualified else None
            found = found or entries.get(call.name)
            if found:
                return found
            shown = qualified or call.name
            return Violation("name", f"{call.type} {shown!r} is not in {self.label}", UNPLANNED_EVENT)
        if call.type == "identify":
            return self.identify
        if call.type == "group":
            return self.group
        return None


def compile_plan(name: str, version: int, document: Any) -> TrackingPlan:
    """The plan of a document; raises InvalidPlan naming the place and the rule."""
    if not isinstance(document, dict):
        raise InvalidPlan("document", "must be a JSON object")
    unknown = set(document) - set(DOCUMENT_KEYS)
    if unknown:
        raise InvalidPlan("document", f"unknown keys {sorted(unknown)} (use {', '.join(SECTIONS)})")
    plan = TrackingPlan(name, version)
    for section in NAMED:
        if section not in document:
            continue
        entries = document[section]
        if not isinstance(entries, dict):
            raise InvalidPlan(section, f"must map {section[:-1]} names to JSON Schemas")
        compiled = {}
        for entry_name, schema in entries.items():
            if not entry_name.strip():
                raise InvalidPlan(section, f"{section[:-1]} names must not be empty")
            compiled[entry_name] = _schema(f"{section}.{entry_name}", schema)
        setattr(plan, section, compiled)
    for section in ("identify", "group"):
        if section in document:
            setattr(plan, section, _schema(section, document[section]))
    return plan


def _schema(where: str, document: Any) -> Schema:
    if not isinstance(document, dict):
        raise InvalidPlan(where, "must be a JSON Schema object")
    return Schema(where, document)


def _names(where: str, keyword: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidPlan(f"{where}.{keyword}", "must be a list of property names")
    return tuple(str(n) for n in value)  # a number never names a property: always missing, as JSON Schema has it


def _compile(where: str, schema: dict) -> Callable[[Any], Any]:
    try:
        return fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as error:
        raise InvalidPlan(where, f"invalid schema ({error})") from None
    except (re.error, TypeError, ValueError, AttributeError, KeyError, IndexError) as error:  # a bad keyword value
        raise InvalidPlan(where, f"invalid schema ({error})") from None


def _run(validator: Callable[[Any], Any], value: dict, root: str) -> list[Violation]:
    try:
        validator(value)
        return []
    except fastjsonschema.JsonSchemaValueException as error:
        assert error.name is not None  # a compiled validator names the place that failed
        path = root + error.name[len("data") :]
        rule_name = error.rule or ""
        if rule_name == "required":
            at = error.value if isinstance(error.value, dict) else {}
            missing = [name for name in error.rule_definition if name not in at]
            return [
                Violation(
                    f"{path}.{missing[0]}" if missing else path,
                    "is required by the plan (required)",
                    SCHEMA,
                    "required",
                )
            ]
        message = error.message[len(error.name) + 1 :] if error.message.startswith(error.name) else error.message
        return [Violation(path, f"{message} ({rule_name})", SCHEMA, rule_name)]


def planned_call(
    call: Any, properties: Mapping[str, Any] | None = None, traits: Mapping[str, Any] | None = None
) -> PlannedCall:
    """What a plan checks of a call (an Event message), from a fresh decoding of its JSON text
    unless properties and traits are given. identify's traits are its context.traits under its
    traits (the top level wins); a page's or screen's category is its properties.category."""
    if properties is None:
        properties = _object(call.properties)
    if traits is None:
        traits = dict(_object(call.context).get("traits") or {}) if call.type == "identify" else {}
        traits.update(_object(call.traits))
    name = call.event if call.type == "track" else getattr(call, "name", "")
    category = properties.get("category", "") if call.type in ("page", "screen") else ""
    return PlannedCall(call.type, name, category if isinstance(category, str) else "", properties, traits)


def omit(fields: dict[str, dict[str, Any]], paths: tuple[str, ...] | list[str]) -> set[str]:
    """Drop the omitted properties and traits (properties.coupon, traits.age) from a call's decoded
    fields, in place (a trait from context.traits too); the names of the fields changed."""
    changed = set()
    for path in paths:
        root, _, name = path.partition(".")
        holders = [(root, fields.get(root))]
        if root == "traits":
            holders.append(("context", (fields.get("context") or {}).get("traits")))
        for top, holder in holders:
            if isinstance(holder, dict) and name in holder:
                del holder[name]
                changed.add(top)
    return changed


def _object(text: str) -> dict[str, Any]:
    value = orjson.loads(text) if text else {}
    return value if isinstance(value, dict) else {}
