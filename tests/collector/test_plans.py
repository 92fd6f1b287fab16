"""Tracking plans and cdp.collect on the running collector."""

from __future__ import annotations

import json
import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import InvalidArgument, Unauthenticated

pytestmark = pytest.mark.e2e

PLAN = {
    "events": {
        "Order Completed": {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}
    },
    "identify": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
}


def track(name, **properties):
    return event_pb2.Event(
        type="track", message_id=f"m-{uuid.uuid4()}", user_id="planned", event=name, properties=json.dumps(properties)
    )


def accepted(client, source) -> list[pb.EventAccepted]:
    return [m for m in client.read_messages("collector", pb.EventAccepted) if m.source_id == source.source_id]


def setup(client, mode: str, document=PLAN):
    name = f"plan-{uuid.uuid4().hex[:6]}"
    client.collector.publish_plan(name, document, timeout=10)
    source = client.create_source(f"src-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.assign_plan(source.name, name, mode, timeout=10)
    return name, source


def test_reject_mode_names_the_property_and_the_rule(client):
    name, source = setup(client, "reject")
    response = client.ingest(
        source.write_key,
        [track("Order Completed", total="ten"), track("Order Completed", total=10), track("Unplanned Thing")],
    )
    statuses = [a.status for a in response.acks]
    assert statuses == [pb.ACK_STATUS_REJECTED, pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_REJECTED]
    assert response.acks[0].field == "properties.total"
    assert "must be number (type)" in response.acks[0].error and f"{name} v1" in response.acks[0].error
    assert response.acks[2].field == "event" and "not in tracking plan" in response.acks[2].error
    assert len(accepted(client, source)) == 1
    rejected = [m for m in client.read_messages("collector", pb.EventRejected) if m.source_id == source.source_id]
    assert {(r.field, r.plan_name, r.plan_version) for r in rejected} == {
        ("properties.total", name, 1),
        ("event", name, 1),
    }


def test_quarantined_events_wait_and_are_released_once_the_plan_is_fixed(client):
    name, source = setup(client, "quarantine")
    held = track("Order Completed", total="ten")
    response = client.ingest(source.write_key, [held, track("Order Completed", total=3)])
    assert [a.status for a in response.acks] == [pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_ACCEPTED]
    assert client.ingest(source.write_key, [held]).acks[0].status == pb.ACK_STATUS_DUPLICATE  # a resend while it waits
    waiting = client.collector.list_quarantine(source.name, timeout=10)
    assert [q.event.message_id for q in waiting] == [held.message_id]
    assert waiting[0].violations[0].field == "properties.total"
    assert len(accepted(client, source)) == 1

    still = client.collector.release_quarantine(source.name, timeout=10)
    assert (still.released, still.still_quarantined) == (0, 1)
    fixed = {"events": {"Order Completed": {"type": "object", "properties": {"total": {"type": ["number", "string"]}}}}}
    client.collector.publish_plan(name, fixed, timeout=10)
    released = client.collector.release_quarantine(source.name, timeout=10)
    assert (released.released, released.still_quarantined) == (1, 0)
    passed_on = {m.event.message_id: m for m in accepted(client, source)}
    assert passed_on[held.message_id].plan_version == 2
    assert not client.collector.list_quarantine(source.name, timeout=10)


def test_allow_mode_lets_violations_through_and_records_them(client):
    name, source = setup(client, "allow")
    client.ingest(source.write_key, [track("Unplanned Thing")])
    [event] = accepted(client, source)
    assert event.plan_name == name and event.violations[0].field == "event"


def test_client_side_sources_may_not_send_server_side_events(client):
    browser = client.create_source(f"web-{uuid.uuid4().hex[:6]}", server_side=False)
    server = client.create_source(f"api-{uuid.uuid4().hex[:6]}", server_side=True)
    refused = client.ingest(browser.write_key, [track("Signed Up")]).acks[0]
    assert refused.status == pb.ACK_STATUS_REJECTED and "server-side source" in refused.error
    assert client.ingest(server.write_key, [track("Signed Up")]).acks[0].status == pb.ACK_STATUS_ACCEPTED
    [stored] = accepted(client, server)
    assert stored.server_side is True and stored.collect_decision_id
    assert client.ingest(browser.write_key, [track("Button Clicked")]).acks[0].status == pb.ACK_STATUS_ACCEPTED
    assert accepted(client, browser)[0].server_side is False


def test_forbidden_properties_are_dropped_and_the_drop_recorded(client):
    source = client.create_source(f"drop-{uuid.uuid4().hex[:6]}", server_side=True)
    client.ingest(source.write_key, [track("Order Completed", total=5, password="hunter2")])
    [stored] = accepted(client, source)
    assert json.loads(stored.event.properties) == {"total": 5}
    assert list(stored.dropped_properties) == ["password"]
    decisions = [
        d
        for d in client.read_messages("collector", decision_pb2.DecisionRecorded)
        if d.decision_id == stored.collect_decision_id
    ]
    assert decisions and json.loads(decisions[0].result)["drop"] == ["password"]


def test_disabled_source_is_refused(client):
    source = client.create_source(f"off-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.disable_source(source.name, timeout=10)
    with pytest.raises(Unauthenticated):
        client.ingest(source.write_key, [track("X")])


def test_an_invalid_plan_is_refused_with_its_place(client):
    with pytest.raises(InvalidArgument) as refused:
        client.collector.publish_plan("broken", {"events": {"X": {"type": 7}}}, timeout=10)
    assert refused.value.field == "events.X" and "invalid schema" in refused.value.rule, refused.value.details
    assert "events.X: invalid schema" in refused.value.details
