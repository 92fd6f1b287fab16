"""Privacy audits by policy replay, and tamper evidence of the decision logs, through the real CLI.

Traffic flows to two destinations of one audience: one for marketing (email may leave) and one for
analytics (it may not). `cdp audit replay` against a candidate policy where email may no longer
leave for marketing must report exactly the recorded egress decisions that would flip, and nothing
else. `cdp audit verify` passes on the live log; after one DecisionRecorded row is edited in a
service's SQLite store it fails naming that record, and after one is deleted it reports the gap.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.client import PermissionDenied
from cdp.platform.config import REPO_POLICIES, SERVICES
from support.calls import event, trait_condition
from support.governance import (
    EGRESS_DECISION,
    decisions,
    ingest_accepted,
    profile_by,
    rpc_error,
    run_cli,
)
from support.platform_fixture import Client, running_platform, wait_until
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

DECISION_TOPIC = decision_pb2.DecisionRecorded.DESCRIPTOR.full_name
COLLECT_DECISION, PII_DECISION = "data.cdp.collect.decision", "data.cdp.pii.decision"
PEOPLE = {  # user id -> traits: different sets of trait names give different egress decisions
    "user-audit-ann": {"email": "ann-audit@example.com", "plan": "pro"},
    "user-audit-bob": {"email": "bob-audit@example.com", "first_name": "Bob", "plan": "pro"},
    "user-audit-cat": {"plan": "pro"},
    "user-audit-dan": {"email": "dan-audit@example.com", "plan": "free"},  # not in the audience
}


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audit") / "data"


CONSENT = {"marketing": True, "analytics": True}  # what each person agreed to, as Segment's SDK sends it


@pytest.fixture(scope="module")
def traffic(data_dir, receiver):
    """A running platform that saw some traffic, and what it recorded. The verify test stops it to edit its
    files, so it comes after the replay test (file order); either also runs alone."""
    with running_platform(data_dir) as platform, Client(platform) as client:
        source = client.create_source("audit-e2e", server_side=True)
        calls = []
        for i, (user, traits) in enumerate(PEOPLE.items()):
            calls += [
                event(
                    "identify",
                    f"au-{i}-1",
                    "2024-08-01T10:00:00Z",
                    user_id=user,
                    traits=traits,
                    context={"consent": {"categoryPreferences": CONSENT}},
                ),
                event(
                    "track",
                    f"au-{i}-2",
                    "2024-08-01T10:05:00Z",
                    user_id=user,
                    event="Order Completed",
                    properties={"total": 10 + i},
                ),
            ]
        ingest_accepted(client, source, calls)
        for user in PEOPLE:
            wait_until(
                lambda user=user: profile_by(client, "user_id", user).event_counts.get("Order Completed") == 1,
                timeout=30,
                what=f"{user}'s profile",
            )
        audience = client.segment.create_audience(
            "Pro (audit)",
            [trait_condition("plan", "eq", "pro")],
            metadata=platform.metadata("mia@example.com", ["marketer"]),
            timeout=30,
            purpose="marketing",
        )
        destinations = {}
        for purpose in ("marketing", "analytics"):
            destinations[purpose] = client.activation.create_destination(
                f"{purpose} (audit)", receiver.url(f"/{purpose}"), purpose, [audience.audience_id], timeout=30
            )
        client.approve_syncs()  # the marketing one sends personal data: four eyes
        members = 3
        receiver.wait_for(lambda r: r.path == "/marketing", count=members, timeout=30)
        receiver.wait_for(lambda r: r.path == "/analytics", count=members, timeout=30)
        by_user = {r.body["traits"].get("email"): r.body for r in receiver.requests("/marketing")}
        assert by_user["ann-audit@example.com"]["traits"]["email"] == "ann-audit@example.com"
        assert all("email" not in r.body["traits"] for r in receiver.requests("/analytics"))

        def all_delivered():
            found = client.activation.list_deliveries(limit=1000, timeout=10)
            return len(found) == 2 * members and all(d.status == "delivered" for d in found)

        wait_until(all_delivered, timeout=20, what="every delivery delivered")
        recorded = {service: decisions(client, service) for service in SERVICES}
        yield {"platform": platform, "destinations": destinations, "recorded": recorded}


def candidate_policies(tmp_path: Path) -> Path:
    """The repository's policies, except that email (pii.contact) may no longer leave for marketing."""
    candidate = tmp_path / "candidate"
    shutil.copytree(REPO_POLICIES, candidate)
    data_file = candidate / "data" / "data.json"
    data = json.loads(data_file.read_text())
    allowed = data["cdp"]["purposes"]["marketing"]["allowed_classes"]
    assert "pii.contact" in allowed
    allowed.remove("pii.contact")
    data_file.write_text(json.dumps(data, indent=2))
    return candidate


