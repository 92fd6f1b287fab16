"""An audience's life on the running platform, through the real CLI over gRPC: previewed, created,
paged through, updated (members follow, marked "updated" with the new version), archived (members
exit; refused while another audience uses it), and all of it still there after segment restarts."""

from __future__ import annotations

import json
import re

import pytest

from support.calls import event
from support.governance import ingest_accepted, profile_by, restart, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

MARKETER = ("--subject", "mia@example.com", "--role", "marketer")
PLANS = {"life-u1": "pro", "life-u2": "pro", "life-u3": "team", "life-u4": "pro", "life-u5": "free"}


def cli(platform, *args: str) -> str:
    done = run_cli(platform, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def all_members(platform, audience_id: str) -> tuple[list[str], int, int]:
    """Every member through pages of two: (members, total, pages)."""
    members, token, pages = [], "", 0
    while True:
        out = cli(
            platform,
            "audience",
            "members",
            audience_id,
            "--page-size",
            "2",
            *(["--page-token", token] if token else []),
        )
        lines = out.splitlines()
        total = re.match(r"^total (\d+)(?:  next page: --page-token (\S+))?$", lines[-1])
        assert total, out
        members += lines[:-1]
        pages += 1
        token = total.group(2) or ""
        if not token:
            return members, int(total.group(1)), pages


def history(platform, *args: str) -> list[tuple[str, str, str, str, str]]:
    """(person, entered|exited, audience, version, cause) per line, newest first."""
    out = cli(platform, "audience", "history", *args)
    return [tuple(line.split()[1:6]) for line in out.splitlines() if not line.startswith("next page")]


def test_an_audience_is_previewed_paged_updated_and_archived_through_the_cli(tmp_path):
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        source = client.create_source("lifecycle-e2e", server_side=True)
        ingest_accepted(
            client,
            source,
            [
                event("identify", f"l-{u}", "2026-11-30T10:00:00Z", user_id=u, traits={"plan": p})
                for u, p in PLANS.items()
            ],
        )
        persons = {u: wait_until(lambda u=u: profile_by(client, "user_id", u), timeout=30).person_id for u in PLANS}
        pros = sorted(persons[u] for u, p in PLANS.items() if p == "pro")
        teams = sorted(persons[u] for u, p in PLANS.items() if p in ("pro", "team"))

        preview = cli(platform, "audience", "preview", "--trait", 'plan eq "pro"', "--sample", "2", *MARKETER)
        assert preview.splitlines()[0].startswith("size 3  (decision ")
        assert preview.splitlines()[1:] == pros[:2]
        assert cli(platform, "audience", "list") == ""  # nothing stored

        created = cli(
            platform, "audience", "create", "Pro", "--trait", 'plan eq "pro"', "--purpose", "marketing", *MARKETER
        )
        audience_id = created.split()[0]
        assert all_members(platform, audience_id) == (pros, 3, 2)

        # The edit: pro or team. Who enters is marked "updated", with version 2.
        definition = {
            "any": [{"trait": "plan", "op": "eq", "value": "pro"}, {"trait": "plan", "op": "eq", "value": "team"}]
        }
        path = tmp_path / "pro-or-team.json"
        path.write_text(json.dumps(definition))
        updated = cli(
            platform, "audience", "update", audience_id, "--definition", str(path), "--name", "Paying", *MARKETER
        )
        assert f"{audience_id}  Paying  v2  for marketing" in updated
        assert all_members(platform, audience_id)[:2] == (teams, 4)
        assert history(platform, "--audience", audience_id)[0] == (
            persons["life-u3"],
            "entered",
            audience_id,
            "v2",
            "updated",
        )
        assert history(platform, "--person", persons["life-u1"]) == [
            (persons["life-u1"], "entered", audience_id, "v1", "created")
        ]
        refused = run_cli(platform, "audience", "update", audience_id, "--purpose", "profiling", *MARKETER)
        assert refused.returncode != 0 and "purpose 'profiling' is not one of the purposes" in refused.stderr

        # Archive: refused while another audience uses it, naming that one; then its members exit.
        uses = tmp_path / "uses.json"
        uses.write_text(json.dumps({"audience": audience_id}))
        user_id = cli(
            platform, "audience", "create", "Uses it", "--definition", str(uses), "--purpose", "analytics", *MARKETER
        ).split()[0]
        blocked = run_cli(platform, "audience", "archive", audience_id, *MARKETER)
        assert blocked.returncode != 0 and f"is used by the audiences [{user_id}]" in blocked.stderr, blocked.stderr
        cli(platform, "audience", "archive", user_id, *MARKETER)
        assert "archived by mia@example.com" in cli(platform, "audience", "archive", audience_id, *MARKETER)
        assert all_members(platform, audience_id) == ([], 0, 1)
        exits = [h for h in history(platform, "--audience", audience_id) if h[4] == "archived"]
        assert sorted(h[0] for h in exits) == teams and {h[1] for h in exits} == {"exited"}

        # Segment rebuilds all of it from its log.
        before = (cli(platform, "audience", "list"), history(platform, "--audience", audience_id))
        restart(platform, "segment")
        client.reconnect("segment")
        listed = wait_until(lambda: cli(platform, "audience", "list"), timeout=30, what="segment back")
        assert (listed, history(platform, "--audience", audience_id)) == before
        assert re.search(rf"^{audience_id}  Paying  v2  by mia@example\.com  for marketing  archived$", listed, re.M), (
            listed
        )
