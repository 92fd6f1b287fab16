"""The collector's commands in one process: sources, plans, assignments, quarantine, and two
collectors on one store (replicas) seeing each other's changes."""

from __future__ import annotations

import json
import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.collector.application import Collector
from cdp.platform import config as config_module
from cdp.platform.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from cdp.platform.personal import PersonalData, open_vault
from cdp.platform.store import open_store
from support.kernel import unit_of_work

PLAN = {"events": {"Viewed": {"type": "object", "required": ["page"]}}}


def collector_on(config) -> tuple[Collector, object]:
    store = open_store(config.store, "collector")
    uow = unit_of_work(store, "collector")
    return Collector(uow, PersonalData(open_vault(config), uow.decider)), store


@pytest.fixture
def config(tmp_path):
    return config_module.load("collector", ["--data-dir", str(tmp_path)])


@pytest.fixture
def collector(config):
    collector, store = collector_on(config)
    yield collector
    store.close()


def viewed(message_id: str, **properties) -> event_pb2.Event:
    return event_pb2.Event(
        type="track", message_id=message_id, user_id="u1", event="Viewed", properties=json.dumps(properties)
    )


def test_sources_are_created_once_by_name_and_disabled(collector):
    source = collector.create_source("web", server_side=False)
    assert collector.source_for(source.write_key) is collector.sources[source.source_id]
    assert not collector.sources[source.source_id].write_key, "state holds only the key's hash"
    assert source.write_key.startswith(collector.sources[source.source_id].write_key_hint)
    with pytest.raises(Unauthenticated, match="write_key"):
        collector.source_for(source.write_key + "x")
    with pytest.raises(Conflict, match="name"):
        collector.create_source("web", server_side=True)
    with pytest.raises(InvalidArgument, match="name"):
        collector.create_source(" ", server_side=True)
    collector.disable_source("web")
    collector.disable_source("web")  # twice is once
    with pytest.raises(Unauthenticated, match="write_key"):
        collector.source_for(source.write_key)
    with pytest.raises(NotFound, match="source_name"):
        collector.disable_source("nope")


def test_plans_are_versioned_assigned_and_enforced(collector):
    key = collector.create_source("web", server_side=True).write_key
    assert collector.publish_plan("shop", json.dumps(PLAN)).version == 1
    assert collector.publish_plan("shop", json.dumps(PLAN)).version == 2
    assert collector.plan_documents["shop"].version == 2 and "shop" in collector.plans
    with pytest.raises(InvalidArgument, match="document"):
        collector.publish_plan("bad", "{not json")
    with pytest.raises(NotFound, match="plan_name"):
        collector.assign_plan("web", "nope", "reject")
    with pytest.raises(InvalidArgument, match="mode"):
        collector.assign_plan("web", "shop", "sometimes")
    collector.assign_plan("web", "shop", "reject")
    response = collector.ingest(key, [viewed("m1"), viewed("m2", page="/")])
    assert [a.status for a in response.acks] == [pb.ACK_STATUS_REJECTED, pb.ACK_STATUS_ACCEPTED]
    assert "page" in response.acks[0].error or response.acks[0].field


def test_quarantined_calls_are_listed_and_released_by_a_fixed_plan(collector):
    key = collector.create_source("web", server_side=True).write_key
    collector.publish_plan("shop", json.dumps(PLAN))
    collector.assign_plan("web", "shop", "quarantine")
    assert collector.ingest(key, [viewed("m1")]).accepted == 1
    (held,) = collector.list_quarantine("web", 10)
    assert held.violations and collector.quarantine
    assert collector.release_quarantine("web").still_quarantined == 1  # still breaks the plan
    collector.publish_plan("shop", json.dumps({"events": {"Viewed": {"type": "object"}}}))
    assert collector.release_quarantine("").released == 1
    assert collector.list_quarantine("", 10) == []
    released = collector.store.read(0, 1000, [pb.EventAccepted.DESCRIPTOR.full_name])
    assert len(released) == 1


def test_two_collectors_on_one_store_see_each_others_changes(config):
    first, first_store = collector_on(config)
    second, second_store = collector_on(config)
    try:
        source = first.create_source("web", server_side=True)
        second.refresh()
        assert second.source_for(source.write_key).name == "web"
        second.publish_plan("shop", json.dumps(PLAN))
        first.assign_plan("web", "shop", "reject")  # a command sees the other's plan at once
        second.refresh()
        assert second.sources[source.source_id].plan_name == "shop"
        # The same call sent to both is stored once.
        one = first.ingest(source.write_key, [viewed("m1", page="/")])
        other = second.ingest(source.write_key, [viewed("m1", page="/")])
        assert (one.accepted, other.duplicates) == (1, 1)
    finally:
        first_store.close()
        second_store.close()


def test_the_store_holds_a_keyed_hash_of_a_write_key_never_the_key(config):
    collector, store = collector_on(config)
    try:
        source = collector.create_source("web", server_side=True)
        collector.ingest(source.write_key, [viewed("m1", page="/")])
        created = pb.SourceCreated.FromString(collector.store.events_of(uuid.UUID(source.source_id))[0].state)
        assert created.write_key_hash and not created.source.write_key
        assert created.write_key_hash == collector.personal.vault.write_key_hash(source.write_key)
    finally:
        store.close()
    files = [p for p in config.store.data_dir.iterdir() if p.name.startswith("collector.sqlite")]
    assert files
    for path in files:
        assert source.write_key.encode() not in path.read_bytes(), path.name


