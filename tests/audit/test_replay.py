"""Replay's reading of results as verdicts, the flips between them, their impact and the policy diff.

A name one side of a comparison does not mention is allowed there: a property a candidate newly
drops (cdp.collect), a field it newly classes as personal (cdp.pii) or a trait it newly withholds
(cdp.egress) is a flip from allow to deny, and the reverse from deny to allow.
"""

from __future__ import annotations

import json

from cdp.api.policy.v1 import decision_pb2
from cdp.audit.records import Collected, Delivery, Links, Recorded
from cdp.audit.replay import flips, impact, item_of, policy_diff, replay, verdicts
from cdp.platform.decisions import canonical

COLLECT, PII, EGRESS = "data.cdp.collect.decision", "data.cdp.pii.decision", "data.cdp.egress.decision"


def flipped(entrypoint: str, before: dict, after: dict) -> list[tuple[str, bool, bool]]:
    return flips(verdicts(entrypoint, before), verdicts(entrypoint, after))


def test_a_newly_dropped_property_flips_from_allow_to_deny_and_back():
    kept = {"allow": True, "reasons": [], "drop": []}
    dropped = {"allow": True, "reasons": [], "drop": ["total"]}
    assert flipped(COLLECT, kept, dropped) == [("collect:total", True, False)]
    assert flipped(COLLECT, dropped, kept) == [("collect:total", False, True)]
    assert flipped(COLLECT, kept, kept) == []


def test_a_newly_personal_field_flips_from_allow_to_deny_and_back():
    before, after = {"personal": ["email"]}, {"personal": ["email", "total"]}
    assert flipped(PII, before, after) == [("clear:total", True, False)]
    assert flipped(PII, after, before) == [("clear:total", False, True)]


def test_a_field_newly_personal_at_depth_or_by_value_flips():
    before = {"personal": [], "personal_qualified": [], "value_patterns": {"email": {"pattern": "@"}}}
    after = {"personal": [], "personal_qualified": ["device.id"], "value_patterns": {"email": {"pattern": "@"}}}
    assert flipped(PII, before, after) == [("clear:device.id", True, False)]
    more = {**before, "value_patterns": {"email": {"pattern": "@"}, "card": {"pattern": "[0-9]{16}"}}}
    assert flipped(PII, before, more) == [("clear-value:card:[0-9]{16}", True, False)]
    changed = {**before, "value_patterns": {"email": {"pattern": "@x"}}}
    assert flipped(PII, before, changed) == [
        ("clear-value:email:@", False, True),
        ("clear-value:email:@x", True, False),
    ]


def test_a_newly_withheld_trait_flips_whether_or_not_it_was_listed_before():
    before = {"allowed": ["email", "plan"], "withheld": [], "reasons": {}}
    after = {"allowed": ["plan"], "withheld": ["email"], "reasons": {"email": "class pii.contact not allowed"}}
    assert flipped(EGRESS, before, after) == [("egress:email", True, False)]
    assert flipped(EGRESS, after, before) == [("egress:email", False, True)]
    # A result that lists only what it withholds: the name is new on the candidate's side alone.
    assert flipped(EGRESS, {"withheld": []}, {"withheld": ["plan"]}) == [("egress:plan", True, False)]


def record(entrypoint: str, input_: dict, result: dict, decision_id: str, service: str) -> Recorded:
    return Recorded(
        service,
        1,
        decision_pb2.DecisionRecorded(
            decision_id=decision_id,
            entrypoint=entrypoint,
            input=canonical(input_),
            result=canonical(result),
            revision="r-in-force",
            decided_at="2024-08-01T10:00:00Z",
        ),
    )


def test_replay_counts_a_name_new_on_the_candidate_side_as_a_flip():
    records = [
        record(COLLECT, {"properties": ["total"]}, {"allow": True, "drop": [], "reasons": []}, "c1", "collector"),
        record(PII, {"fields": ["total"]}, {"personal": []}, "p1", "collector"),
    ]
    now = {
        "c1": canonical({"allow": True, "drop": ["total"], "reasons": []}),
        "p1": canonical({"personal": ["total"]}),
    }
    results = {item_of(r.record, "cand"): (True, now[r.record.decision_id]) for r in records}
    report = replay(records, results, "cand")
    data = report.as_dict()
    assert data["changed"] == 2
    for name, what in ((COLLECT, "collect:total"), (PII, "clear:total")):
        entry = data["entrypoints"][name]
        assert (entry["changed"], entry["allow_to_deny"], entry["deny_to_allow"]) == (1, 1, 0), name
        assert entry["examples"][0]["flips"] == [{"what": what, "from": "allow", "to": "deny"}]
    assert set(report.flipped) == {"c1", "p1"}


