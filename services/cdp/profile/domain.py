"""Profiles: what a person's calls say about them, with where each fact came from.

Folding is order-independent, so a profile is the same whichever order calls
and merges arrive in: a trait keeps the value with the latest timestamp (ties
broken by event id), counts add up, first and last seen are min and max.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class TraitValue:
    value: str  # JSON text; for personal data, the token it was encrypted to
    source_id: str
    event_id: str
    updated_at: str  # RFC 3339, UTC
    subject: str = ""  # whose key encrypts a personal value
    event_type: str = ""  # the call type it came in
    erased: bool = False

    def newer_than(self, other: TraitValue | None) -> bool:
        return other is None or (self.updated_at, self.event_id) > (other.updated_at, other.event_id)


@dataclass
class ProfileState:
    person_id: str
    traits: dict[str, TraitValue] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    first_seen: str = ""
    last_seen: str = ""
    accounts: dict[str, dict[str, TraitValue]] = field(default_factory=dict)
    merged_person_ids: list[str] = field(default_factory=list)


def count_key(call_type: str, event_name: str) -> str:
    """Track calls count under their event name, other calls under $type."""
    return event_name if call_type == "track" else f"${call_type}"


def set_traits(target: dict[str, TraitValue], traits: dict[str, str], provenance: TraitValue) -> bool:
    changed = False
    for name, value in traits.items():
        candidate = TraitValue(
            value,
            provenance.source_id,
            provenance.event_id,
            provenance.updated_at,
            provenance.subject,
            provenance.event_type,
        )
        if candidate.newer_than(target.get(name)):
            target[name] = candidate
            changed = True
    return changed


def observe(
    profile: ProfileState,
    *,
    call_type: str,
    event_name: str,
    timestamp: str,
    source_id: str,
    event_id: str,
    traits: dict[str, str],
    group_id: str = "",
    group_traits: dict[str, str] | None = None,
    subject: str = "",
) -> None:
    """Fold one call into the profile. Trait values are JSON text."""
    key = count_key(call_type, event_name)
    profile.event_counts[key] = profile.event_counts.get(key, 0) + 1
    if not profile.first_seen or timestamp < profile.first_seen:
        profile.first_seen = timestamp
    profile.last_seen = max(profile.last_seen, timestamp)
    provenance = TraitValue("", source_id, event_id, timestamp, subject, call_type)
    set_traits(profile.traits, traits, provenance)
    if group_id:
        set_traits(profile.accounts.setdefault(group_id, {}), group_traits or {}, provenance)


def merge(survivor: ProfileState, merged: ProfileState) -> None:
    """Fold the merged person's profile into the survivor's."""
    for name, value in merged.traits.items():
        if value.newer_than(survivor.traits.get(name)):
            survivor.traits[name] = value
    for key, count in merged.event_counts.items():
        survivor.event_counts[key] = survivor.event_counts.get(key, 0) + count
    for group_id, traits in merged.accounts.items():
        target = survivor.accounts.setdefault(group_id, {})
        for name, value in traits.items():
            if value.newer_than(target.get(name)):
                target[name] = value
    if merged.first_seen and (not survivor.first_seen or merged.first_seen < survivor.first_seen):
        survivor.first_seen = merged.first_seen
    survivor.last_seen = max(survivor.last_seen, merged.last_seen)
    survivor.merged_person_ids = sorted({*survivor.merged_person_ids, merged.person_id, *merged.merged_person_ids})


def erase(profile: ProfileState, personal: Callable[[TraitValue], bool]) -> bool:
    """Forget the profile's personal values (their keys are gone); what they were stays unknown."""
    changed = False
    for traits in [profile.traits, *profile.accounts.values()]:
        for name, value in list(traits.items()):
            if personal(value) and not value.erased:
                traits[name] = replace(value, value="null", erased=True)
                changed = True
    return changed