def test_a_source_stored_with_its_key_in_clear_still_authenticates(config):
    """A store from before write keys were hashed: the key is hashed as the source loads."""
    from cdp.platform.published import stored

    collector, store = collector_on(config)
    try:
        source_id = str(uuid.uuid4())
        old = pb.SourceCreated(source=pb.Source(source_id=source_id, name="old", write_key="k" * 32, server_side=True))
        collector.store.append([stored(uuid.UUID(source_id), 1, old)])
        collector.refresh()
        assert collector.source_for("k" * 32).name == "old"
        assert collector.sources[source_id].write_key_hint == "kkkk" and not collector.sources[source_id].write_key
        with pytest.raises(Unauthenticated):
            collector.source_for("k" * 31)
    finally:
        store.close()


def test_a_held_call_is_checked_and_released_with_its_values_at_depth_in_clear_to_the_plan(collector):
    key = collector.create_source("web", server_side=True).write_key
    # The plan looks inside a sealed nested value and a sealed URL parameter: it must see them in clear.
    email_schema = {"type": "string", "pattern": "^[^@]+@example[.]com$"}
    strict = {
        "events": {
            "Viewed": {
                "type": "object",
                "required": ["page"],
                "properties": {
                    "contact": {"type": "object", "properties": {"email": email_schema}},
                    "url": {"type": "string", "pattern": "[?]email=ada%40example[.]com&"},
                },
            }
        }
    }
    collector.publish_plan("shop", json.dumps(strict))
    collector.assign_plan("web", "shop", "quarantine")
    sent = {"contact": {"email": "ada@example.com"}, "url": "https://x.io/?email=ada%40example.com&utm=1"}
    assert collector.ingest(key, [viewed("m1", **sent)]).accepted == 1
    (held,) = collector.list_quarantine("web", 10)
    # The whole values: a token's random key id and ciphertext may hold "ada" by chance.
    assert all(v not in held.event.properties for v in ("ada@example.com", "ada%40example.com")), "held: sealed"
    assert collector.release_quarantine("web").still_quarantined == 1  # no page yet: still held
    strict["events"]["Viewed"]["required"] = []
    collector.publish_plan("shop", json.dumps(strict))
    assert collector.release_quarantine("web").released == 1, "the plan saw the values in clear, and they pass"
    [released] = [
        pb.EventAccepted.FromString(n.state)
        for n in collector.store.read(0, 1000, [pb.EventAccepted.DESCRIPTOR.full_name])
    ]
    assert released.encrypted_fields == ["properties.contact.email", "properties.url?email"]
    assert all(v not in released.event.properties for v in ("ada@example.com", "ada%40example.com"))


def test_two_replicas_reviewing_one_held_call_pass_it_on_once(config):
    first, first_store = collector_on(config)
    second, second_store = collector_on(config)
    try:
        key = first.create_source("web", server_side=True).write_key
        first.publish_plan("shop", json.dumps(PLAN))
        first.assign_plan("web", "shop", "quarantine")
        first.ingest(key, [viewed("m1")])
        second.refresh()
        assert first.release_quarantine("web", as_is=True, by="ana").released == 1
        second.refresh = lambda: None  # a replica that has not yet seen the release
        with pytest.raises(Conflict, match="filter"):
            second.discard_quarantine(pb.QuarantineFilter(source_name="web"), by="bo")
        with pytest.raises(Conflict, match="filter"):
            second.release_quarantine("web", as_is=True, by="bo")
        accepted = first.store.read(0, 1000, [pb.EventAccepted.DESCRIPTOR.full_name])
        assert len(accepted) == 1
        assert not first.store.read(0, 1000, [pb.EventDiscarded.DESCRIPTOR.full_name])
    finally:
        first_store.close()
        second_store.close()


def test_a_recheck_releases_under_the_sources_current_settings(collector):
    key = collector.create_source("web", server_side=True).write_key
    typed = {"events": {"Viewed": {"type": "object", "properties": {"page": {"type": "string"}, "n": {}}}}}
    collector.publish_plan("shop", json.dumps(typed))
    collector.assign_plan("web", "shop", "quarantine")
    collector.ingest(key, [viewed("m1", page=7, n=1)])
    assert collector.release_quarantine("web").still_quarantined == 1
    collector.assign_plan("web", "shop", settings=pb.PlanSettings(violations="omit"))
    assert collector.release_quarantine("web", by="ana").released == 1
    [passed] = [
        pb.EventAccepted.FromString(n.state)
        for n in collector.store.read(0, 1000, [pb.EventAccepted.DESCRIPTOR.full_name])
    ]
    assert json.loads(passed.event.properties) == {"n": 1}, "the offending property omitted, as a call arriving now"
    assert [(v.field, v.action) for v in passed.violations] == [("properties.page", "omit")]
    [released] = [
        pb.EventReleased.FromString(n.state)
        for n in collector.store.read(0, 1000, [pb.EventReleased.DESCRIPTOR.full_name])
    ]
    assert (released.released_by, released.as_is) == ("ana", False)


def test_a_key_that_is_personal_data_is_masked_in_violations_and_no_decision_input(collector):
    key = collector.create_source("web", server_side=True).write_key
    closed = {"events": {"Viewed": {"type": "object", "properties": {"total": {"type": "number"}}}}}
    collector.publish_plan("shop", json.dumps(closed))
    collector.assign_plan("web", "shop", "quarantine")
    email = "keyed.q1@example.com"
    response = collector.ingest(key, [viewed("m-keyed", total="not-a-number", **{email: 1})])
    assert response.accepted == 1
    (held,) = collector.list_quarantine("web", 10)
    assert held.violations and email not in held.SerializeToString().decode("utf-8", "replace")
    records = collector.store.read(0, 10_000)
    assert not any(email.encode() in n.state for n in records), "no stored record holds the key in clear"
