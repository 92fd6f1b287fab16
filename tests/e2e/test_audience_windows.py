"""A windowed audience on the running platform: defined through the real CLI with `--definition -`,
entered on the call, and exited when its window passes, with no traffic, by segment's timer."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime

import pytest

from cdp.api.segment.v1 import segment_pb2
from cdp.platform.clock import format_iso, parse_iso
from support.calls import event
from support.governance import ingest_accepted, profile_by, run_cli
from support.platform_fixture import Client, running_platform, wait_until

pytestmark = pytest.mark.e2e

MARKETER = ("--subject", "mia@example.com", "--role", "marketer")
WINDOW_SECONDS = 4


def cdp_with_stdin(platform, text: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(platform, *args, input=text)


def test_a_windowed_audience_exits_on_time_with_no_traffic(tmp_path):
    definition = {
        "all": [
            {"trait": "plan", "op": "eq", "value": "pro"},
            {
                "event": "Viewed Pricing",
                "where": [{"property": "page", "op": "starts_with", "value": "/pricing"}],
                "window": {"last": f"PT{WINDOW_SECONDS}S"},
            },
        ]
    }
    with running_platform(tmp_path / "data") as platform, Client(platform) as client:
        bad = cdp_with_stdin(
            platform,
            json.dumps({"any": [{"event": "X", "count": {"op": "most"}}]}),
            "audience",
            "create",
            "--purpose",
            "marketing",
            "Bad",
            "--definition",
            "-",
            *MARKETER,
        )
        assert bad.returncode != 0 and "definition.any[0].count.value: is required" in bad.stderr + bad.stdout
        done = cdp_with_stdin(
            platform,
            json.dumps(definition),
            "audience",
            "create",
            "--purpose",
            "marketing",
            "Pricing now",
            "--definition",
            "-",
            *MARKETER,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        audience_id = re.match(r"^(\S+)  ", done.stdout).group(1)  # type: ignore[union-attr]

        source = client.create_source()
        now = datetime.now(UTC)
        ingest_accepted(
            client,
            source,
            [
                event("identify", "w-i1", format_iso(now), user_id="u-window", traits={"plan": "pro"}),
                event(
                    "track",
                    "w-t1",
                    format_iso(now),
                    user_id="u-window",
                    event="Viewed Pricing",
                    properties={"page": "/pricing/teams"},
                ),
            ],
        )
        person = wait_until(lambda: profile_by(client, "user_id", "u-window").person_id, what="the profile")
        wait_until(lambda: client.segment.list_members(audience_id) == [person], what="the person entering")
        # No call from here on: the window's edge alone takes the person out.
        wait_until(lambda: client.segment.list_members(audience_id) == [], timeout=WINDOW_SECONDS + 10, what="the exit")
        exits = [
            m for m in client.read_messages("segment", segment_pb2.MembershipExited) if m.audience_id == audience_id
        ]
        assert [m.cause for m in exits] == ["timer"]
        late = (parse_iso(exits[0].at) - parse_iso(format_iso(now))).total_seconds() - WINDOW_SECONDS
        assert 0 <= late < 1.0, late
