"""Tracking plans and cdp.collect on the running collector."""

from __future__ import annotations

import json
import uuid

import pytest

from cdp.api.collector.v1 import collector_pb2 as pb
from cdp.api.common.v1 import event_pb2
from cdp.api.policy.v1 import decision_pb2
from cdp.client import InvalidArgument, NotFound, Unauthenticated

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


# Settings, one kind of violation at a time --------------------------------------------------------

SHOP = {
    "events": {
        "Order Completed": {
            "type": "object",
            "required": ["total"],
            "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
        }
    },
    "pages": {"Home": {"type": "object", "properties": {"path": {"type": "string"}}}},
    "screens": {"Checkout/Cart": {"type": "object", "properties": {"category": {}, "items": {"type": "integer"}}}},
    "identify": {"type": "object", "properties": {"email": {"type": "string"}}},
}


def assigned(client, settings=None, mode="", document=SHOP, version=0):
    name = f"plan-{uuid.uuid4().hex[:6]}"
    client.collector.publish_plan(name, document, timeout=10)
    source = client.create_source(f"src-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.assign_plan(source.name, name, mode, settings, version, timeout=10)
    return name, source


def stored_of(client, source, message_id):
    """What the log holds of one call: ('accepted' | 'quarantined' | 'rejected', the record)."""
    found = [
        ("accepted", m)
        for m in client.read_messages("collector", pb.EventAccepted)
        if m.source_id == source.source_id and m.event.message_id == message_id
    ]
    found += [
        ("quarantined", m.quarantined)
        for m in client.read_messages("collector", pb.EventQuarantined)
        if m.quarantined.source_id == source.source_id and m.quarantined.event.message_id == message_id
    ]
    found += [
        ("rejected", m)
        for m in client.read_messages("collector", pb.EventRejected)
        if m.source_id == source.source_id and m.event.message_id == message_id
    ]
    assert len(found) == 1, found
    return found[0]


def recorded(record) -> list[tuple[str, str, str, str]]:
    return [(v.field, v.kind, v.keyword, v.action) for v in record.violations]


@pytest.mark.parametrize(
    "setting, status, where",
    [
        ("allow", pb.ACK_STATUS_ACCEPTED, "accepted"),
        ("quarantine", pb.ACK_STATUS_ACCEPTED, "quarantined"),
        ("block", pb.ACK_STATUS_REJECTED, "rejected"),
    ],
)
def test_unplanned_events_are_allowed_quarantined_or_blocked(client, setting, status, where):
    name, source = assigned(client, {"unplanned_events": setting})
    unplanned, violating = track("Cart Viewed"), track("Order Completed", total="ten")
    response = client.ingest(source.write_key, [unplanned, violating])
    assert [a.status for a in response.acks] == [status, pb.ACK_STATUS_ACCEPTED], "violations stay allowed"
    kind, record = stored_of(client, source, unplanned.message_id)
    assert kind == where
    assert recorded(record) == [("event", "unplanned_event", "", setting)]
    assert (record.plan_name, record.plan_version) == (name, 1)
    if setting == "block":
        assert (response.acks[0].field, record.field) == ("event", "event")
        assert "'Cart Viewed' is not in tracking plan" in response.acks[0].error


@pytest.mark.parametrize("setting", ["allow", "omit"])
def test_unplanned_properties_are_allowed_or_omitted(client, setting):
    _, source = assigned(client, {"unplanned_properties": setting, "violations": "block"})
    call = track("Order Completed", total=3, coupon="SPRING")
    identify = event_pb2.Event(
        type="identify",
        message_id=f"m-{uuid.uuid4()}",
        user_id="planned",
        traits=json.dumps({"email": "a@example.com", "shoe_size": 42}),
    )
    response = client.ingest(source.write_key, [call, identify])
    assert [a.status for a in response.acks] == [pb.ACK_STATUS_ACCEPTED] * 2, "an unplanned property is never blocked"
    kind, record = stored_of(client, source, call.message_id)
    assert kind == "accepted" and recorded(record) == [("properties.coupon", "unplanned_property", "", setting)]
    assert ("coupon" in json.loads(record.event.properties)) is (setting == "allow")
    assert json.loads(record.event.properties)["total"] == 3
    _, person = stored_of(client, source, identify.message_id)
    assert recorded(person) == [("traits.shoe_size", "unplanned_property", "", setting)]
    assert ("shoe_size" in json.loads(person.event.traits)) is (setting == "allow")


@pytest.mark.parametrize(
    "setting, status, where",
    [
        ("allow", pb.ACK_STATUS_ACCEPTED, "accepted"),
        ("omit", pb.ACK_STATUS_ACCEPTED, "accepted"),
        ("quarantine", pb.ACK_STATUS_ACCEPTED, "quarantined"),
        ("block", pb.ACK_STATUS_REJECTED, "rejected"),
    ],
)
def test_schema_violations_are_allowed_omitted_quarantined_or_blocked(client, setting, status, where):
    name, source = assigned(client, {"violations": setting, "unplanned_events": "block"})
    call = track("Order Completed", total=3, currency=978)
    response = client.ingest(source.write_key, [call, track("Order Completed", total=4)])
    assert [a.status for a in response.acks] == [status, pb.ACK_STATUS_ACCEPTED]
    kind, record = stored_of(client, source, call.message_id)
    assert kind == where
    assert recorded(record) == [("properties.currency", "schema", "type", setting)]
    assert record.violations[0].rule == "must be string (type)"
    if where != "rejected":
        properties = json.loads(record.event.properties)
        assert ("currency" in properties) is (setting != "omit") and properties["total"] == 3
    else:
        assert response.acks[0].field == "properties.currency"
        assert response.acks[0].error == f"must be string (type); tracking plan {name} v1"


def test_pages_and_screens_are_checked_by_name_and_category(client):
    _, source = assigned(client, {"unplanned_events": "block", "violations": "block"})

    def call(kind, name, **properties):
        return event_pb2.Event(
            type=kind, message_id=f"m-{uuid.uuid4()}", anonymous_id="a-1", name=name, properties=json.dumps(properties)
        )

    calls = [
        call("page", "Home", path="/"),
        call("page", "Home", path=7),
        call("page", "Pricing"),
        call("screen", "Cart", category="Checkout", items=2),
        call("screen", "Cart", items=2),  # the plan lists Cart under Checkout only
    ]
    response = client.ingest(source.write_key, calls)
    assert [(a.status, a.field) for a in response.acks] == [
        (pb.ACK_STATUS_ACCEPTED, ""),
        (pb.ACK_STATUS_REJECTED, "properties.path"),
        (pb.ACK_STATUS_REJECTED, "name"),
        (pb.ACK_STATUS_ACCEPTED, ""),
        (pb.ACK_STATUS_REJECTED, "name"),
    ]
    assert "page 'Pricing' is not in tracking plan" in response.acks[2].error


def test_the_single_mode_still_works_and_reads_as_its_settings(client):
    _, source = assigned(client, mode="reject")
    [listed] = [s for s in client.collector.list_sources(timeout=10) if s.name == source.name]
    assert listed.plan_mode == "reject" and listed.plan_version == 0
    assert (listed.plan_settings.unplanned_events, listed.plan_settings.violations) == ("block", "block")
    assert listed.plan_settings.unplanned_properties == "allow"
    custom = client.collector.assign_plan(source.name, listed.plan_name, "reject", {"unplanned_properties": "omit"})
    assert custom.plan_mode == "custom" and custom.plan_settings.unplanned_properties == "omit"


def test_bad_settings_and_versions_name_the_field_and_the_rule(client):
    name, source = assigned(client)
    with pytest.raises(InvalidArgument) as refused:
        client.collector.assign_plan(source.name, name, settings={"violations": "drop"}, timeout=10)
    assert refused.value.field == "settings.violations"
    assert refused.value.rule == "must be one of allow, omit, quarantine, block"
    with pytest.raises(InvalidArgument) as refused:
        client.collector.assign_plan(source.name, name, settings={"unplanned_properties": "quarantine"}, timeout=10)
    assert refused.value.field == "settings.unplanned_properties"
    with pytest.raises(NotFound) as missing:
        client.collector.assign_plan(source.name, name, plan_version=4, timeout=10)
    assert "plan_version" in missing.value.details and "the latest is 1" in missing.value.details
    with pytest.raises(NotFound):
        client.collector.get_plan(name, 9, timeout=10)


# Versions -----------------------------------------------------------------------------------------


def test_a_pinned_source_keeps_its_version_and_old_versions_can_be_read(client):
    name, pinned = assigned(client, {"violations": "block"}, version=1)
    following = client.create_source(f"src-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.assign_plan(following.name, name, settings={"violations": "block"}, timeout=10)
    loosened = {"events": {"Order Completed": {"type": "object", "properties": {"total": {}, "currency": {}}}}}
    assert client.collector.publish_plan(name, loosened, timeout=10).version == 2
    response = client.ingest(pinned.write_key, [track("Order Completed", total="ten")])
    assert response.acks[0].status == pb.ACK_STATUS_REJECTED and f"{name} v1" in response.acks[0].error
    call = track("Order Completed", total="ten")
    assert client.ingest(following.write_key, [call]).acks[0].status == pb.ACK_STATUS_ACCEPTED
    assert stored_of(client, following, call.message_id)[1].plan_version == 2
    assert json.loads(client.collector.get_plan(name, 1, timeout=10).document) == SHOP
    assert client.collector.get_plan(name, timeout=10).version == 2
    [listed] = [s for s in client.collector.list_sources(timeout=10) if s.name == pinned.name]
    assert listed.plan_version == 1


# Quarantine review --------------------------------------------------------------------------------


def test_quarantined_calls_are_released_or_discarded_by_filter(client):
    name, source = assigned(client, {"unplanned_events": "quarantine", "violations": "quarantine"})
    other = client.create_source(f"src-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.assign_plan(other.name, name, "quarantine", timeout=10)
    carts = [track("Cart Viewed"), track("Cart Viewed")]
    orders = [track("Order Completed", total="ten"), track("Order Completed", total="eleven")]
    client.ingest(source.write_key, carts + orders)
    client.ingest(other.write_key, [track("Cart Viewed")])
    mine = pb.QuarantineFilter(source_name=source.name)
    held = client.collector.list_quarantine(filter=mine, timeout=10)
    assert {q.event.message_id for q in held} == {c.message_id for c in carts + orders}
    by_rule = pb.QuarantineFilter(source_name=source.name, rule="unplanned_event")
    assert {q.event.message_id for q in client.collector.list_quarantine(filter=by_rule)} == {
        c.message_id for c in carts
    }
    first = min(q.at for q in held)
    assert not client.collector.list_quarantine(filter=pb.QuarantineFilter(source_name=source.name, until=first))
    assert len(client.collector.list_quarantine(filter=pb.QuarantineFilter(source_name=source.name, since=first))) == 4

    with pytest.raises(InvalidArgument) as refused:
        client.collector.discard_quarantine(pb.QuarantineFilter(), timeout=10)
    assert refused.value.field == "filter"
    with pytest.raises(InvalidArgument) as refused:
        client.collector.list_quarantine(filter=pb.QuarantineFilter(since="yesterday"), timeout=10)
    assert refused.value.field == "filter.since"

    discarded = client.collector.discard_quarantine(
        pb.QuarantineFilter(source_name=source.name, event_name="Cart Viewed"), reason="test traffic"
    )
    assert discarded.discarded == 2
    order_ids = {q.event.message_id: q.event_id for q in held if q.event.event == "Order Completed"}
    one = order_ids[orders[0].message_id]
    released = client.collector.release_quarantine(filter=pb.QuarantineFilter(event_ids=[one]), as_is=True)
    assert (released.released, list(released.event_ids)) == (1, [one])
    again = client.collector.release_quarantine(filter=pb.QuarantineFilter(event_ids=[one]), as_is=True)
    assert again.released == 0, "a released call is no longer held"

    [left] = client.collector.list_quarantine(filter=mine)
    assert left.event.message_id == orders[1].message_id
    assert len(client.collector.list_quarantine(filter=pb.QuarantineFilter(source_name=other.name))) == 1

    [passed] = [m for m in accepted(client, source) if m.event.message_id == orders[0].message_id]
    assert json.loads(passed.event.properties) == {"total": "ten"}, "released as it was"
    assert [(v.field, v.action) for v in passed.violations] == [("properties.total", "quarantine")]
    [release] = [r for r in client.read_messages("collector", pb.EventReleased) if r.event_id == one]
    assert release.as_is and release.released_by and release.plan_version == 1
    discards = [d for d in client.read_messages("collector", pb.EventDiscarded) if d.source_id == source.source_id]
    assert len(discards) == 2 and {d.reason for d in discards} == {"test traffic"} and discards[0].discarded_by
    assert not [m for m in accepted(client, source) if m.event.event == "Cart Viewed"], "discarded calls never pass"
    resent = client.ingest(source.write_key, [carts[0], orders[0]])
    assert [a.status for a in resent.acks] == [pb.ACK_STATUS_DUPLICATE] * 2, "neither is stored twice"


# The CLI: offline tools and review ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdp(platform):
    """cdp(*args) -> the result of running `cdp` against the platform (as the admin `reviewer`)."""
    from click.testing import CliRunner

    from cdp.cli.main import main
    from cdp.client.local import addresses

    env = {f"CDP_{s.upper()}_ADDR": a for s, a in addresses(platform).items()}
    env |= {"CDP_DATA_DIR": str(platform.data_dir), "CDP_TOKEN": "", "CDP_SUBJECT": "reviewer"}

    def run(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def segment_line(call: event_pb2.Event) -> str:
    from cdp.collector.segment_json import from_event

    return json.dumps(from_event(call))


def test_validate_catches_offline_what_the_published_plan_would_block(client, cdp, tmp_path):
    name, source = assigned(client, {"violations": "block", "unplanned_properties": "omit"})
    good, bad = track("Order Completed", total=3, coupon="X"), track("Order Completed", total="ten")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(f"{segment_line(good)}\n{segment_line(bad)}\n")
    got = cdp("plan", "get", name, "--version", "1")
    assert got.exit_code == 0, got.output
    published = tmp_path / "published.json"
    published.write_text(got.stdout)

    offline = cdp(
        "plan", "validate", str(published), "--events", str(samples),
        "--settings", "violations=block,unplanned_properties=omit",
    )  # fmt: skip
    assert offline.exit_code == 1, offline.output
    assert "line 1: track 'Order Completed': omit" in offline.output
    assert "line 2: track 'Order Completed': block" in offline.output
    assert "properties.total: must be number (type) (schema, block)" in offline.output
    assert "2 calls: 0 allow, 1 omit, 0 quarantine, 1 block" in offline.output
    online = client.ingest(source.write_key, [good, bad])
    assert [(a.status, a.field) for a in online.acks] == [
        (pb.ACK_STATUS_ACCEPTED, ""),
        (pb.ACK_STATUS_REJECTED, "properties.total"),
    ], "the platform does what validate said"
    allowed = cdp("plan", "validate", str(published), "--events", str(samples), "--mode", "allow")
    assert allowed.exit_code == 0 and "2 calls: 2 allow" in allowed.output
    refused = cdp("plan", "validate", str(published), "--events", str(samples), "--settings", "violations=drop")
    assert refused.exit_code == 2 and "settings.violations: must be one of" in refused.output


def test_diff_of_two_published_versions_and_of_two_files(client, cdp, tmp_path):
    name, _ = assigned(client)
    changed = json.loads(json.dumps(SHOP))
    order = changed["events"]["Order Completed"]
    order["properties"]["total"] = {"type": ["number", "string"]}
    order["properties"]["coupon"] = {"type": "string"}
    order["required"] = ["total", "coupon"]
    del changed["pages"]["Home"]
    changed["events"]["Order Refunded"] = {"type": "object"}
    client.collector.publish_plan(name, changed, timeout=10)
    expected = [
        "+ event 'Order Refunded'",
        "+ event 'Order Completed' property coupon",
        '~ event \'Order Completed\' property total: {"type":"number"} -> {"type":["number","string"]}',
        "+ event 'Order Completed' required coupon",
        "- page 'Home'",
    ]
    online = cdp("plan", "diff", name, "1", "2")
    assert online.exit_code == 0 and online.stdout.splitlines() == expected, online.output
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(SHOP))
    new.write_text(json.dumps(changed))
    offline = cdp("plan", "diff", "--files", str(old), str(new))
    assert offline.exit_code == 0 and offline.stdout.splitlines() == expected
    new.write_text(json.dumps({"events": {"X": {"required": "x"}}}))
    broken = cdp("plan", "diff", "--files", str(old), str(new))
    assert broken.exit_code == 1 and "events.X.required: must be a list of property names" in broken.output


def test_quarantine_commands_release_and_discard_by_filter(client, cdp):
    name, source = assigned(client, {"unplanned_events": "quarantine"})
    client.ingest(source.write_key, [track("Cart Viewed"), track("Wishlist Viewed"), track("Wishlist Viewed")])
    listed = cdp("quarantine", "list", "--source", source.name, "--rule", "unplanned_event")
    assert listed.exit_code == 0 and "3 quarantined" in listed.output, listed.output
    assert "discarded 2" in cdp("quarantine", "discard", "--source", source.name, "--event", "Wishlist Viewed").output
    assert "still quarantined 1" in cdp("quarantine", "release", "--source", source.name).output, "the plan holds it"
    released = cdp("quarantine", "release", "--source", source.name, "--as-is", "--reason", "known event")
    assert "released 1, still quarantined 0" in released.output
    [release] = [
        r
        for r in client.read_messages("collector", pb.EventReleased)
        if r.event_id in {m.event_id for m in accepted(client, source)}
    ]
    assert (release.released_by, release.reason, release.as_is) == ("reviewer", "known event", True)
    assert "0 quarantined" in cdp("quarantine", "list", "--source", source.name).output
    shown = cdp("source", "list").output
    assert f"plan {name} latest, custom: unplanned events quarantine" in shown
