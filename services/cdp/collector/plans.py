"""Tracking plans: what a source's events must look like (as Segment Protocols).

A plan is versioned JSON Schema: one schema per track event name (over its
properties), one for identify traits and one for group traits. A call that
breaks its schema, or a track event the plan does not list, is a violation;
the source's mode says whether it is let through, quarantined or rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema

from cdp.platform.errors import InvalidArgument

MODES = ("allow", "quarantine", "reject")


class InvalidPlan(InvalidArgument):
    """A plan document that breaks a rule; the message names the place."""


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str


@dataclass
class TrackingPlan:
    name: str
    version: int
    events: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    identify: Callable[[Any], Any] | None = None
    group: Callable[[Any], Any] | None = None

    def check(self, call_type: str, event_name: str, properties: dict, traits: dict) -> list[Violation]:
        if call_type == "track":
            validator = self.events.get(event_name)
            if validator is None:
                return [Violation("event", f"{event_name!r} is not in tracking plan {self.name} v{self.version}")]
            return _run(validator, properties, "properties")
        if call_type == "identify" and self.identify is not None:
            return _run(self.identify, traits, "traits")
        if call_type == "group" and self.group is not None:
            return _run(self.group, traits, "traits")
        return []


def compile_plan(name: str, version: int, document: Any) -> TrackingPlan:
    if not isinstance(document, dict):
        raise InvalidPlan("document: must be a JSON object")
    unknown = set(document) - {"name", "events", "identify", "group", "description"}
    if unknown:
        raise InvalidPlan(f"document: unknown keys {sorted(unknown)} (use events, identify, group)")
    events = document.get("events", {})
    if not isinstance(events, dict):
        raise InvalidPlan("events: must map event names to JSON Schemas")
    plan = TrackingPlan(name, version)
    for event_name, schema in events.items():
        plan.events[event_name] = _compile(f"events.{event_name}", schema)
    if "identify" in document:
        plan.identify = _compile("identify", document["identify"])
    if "group" in document:
        plan.group = _compile("group", document["group"])
    return plan


def _compile(where: str, schema: Any) -> Callable[[Any], Any]:
    if not isinstance(schema, dict):
        raise InvalidPlan(f"{where}: must be a JSON Schema object")
    try:
        return fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as error:
        raise InvalidPlan(f"{where}: invalid schema ({error})") from None


def _run(validator: Callable[[Any], Any], value: dict, root: str) -> list[Violation]:
    try:
        validator(value)
        return []
    except fastjsonschema.JsonSchemaValueException as error:
        path = root + error.name[len("data") :]
        if error.rule == "required":
            at = error.value if isinstance(error.value, dict) else {}
            missing = [name for name in error.rule_definition if name not in at]
            return [Violation(f"{path}.{missing[0]}" if missing else path, "is required by the plan (required)")]
        message = error.message.split(" ", 1)[1] if " " in error.message else error.message
        return [Violation(path, f"{message} ({error.rule})")]