def test_replay_reports_exactly_the_egress_decisions_that_would_flip(data_dir, traffic, tmp_path):
    recorded = traffic["recorded"]
    marketing = traffic["destinations"]["marketing"].destination_id
    egress = [d for d in recorded["activation"] if d.entrypoint == EGRESS_DECISION]
    # What must flip: the marketing destination's egress decisions over properties that include email.
    expected = {
        d.decision_id
        for d in egress
        if json.loads(d.input)["destination"]["id"] == marketing and "email" in json.loads(d.input)["properties"]
    }
    assert len(expected) == 2, "Ann's {email, plan} and Bob's {email, first_name, plan}"
    assert len(egress) >= 5  # the same for analytics, and Cat's {plan} for both

    candidate = candidate_policies(tmp_path)
    out_json, out_html = tmp_path / "out.json", tmp_path / "out.html"
    replayed = run_cli(
        traffic["platform"],
        "audit",
        "replay",
        "--policies",
        str(candidate),
        "--json",
        str(out_json),
        "--html",
        str(out_html),
    )
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    assert "2 would change" in replayed.stdout, replayed.stdout

    report = json.loads(out_json.read_text())
    assert report["changed"] == 2
    entry = report["entrypoints"][EGRESS_DECISION]
    assert entry["replayed"] == len(egress)
    assert (entry["changed"], entry["allow_to_deny"], entry["deny_to_allow"]) == (2, 2, 0)
    assert {x["decision_id"] for x in entry["examples"]} == expected
    for example in entry["examples"]:
        assert example["service"] == "activation"
        assert example["flips"] == [{"what": "egress:email", "from": "allow", "to": "deny"}]
        assert "email" in example["recorded"]["allowed"] and "email" in example["now"]["withheld"]
    others = {name: e for name, e in report["entrypoints"].items() if name != EGRESS_DECISION}
    assert {"data.cdp.access.decision", "data.cdp.audience.decision", "data.cdp.pii.decision"} <= set(others)
    for name, e in others.items():
        assert (e["changed"], e["allow_to_deny"], e["deny_to_allow"], e["examples"]) == (0, 0, 0, []), name
        assert e["replayed"] >= sum(1 for s in recorded.values() for d in s if d.entrypoint == name), name
    assert report["errors"] == []
    assert sum(t["flips"] for t in report["timeline"]) == 2

    # The impact: the marketing destination, whose deliveries to Ann and Bob would have withheld email.
    [destination] = report["impact"]["destinations"]
    assert destination == {
        "destination_id": marketing,
        "name": "marketing (audit)",
        "purpose": "marketing",
        "decisions": 2,
        "deliveries": 2,
        "persons": 2,
        "not_delivered": {"deliveries": 0, "persons": 0},
        "withheld": {"email": {"deliveries": 2, "persons": 2}},
        "released": {},
    }
    assert report["impact"]["events"] == {}
    assert "email would have been withheld from 2 deliveries to 2 persons" in replayed.stdout, replayed.stdout
    assert_policy_diff(report, replayed.stdout, '"pii.contact"', "-")

    html = out_html.read_text()
    assert "<svg" in html and "</svg>" in html and "rect" in html
    assert EGRESS_DECISION in html
    assert "marketing (audit)" in html and "email withheld: 2 (2 persons)" in html
    assert "data/data.json" in html and "pii.contact" in html


