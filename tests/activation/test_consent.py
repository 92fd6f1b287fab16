"""A profile's consent as the egress input, and the destinations a revocation takes a person out
of; checked against the repository's policy data and the real egress policy (embedded engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.activation.consent import ConsentRules, Destination, egress_consent, revoked_since
from cdp.api.profile.v1 import profile_pb2 as pb
from cdp.platform.policy import load_bundle, make_engine

POLICIES = Path(__file__).resolve().parents[2] / "policies"
BUNDLE = load_bundle(POLICIES)
RULES = ConsentRules.from_policy_data(BUNDLE.data)
EGRESS = "data.cdp.egress.decision"


def choice(granted: bool, at: int, event_id: str = "", form: str = "categoryPreferences") -> pb.ConsentState:
    return pb.ConsentState(
        granted=granted, event_id=event_id or f"e{at}", at=f"2026-01-01T00:00:{at:02d}.000Z", source="web", form=form
    )


@pytest.fixture(scope="module")
def engine():
    return make_engine("embedded", BUNDLE)


def decide(engine, purposes, consent, properties=("email", "plan")):
    return engine.evaluate(
        EGRESS,
        {
            "destination": {"id": "d1", "type": "webhook", "purposes": list(purposes)},
            "properties": list(properties),
            "consent": consent,
        },
    )


def test_every_category_a_purpose_needs_is_in_the_catalog():
    assert RULES.needs["marketing"] == ("marketing",) and RULES.needs["support"] == ()
    for purpose, categories in RULES.needs.items():
        assert set(categories) <= set(RULES.aliases), purpose
    assert {"Advertising", "C0004"} <= RULES.names("marketing")


@pytest.mark.parametrize(
    "profile,purposes,expected",
    [
        ({}, ["marketing"], {}),  # never stated: left out, egress denies it by default
        ({"Advertising": choice(True, 1)}, ["marketing"], {"marketing": True}),
        ({"C0004": choice(False, 1, form="consentManagement")}, ["marketing"], {"marketing": False}),
        # Under two names, the latest choice wins.
        ({"Advertising": choice(True, 2), "C0004": choice(False, 1)}, ["marketing"], {"marketing": True}),
        ({"Advertising": choice(True, 1), "C0004": choice(False, 2)}, ["marketing"], {"marketing": False}),
        # Only what the destination's purposes need is given.
        ({"Advertising": choice(False, 1), "Analytics": choice(True, 1)}, ["analytics"], {"analytics": True}),
        ({"Advertising": choice(False, 1)}, ["support"], {}),
        ({"Advertising": choice(True, 1)}, ["marketing", "analytics"], {"marketing": True}),
        ({"Advertising": choice(True, 1)}, ["lead-scoring"], {}),
    ],
)
def test_egress_consent(profile, purposes, expected):
    assert egress_consent(profile, RULES, purposes) == expected


def test_a_destination_own_categories_are_given_too():
    profile = {"Functional": choice(False, 1), "Advertising": choice(True, 1)}
    assert egress_consent(profile, RULES, ["support"], own=["functional"]) == {"functional": False}


def test_the_consent_given_decides_egress_as_the_policy_says(engine):
    granted = {"Advertising": choice(True, 1), "Analytics": choice(True, 1)}
    denied = {**granted, "C0004": choice(False, 2, form="consentManagement")}
    d = decide(engine, ["marketing"], egress_consent(granted, RULES, ["marketing"]))
    assert (d["allowed"], d["remove"]) == (["email", "plan"], False)
    d = decide(engine, ["marketing"], egress_consent(denied, RULES, ["marketing"]))
    assert (d["allowed"], d["remove"]) == ([], True)
    d = decide(engine, ["analytics"], egress_consent(denied, RULES, ["analytics"]))
    assert (d["allowed"], d["remove"]) == (["plan"], False)
    d = decide(engine, ["marketing"], egress_consent({}, RULES, ["marketing"]))
    assert (d["allowed"], d["remove"], d["consent"]) == ([], False, {"marketing": "missing"})


DESTINATIONS = [
    Destination("crm", ("marketing",)),
    Destination("ads", ("marketing", "analytics")),
    Destination("stats", ("analytics",)),
    Destination("helpdesk", ("support",)),
    Destination("chat", ("support",), ("functional",)),
]


@pytest.mark.parametrize(
    "before,after,expected",
    [
        ({"Advertising": choice(True, 1)}, {"Advertising": choice(False, 2)}, {"crm", "ads"}),
        # Never stated before (delivered before consent was asked): a denial now removes too.
        ({}, {"C0004": choice(False, 1)}, {"crm", "ads"}),
        ({"Advertising": choice(False, 1)}, {"Advertising": choice(False, 1)}, set()),  # already out
        ({"Advertising": choice(False, 1)}, {"Advertising": choice(True, 2)}, set()),  # granted again
        ({"Analytics": choice(True, 1)}, {"Analytics": choice(False, 2)}, {"ads", "stats"}),
        ({}, {"Functional": choice(False, 1)}, {"chat"}),
        # A later grant under another name outweighs an earlier denial.
        ({}, {"C0004": choice(False, 1), "Advertising": choice(True, 2)}, set()),
    ],
)
def test_revoked_since(before, after, expected):
    found = revoked_since(before, after, RULES, DESTINATIONS)
    assert set(found) == expected
    assert all(found[d] for d in found)
