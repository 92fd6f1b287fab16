"""The access log, through the real platform and the real CLI: who read whose data, and when.

One person's profile is read in clear twice by an admin, once masked by a marketer, their
identifiers exported in clear by a privacy officer (`cdp identity export --clear`), and their
email sent to a marketing destination. `cdp audit access --person P` must list exactly the reads
in clear, one row per read (the admin's two although one decision allowed both), each pointing to
a decision in its service's decision log; `--caller` and `--since` filter; the HTML report shows
them; no access record holds a personal value; and `cdp audit verify` passes, and fails once an
access record is edited or removed (they are links of the decision chains).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.platform.clock import SYSTEM_CLOCK, format_iso
from cdp.platform.config import REPO_POLICIES
from support.calls import event, trait_condition
from support.governance import decisions, ingest_accepted, profile_by, run_cli
from support.platform_fixture import Client, running_platform, wait_until
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ACCESS_TOPIC = decision_pb2.AccessRecorded.DESCRIPTOR.full_name
EMAIL, FIRST_NAME = "ada-access@example.com", "Adalind"
ADMIN, MARKETER, OFFICER = "root@corp.example", "mia@corp.example", "po@corp.example"
GET_PROFILE = "/cdp.profile.v1.ProfileService/GetProfile"
LIST_IDENTIFIERS = "/cdp.identity.v1.IdentityService/ListIdentifiers"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("access-log") / "data"


@pytest.fixture(scope="module")
def reads(data_dir, tmp_path_factory):
    """A running platform, the person read, and when the admin's second read began."""
    with WebhookReceiver() as hook, running_platform(data_dir) as platform, Client(platform) as client:
        source = client.create_source("access-e2e", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event(
                    "identify",
                    "acc-1",
                    "2026-11-01T10:00:00Z",
                    user_id="u-access",
                    traits={"email": EMAIL, "first_name": FIRST_NAME, "plan": "pro"},
                    context={"consent": {"categoryPreferences": {"marketing": True}}},  # a marketing destination
                ),
                event("identify", "acc-2", "2026-11-01T10:00:00Z", user_id="u-other", traits={"email": "o@x.io"}),
            ],
        )
        marketer = platform.metadata(MARKETER, ["marketer"])  # masked: reads nothing in clear
        profile = wait_until(
            lambda: profile_by(client, "user_id", "u-access", metadata=marketer), timeout=30, what="the profile"
        )
        person = profile.person_id

        admin = platform.metadata(ADMIN, ["admin"])
        first = client.profile.get_profile(person, purpose="support-ticket", metadata=admin, timeout=10)
        assert first.traits["email"].value == json.dumps(EMAIL)
        time.sleep(1.1)
        second_at = format_iso(SYSTEM_CLOCK.now())
        time.sleep(0.1)
        client.profile.get_profile(person, metadata=admin, timeout=10)
        masked = client.profile.get_profile(person, metadata=marketer, timeout=10)
        assert masked.traits["email"].masked

        out = data_dir.parent / "ids.csv"
        exported = run_cli(
            platform,
            "identity",
            "export",
            "--clear",
            "--purpose",
            "gdpr-art15",
            "--out",
            str(out),
            "--subject",
            OFFICER,
            "--role",
            "privacy_officer",
        )
        assert exported.returncode == 0, exported.stderr + exported.stdout
        assert EMAIL in out.read_text()

        audience = client.segment.create_audience(
            "Pro (access)",
            [trait_condition("plan", "eq", "pro")],
            metadata=marketer,
            timeout=30,
            purpose="marketing",
        )
        destination = client.activation.create_destination(
            "CRM (access)", hook.url("/crm"), "marketing", [audience.audience_id], timeout=30
        )
        client.approve_syncs()  # it sends personal data: four eyes
        [sent] = hook.wait_for(lambda r: r.path == "/crm", timeout=30)
        assert sent.body["traits"]["email"] == EMAIL
        yield {
            "platform": platform,
            "client": client,
            "person": person,
            "second_at": second_at,
            "destination": destination.destination_id,
            "delivery": sent.body["delivery_id"],
            "sent": sent.body["traits"],
        }


def access(platform, *args: str) -> list[dict]:
    result = run_cli(platform, "audit", "access", "--json", *args)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_every_read_in_clear_is_listed_once_per_read_with_its_decision(reads):
    platform, client, person = reads["platform"], reads["client"], reads["person"]
    rows = access(platform, "--person", person)
    summary = [(r["service"], r["caller"], r["operation"], r["purpose"]) for r in rows]
    assert summary == [
        ("profile", ADMIN, GET_PROFILE, "support-ticket"),
        ("profile", ADMIN, GET_PROFILE, "GetProfile"),  # no purpose stated: the operation
        ("identity", OFFICER, LIST_IDENTIFIERS, "gdpr-art15"),
        ("activation", f"destination:{reads['destination']}", "deliver", "marketing"),
    ], rows
    admin_reads, export, delivery = rows[:2], rows[2], rows[3]
    for row in admin_reads:
        assert row["roles"] == ["admin"] and row["caller_kind"] == "user"
        assert row["fields"] == ["traits.email", "traits.first_name"], row
    # One decision allowed both reads; each read has its own record.
    assert admin_reads[0]["decision_id"] == admin_reads[1]["decision_id"]
    assert admin_reads[0]["access_id"] != admin_reads[1]["access_id"]
    assert export["roles"] == ["privacy_officer"] and export["fields"] == ["identifiers.email"]
    # The personal traits the destination received (marketing may have email and first name), not plan.
    assert reads["sent"] == {"email": EMAIL, "first_name": FIRST_NAME, "plan": "pro"}
    assert delivery["fields"] == ["traits.email", "traits.first_name"] and delivery["reference"] == reads["delivery"]
    assert all(r["person_id"] == person for r in rows)

    # Each points to a decision in its service's log: cdp.access for a read, cdp.egress for a delivery.
    for row, entrypoint in zip(rows, ["access"] * 3 + ["egress"], strict=True):
        recorded = {d.decision_id: d for d in decisions(client, row["service"])}
        assert row["decision_id"] in recorded, row
        decision = recorded[row["decision_id"]]
        assert decision.entrypoint == f"data.cdp.{entrypoint}.decision"
        if entrypoint == "access":
            assert json.loads(decision.result)["pii_clear"] is True
            assert json.loads(decision.input)["caller"]["subject"] == row["caller"]

    text = run_cli(platform, "audit", "access", "--person", person)
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == 1 + len(rows) and "4 read(s)" in text.stderr


