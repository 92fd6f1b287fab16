"""The outcome of one call, from cdp.collect's decision, the plan's violations and the source's mode."""

from __future__ import annotations

import pytest

from cdp.collector import domain
from cdp.collector.plans import Violation

PLAN = ("shop", 3)
MISSING = Violation("properties.total", "is required by the plan (required)")
UNLISTED = Violation("event", "'Clicked' is not in tracking plan shop v3")
ALLOW = {"allow": True}


@pytest.mark.parametrize("mode", ["allow", "quarantine", "reject"])
def test_a_call_cdp_collect_refuses_is_rejected_whatever_the_plan(mode):
    refused = domain.outcome({"allow": False, "reasons": ["server-side only", "no"]}, [], mode, PLAN)
    assert (refused.kind, refused.field, refused.rule, refused.by_policy) == (
        domain.REJECT,
        "event",
        "server-side only; no",
        True,
    )
    assert refused.recorded_rule == refused.rule and refused.drop == ()
    assert domain.outcome({}, [], mode).rule == "refused by cdp.collect", "no result is a refusal"


def test_a_call_without_violations_is_accepted_with_its_drops():
    decision = {"allow": True, "drop": ["password"]}
    for mode in ("allow", "quarantine", "reject"):
        accepted = domain.outcome(decision, [], mode, PLAN)
        assert (accepted.kind, accepted.drop, accepted.violations) == (domain.ACCEPT, ("password",), ())
    assert domain.dropped(decision) == ("password",)
    assert domain.dropped({"allow": False, "drop": ["password"]}) == (), "a refused call drops nothing"


def test_violations_under_reject_name_the_first_and_the_plan():
    rejected = domain.outcome({"allow": True, "drop": ["ssn"]}, [MISSING, UNLISTED], "reject", PLAN)
    assert (rejected.kind, rejected.field, rejected.by_policy) == (domain.REJECT, "properties.total", False)
    assert rejected.rule == "is required by the plan (required); tracking plan shop v3"
    assert rejected.recorded_rule == MISSING.rule, "the record keeps the plan's own words"
    assert rejected.drop == ("ssn",), "what cdp.collect dropped stays dropped in the record"
    unlisted = domain.outcome(ALLOW, [UNLISTED], "reject", PLAN)
    assert unlisted.rule == UNLISTED.rule, "a rule naming the plan already is not repeated"


def test_violations_under_quarantine_hold_the_call_and_under_allow_are_recorded():
    held = domain.outcome(ALLOW, [MISSING], "quarantine", PLAN)
    assert (held.kind, held.violations) == (domain.QUARANTINE, (MISSING,))
    let_through = domain.outcome(ALLOW, [MISSING], "allow", PLAN)
    assert (let_through.kind, let_through.violations, let_through.field) == (domain.ACCEPT, (MISSING,), "")
