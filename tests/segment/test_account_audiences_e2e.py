"""Account conditions on the running platform: a person-level audience over a member quantifier and
an account trait, defined through the real CLI; a co-member enters when an admin of their pro
account views pricing, and leaves when the window passes, with no traffic, by segment's timer. An
account-level audience is previewed, created, updated and its history read through the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from e2e.test_audience_windows import cdp_with_stdin
from support.calls import event
from support.governance import ingest_accepted, profile_by, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

MARKETER = ("--subject", "mia@example.com", "--role", "marketer")
WINDOW_SECONDS = 4


def test_a_member_of_an_account_enters_with_its_admin_and_exits_on_time(tmp_path):
    from cdp.platform.clock import format_iso

    definition = {
        "all": [
            {"account_trait": "plan", "op": "eq", "value": "pro"},
            {
                "account": {
                    "any": {
                        "all": [
                            {"trait": "role", "op": "eq", "value": "admin"},
                            {"event": "Pricing Viewed", "window": {"last": f"PT{WINDOW_SECONDS}S"}},
                        ]
                    }
                }
            },
        ]
    }
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        done = cdp_with_stdin(
            platform,
            json.dumps(definition),
            "audience",
            "create",
            "Admins on pricing",
            "--definition",
            "-",
            "--purpose",
            "marketing",
            *MARKETER,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        audience_id = re.match(r"^(\S+)  ", done.stdout).group(1)  # type: ignore[union-attr]
        source = client.create_source()
        now = format_iso(datetime.now(UTC))
        ingest_accepted(
            client,
            source,
            [
                event("identify", "a-i1", now, user_id="u-admin", traits={"role": "admin"}),
                event("group", "a-g1", now, user_id="u-admin", group_id="acme-e2e", traits={"plan": "pro"}),
                event("group", "a-g2", now, user_id="u-member", group_id="acme-e2e"),
            ],
        )
        admin = wait_until(lambda: profile_by(client, "user_id", "u-admin").person_id, what="the admin")
        member = wait_until(lambda: profile_by(client, "user_id", "u-member").person_id, what="the member")
        ingest_accepted(
            client,
            source,
            [event("track", "a-t1", format_iso(datetime.now(UTC)), user_id="u-admin", event="Pricing Viewed")],
        )
        wait_until(lambda: client.segment.list_members(audience_id) == sorted([admin, member]), what="both entering")
        wait_until(lambda: client.segment.list_members(audience_id) == [], timeout=WINDOW_SECONDS + 10, what="the exit")


def cli(platform, *args: str, stdin: str | None = None) -> str:
    done = run_cli(platform, *args) if stdin is None else cdp_with_stdin(platform, stdin, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_an_account_level_audience_is_previewed_created_updated_and_its_history_names_accounts(tmp_path):
    from cdp.platform.clock import format_iso

    pro, free = ({"account_trait": "plan", "op": "eq", "value": p} for p in ("pro", "free"))
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        source = client.create_source()
        now = format_iso(datetime.now(UTC))
        ingest_accepted(
            client,
            source,
            [
                event("group", "l-g1", now, user_id="l-u1", group_id="acme-life", traits={"plan": "pro"}),
                event("group", "l-g2", now, user_id="l-u2", group_id="initech-life", traits={"plan": "free"}),
            ],
        )
        preview = ("audience", "preview", "--definition", "-", "--level", "account", *MARKETER)
        wait_until(
            lambda: cli(platform, *preview, stdin=json.dumps(pro)).splitlines()[1:] == ["acme-life"],
            what="the preview",
        )
        created = cli(
            platform,
            *("audience", "create", "Paid accounts", "--definition", "-", "--level", "account"),
            *("--purpose", "marketing", *MARKETER),
            stdin=json.dumps(pro),
        )
        audience_id = created.split()[0]
        assert client.segment.get_audience(audience_id).level == "account"
        assert "(members are accounts)" in cli(platform, "audience", "show", audience_id, *MARKETER)
        assert client.segment.list_members(audience_id) == ["acme-life"]
        cli(platform, "audience", "update", audience_id, "--definition", "-", *MARKETER, stdin=json.dumps(free))
        assert client.segment.list_members(audience_id) == ["initech-life"]

        def history(*args: str) -> list[list[str]]:
            out = cli(platform, "audience", "history", *args, *MARKETER)
            return [line.split()[1:] for line in out.splitlines()]

        assert history("--audience", audience_id) == [
            ["account", "initech-life", "entered", audience_id, "v2", "updated"],
            ["account", "acme-life", "exited", audience_id, "v2", "updated"],
            ["account", "acme-life", "entered", audience_id, "v1", "created"],
        ]
        assert [h[2:6] for h in history("--account", "acme-life")] == [
            ["exited", audience_id, "v2", "updated"],
            ["entered", audience_id, "v1", "created"],
        ]