def test_impact_by_destination_and_by_event():
    records = [
        record(EGRESS, {"properties": ["email", "plan"]}, {"allowed": ["email", "plan"], "withheld": []}, "e1", "a"),
        record(EGRESS, {"properties": ["plan"]}, {"allowed": ["plan"], "withheld": []}, "e2", "a"),
        record(COLLECT, {"properties": ["total"]}, {"allow": True, "drop": []}, "c1", "collector"),
        record(COLLECT, {"properties": ["ssn"]}, {"allow": True, "drop": ["ssn"]}, "c2", "collector"),
    ]
    now = {
        "e1": {"allowed": ["plan"], "withheld": ["email"]},
        "e2": {"allowed": ["plan"], "withheld": []},  # unchanged
        "c1": {"allow": False, "drop": ["total"]},
        "c2": {"allow": True, "drop": ["ssn"]},  # unchanged
    }
    results = {item_of(r.record, "cand"): (True, canonical(now[r.record.decision_id])) for r in records}
    report = replay(records, results, "cand")
    links = Links(
        deliveries=[
            Delivery("d1", "dest-m", "ann", "e1", True),
            Delivery("d2", "dest-m", "bob", "e1", True),
            Delivery("d3", "dest-m", "ann", "e1", True),  # Ann again (she re-entered)
            Delivery("d4", "dest-m", "cat", "e2", True),  # relied on an unchanged decision
        ],
        events=[
            Collected("ev1", "user_id:ann", ("c1", "p9")),
            Collected("ev2", "user_id:ann", ("c1",)),
            Collected("ev3", "user_id:bob", ("c1",)),
            Collected("ev4", "user_id:cat", ("c2",)),
        ],
        destinations={"dest-m": ("Marketing", "marketing")},
    )
    found = impact(report.flipped, links)
    assert found["destinations"] == [
        {
            "destination_id": "dest-m",
            "name": "Marketing",
            "purpose": "marketing",
            "decisions": 1,
            "deliveries": 3,
            "persons": 2,
            "not_delivered": {"deliveries": 0, "persons": 0},
            "withheld": {"email": {"deliveries": 3, "persons": 2}},
            "released": {},
        }
    ]
    assert found["events"] == {
        COLLECT: {
            "events": 3,
            "subjects": 2,
            "flips": {
                "allow allow→deny": {"events": 3, "subjects": 2},
                "collect:total allow→deny": {"events": 3, "subjects": 2},
            },
        }
    }


def test_an_egress_decision_that_no_longer_allows_counts_deliveries_that_would_not_have_happened():
    [rec] = [record(EGRESS, {}, {"allow": True, "allowed": ["plan"]}, "e1", "activation")]
    report = replay([rec], {item_of(rec.record, "c"): (True, canonical({"allow": False, "withheld": ["plan"]}))}, "c")
    found = impact(report.flipped, Links(deliveries=[Delivery("d1", "x", "ann", "e1")]))
    [destination] = found["destinations"]
    assert destination["not_delivered"] == {"deliveries": 1, "persons": 1}
    assert destination["withheld"] == {"plan": {"deliveries": 1, "persons": 1}}
    assert destination["name"] == ""


def test_policy_diff_lists_changed_files_with_line_counts_and_a_unified_diff():
    in_force = {
        "cdp/collect/collect.rego": "package cdp.collect\n",
        "data/data.json": json.dumps({"forbidden": ["ssn"]}, indent=2) + "\n",
        "cdp/old.rego": "package old\n",
    }
    candidate = {
        "cdp/collect/collect.rego": "package cdp.collect\n",
        "data/data.json": json.dumps({"forbidden": ["ssn", "total"]}, indent=2) + "\n",
        "cdp/new.rego": "package new\n",
    }
    diff = {f["file"]: f for f in policy_diff(in_force, candidate)}
    assert set(diff) == {"data/data.json", "cdp/old.rego", "cdp/new.rego"}
    data = diff["data/data.json"]
    assert (data["status"], data["added"], data["removed"]) == ("changed", 2, 1)
    assert '+    "total"' in data["diff"] and "candidate/data/data.json" in data["diff"]
    assert (diff["cdp/old.rego"]["status"], diff["cdp/old.rego"]["removed"]) == ("removed", 1)
    assert (diff["cdp/new.rego"]["status"], diff["cdp/new.rego"]["added"]) == ("added", 1)
    assert policy_diff(in_force, in_force) == []


def test_the_html_report_shows_the_impact_and_the_policy_diff():
    from cdp.audit import html
    from cdp.audit.replay import Report

    report = Report("cand")
    report.impact = {
        "destinations": [
            {
                "destination_id": "dest-m",
                "name": "Mail <out>",
                "purpose": "marketing",
                "decisions": 1,
                "deliveries": 3,
                "persons": 2,
                "not_delivered": {"deliveries": 0, "persons": 0},
                "withheld": {"email": {"deliveries": 3, "persons": 2}},
                "released": {},
            }
        ],
        "events": {
            COLLECT: {"events": 3, "subjects": 2, "flips": {"collect:total allow→deny": {"events": 3, "subjects": 2}}}
        },
    }
    report.policy_diff = [
        {
            "in_force": "r" * 64,
            "services": ["collector"],
            "files": policy_diff({"data/data.json": "a\n"}, {"data/data.json": "b\n"}),
        }
    ]
    page = html.render(report)
    assert "Mail &lt;out&gt;" in page and "email withheld: 3 (2 persons)" in page
    assert "collect:total allow→deny: 3 events, 2 subjects" in page
    assert "data/data.json" in page and "+1" in page and "-1" in page and "\n+b\n" in page
    assert "No delivery or event" in html.render(Report("cand"))