def assert_policy_diff(report: dict, stdout: str, line: str, sign: str) -> None:
    """The report's policy diff: only the merged data differs from the revision in force, by this line."""
    [diff] = report["policy_diff"]
    assert set(diff["services"]) == set(SERVICES)
    [changed] = diff["files"]
    assert (changed["file"], changed["status"]) == ("data/data.json", "changed")
    assert any(d.startswith(sign) and line in d for d in changed["diff"].splitlines()), changed["diff"]
    assert changed["added" if sign == "+" else "removed"] >= 1
    assert "policy diff against revision" in stdout and "changed  data/data.json" in stdout, stdout


def replay_json(platform, candidate: Path, tmp_path: Path) -> tuple[dict, str]:
    out_json = tmp_path / "out.json"
    replayed = run_cli(platform, "audit", "replay", "--policies", str(candidate), "--json", str(out_json))
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    return json.loads(out_json.read_text()), replayed.stdout


def edited_policies(tmp_path: Path, edit) -> Path:
    """The repository's policies with their data edited in place (edit(file name, data))."""
    candidate = tmp_path / "candidate"
    shutil.copytree(REPO_POLICIES, candidate)
    for data_file in sorted((candidate / "data").glob("*.json")):
        data = json.loads(data_file.read_text())
        if edit(data_file.name, data):
            data_file.write_text(json.dumps(data, indent=2))
    return candidate


def test_replay_reports_a_property_newly_dropped_and_the_events_it_touches(traffic, tmp_path):
    def drop_total(name: str, data: dict) -> bool:
        if name != "collect.json":
            return False
        data["cdp"]["collect"]["forbidden_properties"].append("total")
        return True

    report, stdout = replay_json(traffic["platform"], edited_policies(tmp_path, drop_total), tmp_path)
    collect = report["entrypoints"][COLLECT_DECISION]
    # Every Order Completed call carried {total}: one recorded decision, now dropping it.
    assert collect["changed"] >= 1 and collect["allow_to_deny"] == collect["changed"], collect
    assert all(x["flips"] == [{"what": "collect:total", "from": "allow", "to": "deny"}] for x in collect["examples"]), (
        collect
    )
    assert report["impact"]["events"][COLLECT_DECISION] == {
        "events": len(PEOPLE),
        "subjects": len(PEOPLE),
        "flips": {"collect:total allow→deny": {"events": len(PEOPLE), "subjects": len(PEOPLE)}},
    }
    assert report["impact"]["destinations"] == []
    assert f"{COLLECT_DECISION}: {len(PEOPLE)} events of {len(PEOPLE)} subjects" in stdout, stdout
    assert_policy_diff(report, stdout, '"total"', "+")


def test_replay_reports_a_field_newly_personal_and_the_events_it_touches(traffic, tmp_path):
    def total_is_personal(name: str, data: dict) -> bool:
        if name != "data.json":
            return False
        data["cdp"]["classification"]["total"] = "pii.financial"
        return True

    report, stdout = replay_json(traffic["platform"], edited_policies(tmp_path, total_is_personal), tmp_path)
    pii = report["entrypoints"][PII_DECISION]
    assert pii["changed"] >= 1 and pii["allow_to_deny"] == pii["changed"] and pii["deny_to_allow"] == 0, pii
    assert all({"what": "clear:total", "from": "allow", "to": "deny"} in x["flips"] for x in pii["examples"]), pii
    assert report["impact"]["events"][PII_DECISION] == {
        "events": len(PEOPLE),
        "subjects": len(PEOPLE),
        "flips": {"clear:total allow→deny": {"events": len(PEOPLE), "subjects": len(PEOPLE)}},
    }
    assert f"{PII_DECISION}: {len(PEOPLE)} events of {len(PEOPLE)} subjects" in stdout, stdout
    assert_policy_diff(report, stdout, '"total": "pii.financial"', "+")


def decision_rows(db: Path) -> list[tuple[int, decision_pb2.DecisionRecorded]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = ? ORDER BY rowid", (DECISION_TOPIC,)
        ).fetchall()
    return [(rowid, decision_pb2.DecisionRecorded.FromString(state)) for rowid, state in rows]


