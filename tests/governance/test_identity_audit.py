"""`cdp audit replay` with a candidate identity policy reports which persons would merge or split,
through the real CLI against the running platform."""

from __future__ import annotations

import json

import pytest

from support.calls import event
from support.governance import ingest_accepted, run_cli
from support.platform_fixture import Client, running_platform, wait_until
from support.policies import with_identity_data

pytestmark = pytest.mark.e2e


def test_replay_reports_the_persons_a_candidate_identity_policy_would_merge_or_split(tmp_path):
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        source = client.create_source("identity-audit", server_side=True)
        calls = [
            event("identify", "k1", "2026-11-01T10:00:00Z", user_id="alice", anonymous_id="kiosk"),
            event("identify", "k2", "2026-11-01T10:01:00Z", user_id="bob", anonymous_id="kiosk"),
            event("identify", "c1", "2026-11-01T10:02:00Z", user_id="carol", anonymous_id="c-phone"),
        ]
        ingest_accepted(client, source, calls)

        def followed():
            found = client.identity.resolve([("anonymous_id", "c-phone")], timeout=10).resolutions[0].person_id
            return found or None

        carol = wait_until(followed, what="identity following the calls")
        alice = client.identity.resolve([("user_id", "alice")], timeout=10).resolutions[0].person_id

        def two_user_ids(identity):
            identity["types"]["user_id"]["limit"] = 2

        looser = with_identity_data(tmp_path / "looser", two_user_ids)
        out = tmp_path / "looser.json"
        done = run_cli(platform, "audit", "replay", "--policies", str(looser), "--json", str(out))
        assert done.returncode == 0, done.stderr
        report = json.loads(out.read_text())["identity"]
        assert report["would_merge"] == 1 and report["would_split"] == 0, report
        assert "1 would merge" in done.stdout
        assert len(report["merge_examples"][0]["persons"]) == 2
        # The recorded link decisions that flip are counted too.
        assert json.loads(out.read_text())["entrypoints"]["data.cdp.identity.decision"]["deny_to_allow"] >= 1

        def block_the_kiosk(identity):
            identity["custom_blocked_values"] = ["kiosk", "c-phone"]

        stricter = with_identity_data(tmp_path / "stricter", block_the_kiosk)
        out = tmp_path / "stricter.json"
        done = run_cli(platform, "audit", "replay", "--policies", str(stricter), "--json", str(out))
        assert done.returncode == 0, done.stderr
        report = json.loads(out.read_text())["identity"]
        assert report["would_split"] == 2 and report["would_merge"] == 0, report
        assert sorted(e["person_id"] for e in report["split_examples"]) == sorted([alice, carol])
