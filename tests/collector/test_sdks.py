"""The real Segment and RudderStack Python SDKs, pointed at the collector's HTTP API."""

from __future__ import annotations

import uuid

import pytest
import requests

from cdp.api.collector.v1 import collector_pb2
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e


def segment_client(write_key, host):
    from segment.analytics import Client

    return Client(write_key, host=host, sync_mode=True, gzip=True, max_retries=1)


def rudder_client(write_key, host):
    from rudderstack.analytics.client import Client

    return Client(write_key, host=host, sync_mode=True, gzip=True, max_retries=1)


def stored_events(client) -> dict[str, collector_pb2.EventAccepted]:
    return {m.event.message_id: m for m in client.read_messages("collector", collector_pb2.EventAccepted)}


@pytest.mark.parametrize("make_client", [segment_client, rudder_client], ids=["segment", "rudderstack"])
def test_sdk_calls_are_stored_once_and_build_a_profile(client, http_url, make_client):
    source = client.create_source(f"sdk-{uuid.uuid4().hex[:6]}", server_side=True)
    sdk = make_client(source.write_key, http_url)
    user, anon, group = f"u-{uuid.uuid4().hex[:8]}", f"a-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:6]}"
    sdk.identify(user, {"email": f"{user}@example.com", "plan": "pro"}, anonymous_id=anon)
    sdk.track(user, "Order Completed", {"total": 42.5})
    sdk.page(user, "Docs", "Getting started", {"path": "/docs"})
    sdk.screen(user, "App", "Home")
    sdk.group(user, group, {"name": "Acme", "industry": "retail"})
    sdk.alias(f"old-{user}", user)
    sdk.flush()

    def ours():
        mine = [m for m in stored_events(client).values() if m.source_id == source.source_id]
        return mine if len(mine) == 6 else None

    events = wait_until(ours, what="the six SDK calls stored")
    assert sorted(m.event.type for m in events) == ["alias", "group", "identify", "page", "screen", "track"]
    assert all(m.event.message_id for m in events)

    def persons():
        resolved = client.identity.resolve(
            # A previous id never seen before is taken as an anonymous one (it holds no data of its own).
            [("user_id", user), ("anonymous_id", anon), ("anonymous_id", f"old-{user}")],
            timeout=10,
        )
        found = {r.person_id for r in resolved.resolutions}
        return found if "" not in found else None

    assert len(wait_until(persons, what="identity linking the SDK's identifiers")) == 1

    def profile():
        found = client.profile.get_profile(identifier=("user_id", user), timeout=10)
        return found if found.event_counts.get("$alias") == 1 else None

    found = wait_until(profile, what="the profile with all six calls")
    assert found.traits["plan"].value == '"pro"'
    assert found.traits["plan"].source_id == source.source_id
    assert found.event_counts["Order Completed"] == 1
    assert found.event_counts["$page"] == 1 and found.event_counts["$screen"] == 1
    assert [a.group_id for a in found.accounts] == [group]
    assert found.accounts[0].traits["industry"].value == '"retail"'


def test_a_replayed_batch_stores_nothing_new(client, http_url):
    source = client.create_source(f"replay-{uuid.uuid4().hex[:6]}", server_side=True)
    batch = {
        "batch": [
            {"type": "track", "messageId": f"m-{uuid.uuid4()}", "userId": "replayer", "event": "Clicked"},
            {"type": "identify", "messageId": f"m-{uuid.uuid4()}", "userId": "replayer", "traits": {"plan": "free"}},
        ]
    }
    for _ in range(3):  # as an SDK does after a timeout
        response = requests.post(f"{http_url}/v1/batch", json=batch, auth=(source.write_key, ""), timeout=10)
        assert response.status_code == 200, response.text
    mine = [m for m in stored_events(client).values() if m.source_id == source.source_id]
    assert len(mine) == 2
