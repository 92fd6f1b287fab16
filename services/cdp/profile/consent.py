"""A person's consent, per category, with where each choice came from.

Two SDK forms carry it in a call's context:
- Segment's Consent Management: ``context.consent.categoryPreferences``, a map of the
  category name to true (granted) or false (denied);
- RudderStack's: ``context.consentManagement`` with ``allowedConsentIds`` (granted),
  ``deniedConsentIds`` (denied) and its ``provider``.

Category names are kept exactly as sent (RudderStack's ids are case-sensitive); which policy
category each name stands for is policy data (``data.cdp.consent_categories``), decided at egress.
Per category the choice with the latest event timestamp wins (ties broken by event id), so a late
older call does not overwrite a newer choice and folding is order-independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEGMENT_FORM = "categoryPreferences"  # context.consent.categoryPreferences
RUDDERSTACK_FORM = "consentManagement"  # context.consentManagement
MAX_CATEGORY_LENGTH = 128  # a consent category name or id; longer ones are no category
# Consent managers have a handful of categories; a call naming more does not grow profiles with them.
MAX_CATEGORIES_PER_CALL = 64


@dataclass(frozen=True)
class ConsentState:
    granted: bool
    event_id: str
    at: str  # RFC 3339, UTC: the call's timestamp
    source: str  # the provider (RudderStack's "oneTrust", "ketch", ...), else the call's source id
    form: str  # SEGMENT_FORM or RUDDERSTACK_FORM

    def newer_than(self, other: ConsentState | None) -> bool:
        return other is None or (self.at, self.event_id) > (other.at, other.event_id)


def _category(name: Any) -> str:
    if isinstance(name, str) and 0 < len(name.strip()) <= MAX_CATEGORY_LENGTH:
        return name.strip()
    return ""


def choices(context: Mapping[str, Any], *, event_id: str, at: str, source_id: str) -> dict[str, ConsentState]:
    """The consent choices a call's context states, by category. What is malformed (a value not
    a boolean, an id not a string) states nothing: the call was accepted, its consent is unclear.
    A category both allowed and denied in one call counts as denied; names past the first
    MAX_CATEGORIES_PER_CALL are ignored."""
    found: dict[str, ConsentState] = {}
    consent = context.get("consent")
    preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    if isinstance(preferences, dict):
        for name, granted in preferences.items():
            category = _category(name)
            if category and isinstance(granted, bool) and len(found) < MAX_CATEGORIES_PER_CALL:
                found[category] = ConsentState(granted, event_id, at, source_id, SEGMENT_FORM)
    management = context.get("consentManagement")
    if isinstance(management, dict):
        provider = management.get("provider")
        source = provider.strip() if isinstance(provider, str) and provider.strip() else source_id
        for key, granted in (("allowedConsentIds", True), ("deniedConsentIds", False)):
            ids = management.get(key)
            for name in ids if isinstance(ids, list) else ():
                category = _category(name)
                if not category or (category not in found and len(found) >= MAX_CATEGORIES_PER_CALL):
                    continue
                if not granted or category not in found or found[category].granted:
                    found[category] = ConsentState(granted, event_id, at, source, RUDDERSTACK_FORM)
    return found


def fold(target: dict[str, ConsentState], states: Mapping[str, ConsentState]) -> bool:
    """Keep the newer choice per category; returns whether any changed."""
    changed = False
    for category, state in states.items():
        if state.newer_than(target.get(category)):
            target[category] = state
            changed = True
    return changed
