"""A person's consent as egress asks for it, and the destinations a revocation takes them out of.

The profile keeps each consent category under the name the calls used ("Advertising", "C0004");
policy data says which category each name stands for (data.cdp.consent_categories: a category and
its aliases) and which categories each purpose needs (data.cdp.purposes[p].consent_categories).
Here a profile's choices become the egress input's ``consent``: for each category the destination
needs, the latest choice under any of its names; a category never stated is left out, so egress
denies it by default. Only needed categories are given, so an unrelated choice does not change the
question (nor its decision id, nor its cached answer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Choice(Protocol):
    """A profile's consent state for one name (cdp.profile.v1.ConsentState)."""

    @property
    def granted(self) -> bool: ...
    @property
    def event_id(self) -> str: ...
    @property
    def at(self) -> str: ...


@dataclass(frozen=True)
class ConsentRules:
    """What policy data says of consent: the categories each purpose needs, and each category's names."""

    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # purpose -> categories
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category -> other names

    @classmethod
    def from_policy_data(cls, data: Mapping[str, Any]) -> ConsentRules:
        """From a bundle's merged data ({"cdp": {"purposes": ..., "consent_categories": ...}})."""
        cdp = data.get("cdp") or {}
        needs = {
            str(p): tuple(str(c) for c in (spec.get("consent_categories") or ()))
            for p, spec in (cdp.get("purposes") or {}).items()
            if isinstance(spec, dict)
        }
        aliases = {
            str(c): tuple(str(a) for a in (spec.get("aliases") or ()))
            for c, spec in (cdp.get("consent_categories") or {}).items()
            if isinstance(spec, dict)
        }
        return cls(needs, aliases)

    def names(self, category: str) -> set[str]:
        return {category, *self.aliases.get(category, ())}

    def needed(self, purposes: Iterable[str], own: Iterable[str] = ()) -> set[str]:
        """The categories a destination needs: its purposes' and its own. An unknown purpose needs
        none here; egress refuses it anyway."""
        return {c for p in purposes for c in self.needs.get(p, ())} | set(own)


def _latest(choices: Iterable[Choice]) -> Choice | None:
    return max(choices, key=lambda c: (c.at, c.event_id), default=None)


def resolved(consent: Mapping[str, Choice], rules: ConsentRules, categories: Iterable[str]) -> dict[str, Choice]:
    """category -> the person's latest choice under any of its names (categories never stated absent)."""
    out: dict[str, Choice] = {}
    for category in categories:
        latest = _latest(consent[n] for n in rules.names(category) if n in consent)
        if latest is not None:
            out[category] = latest
    return out


def egress_consent(
    consent: Mapping[str, Choice], rules: ConsentRules, purposes: Iterable[str], own: Iterable[str] = ()
) -> dict[str, bool]:
    """The egress input's ``consent`` for a destination of these purposes (and its own categories)."""
    return {c: choice.granted for c, choice in sorted(resolved(consent, rules, rules.needed(purposes, own)).items())}


@dataclass(frozen=True)
class Destination:
    """What a revocation needs to know of a destination."""

    destination_id: str
    purposes: tuple[str, ...]
    consent_categories: tuple[str, ...] = ()


def denied(consent: Mapping[str, Choice], rules: ConsentRules, categories: Iterable[str]) -> set[str]:
    return {c for c, choice in resolved(consent, rules, categories).items() if not choice.granted}


def revoked_since(
    before: Mapping[str, Choice],
    after: Mapping[str, Choice],
    rules: ConsentRules,
    destinations: Iterable[Destination],
) -> dict[str, set[str]]:
    """destination id -> the categories it needs that the person denies now and did not before
    (granted, or never stated): each of these destinations must receive the person's removal
    (those that hold them; which do is the caller's to know)."""
    out: dict[str, set[str]] = {}
    for d in destinations:
        needed = rules.needed(d.purposes, d.consent_categories)
        newly = denied(after, rules, needed) - denied(before, rules, needed)
        if newly:
            out[d.destination_id] = newly
    return out