def test_caller_and_since_filter_and_combine(reads):
    platform, person = reads["platform"], reads["person"]
    assert [r["caller"] for r in access(platform, "--caller", ADMIN)] == [ADMIN, ADMIN]
    assert [r["operation"] for r in access(platform, "--caller", OFFICER, "--person", person)] == [LIST_IDENTIFIERS]
    # The export read the other person's email in clear too: their own row, not this person's.
    assert {r["person_id"] for r in access(platform, "--caller", OFFICER)} - {person}
    assert access(platform, "--caller", ADMIN, "--person", "no-such-person") == []

    later = access(platform, "--person", person, "--since", reads["second_at"])
    assert [(r["caller"], r["purpose"]) for r in later][:2] == [(ADMIN, "GetProfile"), (OFFICER, "gdpr-art15")]
    assert len(later) == 3
    assert len(access(platform, "--person", person, "--since", "1h")) == 4
    assert access(platform, "--person", person, "--since", "0s") == []

    refused = run_cli(platform, "audit", "access", "--person", person, "--since", "yesterday")
    assert refused.returncode == 2 and "--since" in refused.stderr, refused.stderr
    alone = run_cli(platform, "audit", "access")
    assert alone.returncode == 2 and "--person" in alone.stderr


def test_the_html_report_has_the_access_log(reads, tmp_path):
    platform, person = reads["platform"], reads["person"]
    rows = access(platform, "--person", person)
    out = tmp_path / "report.html"
    result = run_cli(platform, "audit", "replay", "--policies", str(REPO_POLICIES), "--html", str(out))
    assert result.returncode == 0, result.stderr + result.stdout
    page = out.read_text()
    assert "<h2>Access log</h2>" in page
    for row in rows:
        assert row["decision_id"] in page and row["caller"] in page
    assert page.count(f"<td>{person}</td>") == len(rows)
    assert "traits.email, traits.first_name" in page and "identifiers.email" in page


def access_rows(db: Path) -> list[tuple[int, decision_pb2.AccessRecorded]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = ? ORDER BY rowid", (ACCESS_TOPIC,)
        ).fetchall()
    return [(rowid, decision_pb2.AccessRecorded.FromString(state)) for rowid, state in rows]


def test_no_access_record_holds_a_personal_value(reads, data_dir):
    personal = [EMAIL, FIRST_NAME, "o@x.io"]
    for service in ("profile", "identity", "activation"):
        rows = access_rows(data_dir / f"{service}.sqlite")
        assert rows, service
        for _, record in rows:
            state = record.SerializeToString()
            assert not [v for v in personal if v.encode() in state], (service, record)
    # Nor does profile's store or identity's hold the email anywhere, access records included.
    for service in ("profile", "identity"):
        for path in data_dir.glob(f"{service}.sqlite*"):
            assert EMAIL.encode() not in path.read_bytes(), path


def failures(result) -> list[str]:
    return [line for line in (result.stderr + result.stdout).splitlines() if line.startswith("FAIL")]


def test_verify_passes_and_fails_when_an_access_record_is_edited_or_removed(reads, data_dir, tmp_path):
    platform = reads["platform"]
    verified = run_cli(platform, "audit", "verify")
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "access records chained with them" in verified.stdout and "OK:" in verified.stdout

    platform.stop()
    removed = tmp_path / "removed"
    shutil.copytree(data_dir, removed)
    shutil.copytree(f"{data_dir}-keys", f"{removed}-keys")  # the install's keys, kept beside its data
    rows = access_rows(data_dir / "profile.sqlite")
    rowid, record = rows[0]  # the admin's first read: not the newest link of profile's chain
    record.caller = MARKETER  # as if someone else had read it
    with sqlite3.connect(data_dir / "profile.sqlite") as conn:
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (record.SerializeToString(), rowid))
    with running_platform(data_dir) as again:
        edited = run_cli(again, "audit", "verify")
    assert edited.returncode != 0, edited.stdout
    found = failures(edited)
    assert found and all(f"profile access record #{record.sequence} " in line for line in found), found
    assert "the record was edited" in found[0]

    rowid, record = access_rows(removed / "profile.sqlite")[0]
    with sqlite3.connect(removed / "profile.sqlite") as conn:
        assert conn.execute("DELETE FROM stored_events WHERE rowid = ?", (rowid,)).rowcount == 1
    with running_platform(removed) as again:
        missing = run_cli(again, "audit", "verify")
    assert missing.returncode != 0, missing.stdout
    [gap] = failures(missing)
    assert f"#{record.sequence + 1} " in gap and f"expected #{record.sequence}; a record before it is missing" in gap
