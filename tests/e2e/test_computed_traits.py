"""Computed traits on the running platform: declared with `cdp trait create --definition -`, kept
on the profile by profile's own timer (a window edge with no traffic), read by an audience and by
`cdp profile search`."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from cdp.api.profile.v1 import profile_pb2
from cdp.platform.clock import format_iso, parse_iso
from support.calls import event
from support.governance import ingest_accepted, profile_by, restart, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

MARKETER = ("--subject", "mia@example.com", "--role", "marketer")
WINDOW_SECONDS = 4


def cdp(platform, text: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(platform, *args, input=text)


def test_a_windowed_computed_trait_changes_on_time_and_an_audience_follows_it(tmp_path):
    definition = {"event": "Order Completed", "fn": "count", "window": {"last": f"PT{WINDOW_SECONDS}S"}}
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        bad = cdp(platform, json.dumps({**definition, "fn": "median"}), "trait", "create", "x", "--definition", "-")
        assert bad.returncode != 0 and "definition.fn: must be one of" in bad.stderr + bad.stdout
        # As the CLI's default caller (an admin): cdp.access lets only admins call an RPC it does not list.
        done = cdp(platform, json.dumps(definition), "trait", "create", "orders_now", "--definition", "-")
        assert done.returncode == 0, done.stderr + done.stdout
        listed = cdp(platform, "", "trait", "list", "--json")
        assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["orders_now"]
        got = cdp(platform, "", "trait", "get", "orders_now")
        assert json.loads(got.stdout)["definition"] == definition, got.stderr
        audience = cdp(
            platform,
            json.dumps({"trait": "orders_now", "op": "gte", "value": 1}),
            "audience",
            "create",
            "Buying now",
            "--definition",
            "-",
            "--purpose",
            "marketing",
            *MARKETER,
        )
        assert audience.returncode == 0, audience.stderr + audience.stdout
        audience_id = re.match(r"^(\S+)  ", audience.stdout).group(1)  # type: ignore[union-attr]

        source = client.create_source()
        now = datetime.now(UTC)
        ingest_accepted(
            client,
            source,
            [
                event("identify", "c-i1", format_iso(now), user_id="u-computed", traits={"plan": "pro"}),
                event("track", "c-t1", format_iso(now), user_id="u-computed", event="Order Completed"),
            ],
        )
        person = wait_until(
            lambda: (
                profile_by(client, "user_id", "u-computed").traits["orders_now"].value == "1"
                and profile_by(client, "user_id", "u-computed").person_id
            ),
            what="the computed trait",
        )
        wait_until(lambda: client.segment.list_members(audience_id) == [person], what="the person entering")
        found = cdp(
            platform,
            json.dumps(
                {
                    "all": [
                        {"trait": "plan", "op": "eq", "value": "pro"},
                        {"trait": "orders_now", "op": "gte", "value": 1},
                    ]
                }
            ),
            "profile",
            "search",
            "--where",
            "-",
            "--json",
        )
        assert found.returncode == 0, found.stderr
        assert [json.loads(line)["personId"] for line in found.stdout.splitlines()] == [person]
        assert "1 match" in found.stderr

        # No call from here on: the window's edge alone changes the trait, and the audience follows.
        wait_until(lambda: client.segment.list_members(audience_id) == [], timeout=WINDOW_SECONDS + 10, what="the exit")
        assert orjson.loads(profile_by(client, "user_id", "u-computed").traits["orders_now"].value) == 0
        changes = [
            m
            for m in client.read_messages("profile", profile_pb2.ProfileChanged)
            if m.profile.person_id == person and m.profile.traits["orders_now"].value == "0"
        ]
        late = (parse_iso(changes[0].changed_at) - parse_iso(format_iso(now))).total_seconds() - WINDOW_SECONDS
        assert 0 <= late < 1.0, late


def test_a_sum_over_a_window_drops_on_time_across_a_restart_of_profile(tmp_path):
    window = 8
    definition = {"event": "Order Completed", "fn": "sum", "property": "total", "window": {"last": f"PT{window}S"}}
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        done = cdp(platform, json.dumps(definition), "trait", "create", "revenue_now", "--definition", "-")
        assert done.returncode == 0, done.stderr + done.stdout
        source = client.create_source()
        first = datetime.now(UTC)
        second = first + timedelta(seconds=2)
        ingest_accepted(
            client,
            source,
            [
                event(
                    "track", "r-1", format_iso(first), user_id="u-r", event="Order Completed", properties={"total": 50}
                ),
                event(
                    "track",
                    "r-2",
                    format_iso(second),
                    user_id="u-r",
                    event="Order Completed",
                    properties={"total": 100},
                ),
            ],
        )
        # The second is dated 2 s ahead: it enters the window at its time, with no call.
        value = lambda: orjson.loads(profile_by(client, "user_id", "u-r").traits["revenue_now"].value)  # noqa: E731
        wait_until(lambda: value() == 150, timeout=10, what="the sum of both")
        restart(platform, "profile")  # the timer is state: armed again from it
        wait_until(lambda: value() == 100, timeout=window + 10, what="the first order leaving the window")
        person = profile_by(client, "user_id", "u-r").person_id
        changes = [
            m
            for m in client.read_messages("profile", profile_pb2.ProfileChanged)
            if m.profile.person_id == person and m.profile.traits["revenue_now"].value == "100"
        ]
        late = (parse_iso(changes[0].changed_at) - parse_iso(format_iso(first))).total_seconds() - window
        assert 0 <= late < 1.0, late
