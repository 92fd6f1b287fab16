"""The offline plan tools, without a server: the diff of two plan versions, and sample calls judged."""

from __future__ import annotations

import json

import pytest

from cdp.collector.plan_diff import diff
from cdp.collector.plan_samples import judge_samples
from cdp.collector.plans import InvalidPlan, Settings, compile_plan

OLD = {
    "events": {
        "Order Completed": {
            "type": "object",
            "required": ["total"],
            "properties": {"total": {"type": "number"}, "items": {"type": "array"}},
        },
        "Cart Viewed": {"type": "object"},
    },
    "pages": {"Home": {"type": "object"}},
    "identify": {"type": "object", "properties": {"email": {"type": "string"}}},
}


def test_diff_names_what_is_added_removed_changed_and_required():
    new = json.loads(json.dumps(OLD))
    order = new["events"]["Order Completed"]
    del order["properties"]["items"]
    order["properties"]["total"] = {"type": "integer"}
    order["properties"]["coupon"] = {"type": "string"}
    order["required"] = ["coupon"]
    order["additionalProperties"] = False
    del new["events"]["Cart Viewed"]
    new["screens"] = {"Cart": {"type": "object"}}
    new["group"] = {"type": "object"}
    del new["identify"]
    assert [str(c) for c in diff(OLD, new)] == [
        "- event 'Cart Viewed'",
        "- event 'Order Completed' property items",
        "+ event 'Order Completed' property coupon",
        '~ event \'Order Completed\' property total: {"type":"number"} -> {"type":"integer"}',
        "- event 'Order Completed' required total",
        "+ event 'Order Completed' required coupon",
        "~ event 'Order Completed' keyword additionalProperties: (none) -> false",
        "+ screen 'Cart'",
        "- identify",
        "+ group",
    ]
    assert diff(OLD, OLD) == []


def test_diff_refuses_a_document_that_is_not_a_plan():
    with pytest.raises(InvalidPlan) as refused:
        diff(OLD, {"events": {"X": {"type": 7}}})
    assert refused.value.field == "events.X"


def line(**call) -> str:
    return json.dumps({"userId": "u1", "messageId": "m", **call})


def test_samples_are_judged_as_the_collector_would():
    plan = compile_plan("shop", 0, OLD)
    samples = [
        line(type="track", event="Order Completed", properties={"total": 1}),
        "",
        line(type="track", event="Order Completed", properties={"total": "x", "note": "n"}),
        line(type="track", event="Refunded"),
        json.dumps({"batch": [json.loads(line(type="page", name="Home")), {"type": "track", "messageId": "m"}]}),
        "{not json",
        line(type="track", event="Cart Viewed", properties=[]),
    ]
    settings = Settings(unplanned_events="quarantine", unplanned_properties="omit", violations="block")
    judged = judge_samples(plan, settings, samples)
    assert [(s.line, s.call, s.action) for s in judged] == [
        ("1", "track 'Order Completed'", "allow"),
        ("3", "track 'Order Completed'", "block"),
        ("4", "track 'Refunded'", "quarantine"),
        ("5[0]", "page 'Home'", "allow"),
        ("5[1]", "track", "block"),
        ("6", "call", "block"),
        ("7", "call", "block"),
    ]
    assert judged[1].reasons == (
        "properties.note: is not in tracking plan shop (draft) (unplanned property, omit)",
        "properties.total: must be number (type) (schema, block)",
    )
    assert judged[4].reasons == ("userId: userId or anonymousId is required (malformed call)",)
    assert judged[6].reasons == ("properties: must be an object (malformed call)",)
    assert str(judged[2]) == (
        "line 4: track 'Refunded': quarantine\n"
        "    event: 'Refunded' is not in tracking plan shop (draft) (unplanned event, quarantine)"
    )
