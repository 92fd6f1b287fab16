"""The identity policy's settings, read once per revision: identifier types and their priority,
limits, blocked values, protected identifiers, bands for a model's scores, matching settings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cdp.identity.domain import REFUSE, Identifier, Proposal, Verdict

SETTINGS_DECISION = "data.cdp.identity.settings"
LINK_DECISION = "data.cdp.identity.decision"
REVIEW_DECISION = "data.cdp.identity.review"


@dataclass
class IdentityRules:
    settings: dict[str, Any]
    decision_id: str = ""
    blocked_values: frozenset[str] = frozenset()
    blocked_patterns: tuple[re.Pattern[str], ...] = ()
    never_link: frozenset[str] = frozenset()
    protected: frozenset[str] = field(default_factory=frozenset)  # "type:value", emails in clear

    @classmethod
    def from_settings(cls, settings: dict[str, Any], decision_id: str = "") -> IdentityRules:
        patterns = [re.compile(text) for text in settings.get("blocked_patterns", ())]
        return cls(
            settings,
            decision_id,
            frozenset(str(v).strip().lower() for v in settings.get("blocked_values", ())),
            tuple(patterns),
            frozenset(settings.get("never_link", ())),
            frozenset(str(p) for p in settings.get("protected", ())),
        )

    def _type(self, kind: str) -> dict[str, Any]:
        types: dict[str, Any] = self.settings.get("types", {})
        found: dict[str, Any] = types.get(kind) or self.settings.get("external_type_defaults", {})
        return found

    def priority(self, identifier: Identifier) -> tuple[int, str, str]:
        return (int(self._type(identifier[0]).get("priority", 50)), identifier[0], identifier[1])

    def strongest_first(self, identifiers: Iterable[Identifier]) -> list[Identifier]:
        return sorted(dict.fromkeys(identifiers), key=self.priority)

    def blocked(self, kind: str, value: str) -> str:
        """Why an identifier is not used at all ("" when it is)."""
        if kind in self.never_link:
            return f"{kind} identifiers never link"
        text = value.strip().lower()
        if text in self.blocked_values:
            return f"{kind} value is on the blocked list"
        if any(p.search(value) for p in self.blocked_patterns):
            return f"{kind} value matches a blocked pattern"
        return ""

    def band(self, probability: float) -> str:
        bands = self.settings.get("bands", {})
        if probability >= float(bands.get("link", 0.95)):
            return "link"
        if probability >= float(bands.get("review", 0.5)):
            return "review"
        return "reject"

    @property
    def matching(self) -> dict[str, Any]:
        matching: dict[str, Any] = self.settings.get("matching", {})
        return matching


def link_input(proposal: Proposal) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """What the link decision is asked about a proposal, and a cheap key that determines it."""
    request = {
        "rule": proposal.rule,
        "counts": proposal.counts,
        "persons": proposal.persons,
        "identifiers": proposal.identifiers,
        "protected": proposal.protected,
        "band": proposal.band,
    }
    counts = tuple(sorted(proposal.counts.items()))
    return request, (proposal.rule, counts, proposal.persons, proposal.identifiers, proposal.protected, proposal.band)


def verdict_of(result: Any, decision_id: str) -> Verdict:
    """The link decision's answer as a verdict (refused when it gave none)."""
    result = result if isinstance(result, dict) else {}
    return Verdict(result.get("outcome", REFUSE), tuple(result.get("reasons", ("no decision",))), decision_id)
