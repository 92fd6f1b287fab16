"""Consent sent by the real Segment and RudderStack SDKs: stored in the call's context untouched,
kept on the profile per category with provenance, the latest by timestamp winning, and shown by
GetProfile and `cdp profile get`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from collector.test_sdks import rudder_client, segment_client, stored_events
from support.governance import run_cli
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e

SEGMENT = {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True}}}
RUDDER = {
    "consentManagement": {
        "provider": "oneTrust",
        "allowedConsentIds": ["C0001", "C0002"],
        "deniedConsentIds": ["C0004"],
        "resolutionStrategy": "and",
    }
}


def test_both_sdks_consent_reaches_the_stored_context_and_the_profile(platform, client, http_url):
    source = client.create_source(f"consent-{uuid.uuid4().hex[:6]}", server_side=True)
    user = f"u-{uuid.uuid4().hex[:8]}"
    segment = segment_client(source.write_key, http_url)
    rudder = rudder_client(source.write_key, http_url)
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    segment.identify(user, {"plan": "pro"}, context=SEGMENT, timestamp=at)
    rudder.track(user, "Viewed", {}, context=RUDDER, timestamp=at.replace(minute=5))
    # Sent later, stated earlier: it does not overwrite the choice made after it.
    older = {"consent": {"categoryPreferences": {"Advertising": True}}}
    segment.track(user, "Clicked", {}, context=older, timestamp=at.replace(hour=11))
    segment.flush()
    rudder.flush()

    def ours():
        mine = [m for m in stored_events(client).values() if m.source_id == source.source_id]
        return mine if len(mine) == 3 else None

    stored = {m.event.event or m.event.type: json.loads(m.event.context) for m in wait_until(ours, what="3 calls")}
    assert stored["identify"]["consent"] == SEGMENT["consent"]
    assert stored["Viewed"]["consentManagement"] == RUDDER["consentManagement"]
    assert stored["Clicked"]["consent"] == older["consent"]

    def profile():
        found = client.profile.get_profile(identifier=("user_id", user), timeout=10)
        return found if sum(found.event_counts.values()) == 3 else None

    found = wait_until(profile, what="the profile with all three calls")
    shown = {k: (v.granted, v.source, v.form) for k, v in found.consent.items()}
    assert shown == {
        "Advertising": (False, source.source_id, "categoryPreferences"),
        "Analytics": (True, source.source_id, "categoryPreferences"),
        "C0001": (True, "oneTrust", "consentManagement"),
        "C0002": (True, "oneTrust", "consentManagement"),
        "C0004": (False, "oneTrust", "consentManagement"),
    }
    assert found.consent["Advertising"].at == "2026-03-01T12:00:00.000Z"

    admin = ("--subject", "admin@example.com", "--role", "admin")
    printed = run_cli(platform, "profile", "get", "--user-id", user, *admin)
    assert printed.returncode == 0, printed.stderr + printed.stdout
    lines = [line.split() for line in printed.stdout.splitlines() if line.strip().startswith("consent ")]
    assert [(w[1], w[2], w[4]) for w in lines] == [
        ("Advertising", "denied", source.source_id),
        ("Analytics", "granted", source.source_id),
        ("C0001", "granted", "oneTrust"),
        ("C0002", "granted", "oneTrust"),
        ("C0004", "denied", "oneTrust"),
    ]
