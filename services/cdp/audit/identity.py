"""Which persons a candidate identity policy would split or merge.

Identity's evidence is decided again, in log order, under the candidate's rules (as the identity
service does when a new policy comes into force), and the persons it makes are compared with the
persons the recorded decisions made. Only ids and counts are reported, never identifier values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cdp.api.identity.v1 import identity_pb2 as pb
from cdp.identity import domain, translate
from cdp.identity.application import edge_id_for, new_person_id
from cdp.identity.rules import LINK_DECISION, SETTINGS_DECISION, IdentityRules, link_input, verdict_of
from cdp.platform.policy import PolicyBundle, make_engine

GRAPH_MESSAGES = (
    pb.CallEvidenced,
    pb.IdentifierSeen,
    pb.LinkEvidenced,
    pb.LinkRedecided,
    pb.LinkRetracted,
    pb.ReviewRequested,
    pb.ReviewDecided,
)
MAX_EXAMPLES = 5


class _EnginePolicy:
    """The candidate's link decisions, straight from its engine (nothing is recorded)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.cache: dict[tuple[Any, ...], domain.Verdict] = {}

    def decide(self, proposal: domain.Proposal) -> domain.Verdict:
        request, key = link_input(proposal)
        if key not in self.cache:
            self.cache[key] = verdict_of(self.engine.evaluate(LINK_DECISION, request), "")
        return self.cache[key]


def identity_changes(messages: Iterable[Any], bundle: PolicyBundle) -> dict[str, Any]:
    log = [event for m in messages for event in translate.to_domain_all(m)]
    live = domain.IdentityGraph(new_person_id)
    for event in log:
        live.apply(event)
    engine = make_engine("embedded", bundle)
    rules = IdentityRules.from_settings(engine.evaluate(SETTINGS_DECISION, {}) or {})
    # Emails and phones are held by blind index: the candidate's protected ones of those kinds
    # cannot be matched here (the identity service itself applies them).
    protected = {tuple(p.split(":", 1)) for p in rules.protected if not p.startswith(("email:", "phone:"))}
    candidate = domain.redecided(
        log,
        new_person_id,
        _EnginePolicy(engine),
        edge_id_for,
        lambda ids: any(i in protected for i in ids),
        rules.band,
        lambda identifier: bool(rules.blocked(*identifier)),
    )
    splits, merges = domain.partition_changes(live, candidate)
    merged_groups = [sorted({live.person_of[m] for m in candidate.members[p]}) for p in merges]
    return {
        "persons": len(live.members),
        "persons_under_candidate": len(candidate.members),
        "would_split": len(splits),
        "would_merge": len(merges),
        "split_examples": [
            {
                "person_id": p,
                "into": sorted({q for m in live.members[p] if (q := candidate.person_of.get(m))}),
                "identifiers_no_longer_used": sum(1 for m in live.members[p] if m not in candidate.person_of),
            }
            for p in splits[:MAX_EXAMPLES]
        ],
        "merge_examples": [{"persons": group} for group in merged_groups[:MAX_EXAMPLES]],
    }
