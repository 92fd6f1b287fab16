"""Data quality on the running collector, through gRPC: violations by kind and hour with masked
examples, the catalog (as JSON and as one HTML page), anomalies, and the metrics and alerts."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from cdp.api.common.v1 import event_pb2
from cdp.cli.main import main
from cdp.client import InvalidArgument, NotFound, PermissionDenied
from support.platform_fixture import wait_until

pytestmark = pytest.mark.e2e

PLAN = {
    "events": {
        "Order Completed": {
            "type": "object",
            "description": "A customer paid for an order.",
            "properties": {"total": {"type": "number", "description": "What was paid, in the order's currency."}},
            "required": ["total"],
        }
    },
    "identify": {"type": "object", "properties": {"plan": {"type": "string", "description": "Their plan."}}},
}
SECRET_EMAIL = "ada.lovelace@example.com"


def track(name, **properties):
    return event_pb2.Event(
        type="track", message_id=f"m-{uuid.uuid4()}", user_id="u-quality", event=name, properties=json.dumps(properties)
    )


def identify(**traits):
    return event_pb2.Event(
        type="identify", message_id=f"m-{uuid.uuid4()}", user_id="u-quality", traits=json.dumps(traits)
    )


def setup(client, mode: str):
    name = f"plan-{uuid.uuid4().hex[:6]}"
    client.collector.publish_plan(name, PLAN, timeout=10)
    source = client.create_source(f"src-{uuid.uuid4().hex[:6]}", server_side=True)
    client.collector.assign_plan(source.name, name, mode, timeout=10)
    return name, source


def kinds_of(client, source, **kwargs):
    return list(client.connection.quality.list_violations(source.name, timeout=10, **kwargs).kinds)


def test_violations_are_counted_by_kind_and_hour_with_personal_values_masked(client):
    plan, source = setup(client, "allow")
    calls = [track("Order Completed", total="ten", email=SECRET_EMAIL) for _ in range(3)]
    calls += [track("Order Completed", note="no total"), track("Order Completed", total=4), track("Unplanned")]
    assert client.ingest(source.write_key, calls).accepted == 6
    kinds = kinds_of(client, source)
    # Properties the plan does not list are violations too (let through, as the source allows).
    assert {(k.field, k.outcome) for k in kinds} == {
        ("properties.total", "accepted"),
        ("event", "accepted"),
        ("properties.email", "accepted"),
        ("properties.note", "accepted"),
    }
    # A kind is not tied to the plan's version (a new version is not a new kind); the version is beside it.
    unplanned = next(k for k in kinds if k.field == "properties.email")
    assert (unplanned.rule, unplanned.count, unplanned.plan_version) == (f"is not in tracking plan {plan}", 3, 1)
    # The wrong type three times and the missing total once: two rules at one field, two kinds.
    assert sorted((k.rule, k.count) for k in kinds if k.field == "properties.total") == [
        ("is required by the plan (required)", 1),
        ("must be number (type)", 3),
    ]
    wrong_type = next(k for k in kinds if k.rule == "must be number (type)")
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
    assert [(h.hour, h.count) for h in wrong_type.hours] == [(hour, 3)]
    assert (wrong_type.source_name, wrong_type.event, wrong_type.plan_name, wrong_type.plan_version) == (
        source.name,
        "Order Completed",
        plan,
        1,
    )
    assert len(wrong_type.examples) == 3 and wrong_type.examples[0].value == '"ten"'
    assert json.loads(wrong_type.examples[0].fields) == {"total": "ten", "email": "***"}
    assert kinds[0].count == 3, "most frequent first"
    unplanned = next(k for k in kinds if k.field == "event")
    assert unplanned.event == "Unplanned" and "not in tracking plan" in unplanned.rule
    # Never a personal value in clear, nor a token, anywhere in the answer.
    answer = str(client.connection.quality.list_violations(source.name, examples=5, timeout=10))
    assert SECRET_EMAIL not in answer and "pii:v1:" not in answer and "u-quality" not in answer
    # Fewer examples on request; a range that misses the hour has nothing.
    assert len(kinds_of(client, source, examples=1)[0].examples) == 1
    earlier = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert kinds_of(client, source, until=earlier) == []


def test_quarantined_and_rejected_calls_are_violations_too(client):
    _, held = setup(client, "quarantine")
    _, refused = setup(client, "reject")
    client.ingest(held.write_key, [track("Order Completed", total="x")])
    client.ingest(refused.write_key, [track("Order Completed", total="x"), track("Order Completed", total="y")])
    assert [(k.outcome, k.count) for k in kinds_of(client, held)] == [("quarantined", 1)]
    rejected = kinds_of(client, refused)
    assert [(k.outcome, k.field, k.count) for k in rejected] == [("rejected", "properties.total", 2)]
    assert {e.value for e in rejected[0].examples} == {'"x"', '"y"'}


def test_bad_requests_name_the_field(client):
    quality = client.connection.quality
    with pytest.raises(InvalidArgument, match="since"):
        quality.list_violations(since="yesterday", timeout=10)
    with pytest.raises(InvalidArgument, match="since: must be before until"):
        quality.list_violations(since="2026-12-02T00:00:00Z", until="2026-12-01T00:00:00Z", timeout=10)
    with pytest.raises(InvalidArgument, match="examples"):
        quality.list_violations(examples=50, timeout=10)
    with pytest.raises(InvalidArgument, match="until"):
        quality.list_anomalies(until="not a time", timeout=10)
    with pytest.raises(NotFound, match="source_name"):
        quality.get_catalog("no-such-source", timeout=10)


def test_the_catalog_lists_what_each_source_sends_with_plan_and_policy(client):
    _, source = setup(client, "allow")
    client.ingest(
        source.write_key,
        [
            track("Order Completed", total=10, email=SECRET_EMAIL),
            track("Order Completed", total=12.5, coupon=None),
            track("<script>alert(1)</script>", total=1),
            identify(plan="pro", religion="none", email=SECRET_EMAIL),
            event_pb2.Event(type="page", message_id=f"m-{uuid.uuid4()}", user_id="u-quality", name="Home"),
        ],
    )
    events = {(e.event_type, e.event): e for e in client.connection.quality.get_catalog(source.name, timeout=10)}
    order = events["track", "Order Completed"]
    assert (order.volume, order.documented, order.description) == (2, True, "A customer paid for an order.")
    fields = {f.name: f for f in order.fields}
    assert set(fields) == {"total", "email", "coupon"}
    assert (fields["total"].volume, list(fields["total"].types), fields["total"].documented) == (
        2,
        ["number", "integer"],
        True,
    )
    assert fields["total"].description == "What was paid, in the order's currency."
    assert not fields["total"].personal
    assert (fields["email"].classification, fields["email"].personal, fields["email"].sensitive) == (
        "pii.contact",
        True,
        False,
    )
    assert list(fields["email"].types) == ["sealed"] and fields["email"].sealed == 1
    assert list(fields["coupon"].types) == ["null"] and not fields["coupon"].documented
    assert not events["track", "<script>alert(1)</script>"].documented
    traits = {f.name: f for f in events["identify", ""].fields}
    assert traits["plan"].documented and traits["plan"].description == "Their plan."
    assert traits["religion"].sensitive and traits["religion"].classification == "sensitive.religion"
    assert events["page", "Home"].volume == 1 and not events["page", "Home"].documented
    assert SECRET_EMAIL not in str(events)


def test_the_catalog_documents_by_the_version_a_source_is_pinned_to(client):
    plan, source = setup(client, "allow")
    client.collector.assign_plan(source.name, plan, "allow", plan_version=1, timeout=10)
    v2 = {**PLAN, "events": {**PLAN["events"], "Cart Viewed": {"type": "object", "description": "New in v2."}}}
    client.collector.publish_plan(plan, v2, timeout=10)
    client.ingest(source.write_key, [track("Cart Viewed")])
    events = {(e.event_type, e.event): e for e in client.connection.quality.get_catalog(source.name, timeout=10)}
    cart = events["track", "Cart Viewed"]
    assert (cart.documented, cart.plan_version) == (False, 1), "the source is checked against v1"


def cli(platform, args):
    env = {"CDP_DATA_DIR": str(platform.data_dir), "CDP_COLLECTOR_ADDR": platform.address("collector")}
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_writes_the_catalog_as_json_and_as_one_escaped_html_page(client, platform, tmp_path):
    _, source = setup(client, "allow")
    client.ingest(source.write_key, [track("<b>Bold & Co</b>", **{"<i>x</i>": "<img src=x onerror=alert(1)>"})])
    listed = json.loads(cli(platform, ["catalog", "--source", source.name, "--json"]))
    assert [e["event"] for e in listed] == ["<b>Bold & Co</b>"]
    page = tmp_path / "catalog.html"
    cli(platform, ["catalog", "--source", source.name, "--html", str(page)])
    html = page.read_text()
    assert "&lt;b&gt;Bold &amp; Co&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    assert "<b>" not in html and "<i>" not in html and "<img" not in html and "<script" not in html
    assert not re.search(r"(src|href)=", html), "self-contained: nothing fetched"
    out = cli(platform, ["violations", "--source", source.name])
    assert "not in tracking plan" in out and "1 kinds, 1 violations" in out
    assert "0 anomalies" in cli(platform, ["anomalies", "--source", source.name])


def test_a_marketer_reads_the_catalog_but_not_the_violations(client):
    marketer = client.as_user("mia@example.com", ["marketer"]).quality
    assert isinstance(marketer.get_catalog(timeout=10), list)
    with pytest.raises(PermissionDenied):
        marketer.list_violations(timeout=10)


def test_the_metrics_count_violations_and_new_kinds_per_source(client, platform):
    _, source = setup(client, "allow")
    client.ingest(source.write_key, [track("Order Completed", total="x"), track("Order Completed", total="y")])
    # A name a caller made of a person's email (an invite named after its recipient): counted, never shown.
    client.ingest(source.write_key, [track("Invite for zed@example.com")])
    url = f"http://127.0.0.1:{platform.probe_ports['collector']}/metrics"

    def scraped():  # the read model follows the log within a second
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        expected = (
            f'cdp_plan_violations_total{{rule="type",service="collector",source="{source.name}"}} 2.0',
            f'cdp_plan_violations_total{{rule="unplanned",service="collector",source="{source.name}"}} 1.0',
        )
        return text if all(line in text for line in expected) else None

    text = wait_until(scraped, timeout=10, what="the source's violations on /metrics")
    assert f'cdp_violation_kinds_new{{service="collector",source="{source.name}"}} 2.0' in text
    assert "zed@example.com" not in text and "Invite" not in text and "Order Completed" not in text


def test_no_anomaly_without_history(client):
    assert client.connection.quality.list_anomalies(timeout=10) == []
