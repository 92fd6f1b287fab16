"""What changes between two versions of a tracking plan: events (pages, screens) and properties
added, removed or changed, and what becomes required or optional.

Both documents are compiled first (compile_plan), so a diff is only ever of valid plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cdp.collector.plans import NAMED, compile_plan

ADDED, REMOVED, CHANGED = "+", "-", "~"
LABELS = {"events": "event", "pages": "page", "screens": "screen"}


@dataclass(frozen=True)
class Change:
    """sign: + added, - removed, ~ changed; entry: "event 'Order Completed'", "identify";
    what: "" (the entry itself), "property total", "required total", "keyword additionalProperties";
    before and after: the JSON of what changed (for ~)."""

    sign: str
    entry: str
    what: str = ""
    before: str = ""
    after: str = ""

    def __str__(self) -> str:
        text = f"{self.sign} {self.entry}" + (f" {self.what}" if self.what else "")
        return f"{text}: {self.before} -> {self.after}" if self.sign == CHANGED else text


def diff(old: Any, new: Any) -> list[Change]:
    """The changes from old to new (plan documents); raises InvalidPlan if either is not a plan."""
    compile_plan("old", 1, old)
    compile_plan("new", 2, new)
    changes: list[Change] = []
    for section in NAMED:
        before, after = old.get(section) or {}, new.get(section) or {}
        label = LABELS[section]
        changes += [Change(REMOVED, f"{label} {name!r}") for name in before if name not in after]
        changes += [Change(ADDED, f"{label} {name!r}") for name in after if name not in before]
        for name in before:
            if name in after:
                changes += _schema_changes(f"{label} {name!r}", before[name], after[name])
    for section in ("identify", "group"):
        if section in old and section not in new:
            changes.append(Change(REMOVED, section))
        elif section in new and section not in old:
            changes.append(Change(ADDED, section))
        elif section in old:
            changes += _schema_changes(section, old[section], new[section])
    return changes


def _schema_changes(entry: str, before: dict, after: dict) -> list[Change]:
    changes: list[Change] = []
    old_properties, new_properties = before.get("properties") or {}, after.get("properties") or {}
    changes += [Change(REMOVED, entry, f"property {name}") for name in old_properties if name not in new_properties]
    changes += [Change(ADDED, entry, f"property {name}") for name in new_properties if name not in old_properties]
    changes += [
        Change(CHANGED, entry, f"property {name}", _json(old_properties[name]), _json(new_properties[name]))
        for name in old_properties
        if name in new_properties and old_properties[name] != new_properties[name]
    ]
    old_required, new_required = before.get("required") or [], after.get("required") or []
    changes += [Change(REMOVED, entry, f"required {name}") for name in old_required if name not in new_required]
    changes += [Change(ADDED, entry, f"required {name}") for name in new_required if name not in old_required]
    for keyword in dict.fromkeys([*before, *after]):
        if keyword in ("properties", "required") or before.get(keyword) == after.get(keyword):
            continue
        changes.append(
            Change(CHANGED, entry, f"keyword {keyword}", _json(before.get(keyword)), _json(after.get(keyword)))
        )
    return changes


def _json(value: Any) -> str:
    return "(none)" if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