def failures(result) -> list[str]:
    return [line for line in (result.stderr + result.stdout).splitlines() if line.startswith("FAIL")]


def test_verify_passes_live_and_fails_on_an_edited_or_a_missing_record(data_dir, traffic, tmp_path):
    verified = run_cli(traffic["platform"], "audit", "verify")
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "OK: every decision reproduces and every hash chain is intact" in verified.stdout

    # Stop the platform, keep an untouched copy, then edit one record in activation's store.
    traffic["platform"].stop()
    pristine = tmp_path / "pristine"
    shutil.copytree(data_dir, pristine)
    shutil.copytree(f"{data_dir}-keys", f"{pristine}-keys")  # the install's keys, kept beside its data
    marketing = traffic["destinations"]["marketing"].destination_id
    rows = decision_rows(data_dir / "activation.sqlite")
    last_sequence = rows[-1][1].sequence
    [(rowid, record)] = [
        (i, r)
        for i, r in rows
        if r.entrypoint == EGRESS_DECISION
        and json.loads(r.input)["destination"]["id"] == marketing
        and json.loads(r.input)["properties"] == ["email", "plan"]
    ]
    assert record.sequence < last_sequence, "edit a record in the middle of the chain"
    result = json.loads(record.result)
    result["allowed"].remove("email")
    result["withheld"].append("email")  # as if email had not left
    record.result = json.dumps(result, sort_keys=True, separators=(",", ":"))
    with sqlite3.connect(data_dir / "activation.sqlite") as conn:
        assert (
            conn.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?", (record.SerializeToString(), rowid)
            ).rowcount
            == 1
        )

    with running_platform(data_dir) as platform:
        edited = run_cli(platform, "audit", "verify")
    assert edited.returncode != 0, edited.stdout
    found = failures(edited)
    assert found, edited.stderr + edited.stdout
    assert all(record.decision_id[:12] in line and line.startswith("FAIL activation decision") for line in found), found
    assert any(
        f"activation decision #{record.sequence}" in line and "the record was edited" in line for line in found
    ), found

    # Separately: one record deleted (from the untouched copy) leaves a gap that verify reports.
    rows = decision_rows(pristine / "activation.sqlite")
    [(rowid, deleted)] = [
        (i, r)
        for i, r in rows
        if r.entrypoint == EGRESS_DECISION
        and json.loads(r.input)["destination"]["id"] != marketing
        and json.loads(r.input)["properties"] == ["email", "first_name", "plan"]
    ]
    assert deleted.sequence < rows[-1][1].sequence
    with sqlite3.connect(pristine / "activation.sqlite") as conn:
        assert conn.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,)).rowcount == 1

    with running_platform(pristine) as platform:
        missing = run_cli(platform, "audit", "verify")
    assert missing.returncode != 0, missing.stdout
    found = failures(missing)
    assert len(found) == 1, found
    # The next link of the chain: a decision, or a delivery's access record chained between them.
    assert found[0].startswith("FAIL activation ") and f" #{deleted.sequence + 1} (" in found[0], found
    assert f"expected #{deleted.sequence}; a record before it is missing" in found[0]


def test_verify_detects_the_newest_record_deleted(tmp_path):
    data_dir = tmp_path / "data"
    with running_platform(data_dir) as platform, Client(platform) as client:
        error = rpc_error(
            client.segment.create_audience,
            "Analyst's",
            [trait_condition("plan", "eq", "x")],
            metadata=platform.metadata("al@example.com", ["analyst"]),
            timeout=10,
            purpose="marketing",
        )
        assert isinstance(error, PermissionDenied), error
    rows = decision_rows(data_dir / "segment.sqlite")
    rowid, newest = rows[-1]
    assert newest.caller == "al@example.com" and json.loads(newest.result)["allow"] is False
    with sqlite3.connect(data_dir / "segment.sqlite") as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,))
    with running_platform(data_dir) as platform:
        verified = run_cli(platform, "audit", "verify")
    assert verified.returncode != 0, "a deleted refusal went unnoticed: " + verified.stdout
