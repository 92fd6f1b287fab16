"""Tracking plan rules, without a server."""

from __future__ import annotations

import pytest

from cdp.collector.plans import InvalidPlan, Violation, compile_plan

PLAN = compile_plan(
    "shop",
    3,
    {
        "events": {
            "Order Completed": {
                "type": "object",
                "required": ["total"],
                "properties": {
                    "total": {"type": "number", "minimum": 0},
                    "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
                },
            }
        },
        "identify": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
        "group": {"type": "object", "required": ["name"]},
    },
)


@pytest.mark.parametrize(
    "call, expected",
    [
        (("track", "Order Completed", {"total": 5}, {}), []),
        (("track", "Order Completed", {"total": "x"}, {}), [Violation("properties.total", "must be number (type)")]),
        (("track", "Order Completed", {}, {}), [Violation("properties.total", "is required by the plan (required)")]),
        (
            ("track", "Order Completed", {"total": -1}, {}),
            [Violation("properties.total", "must be bigger than or equal to 0 (minimum)")],
        ),
        (
            ("track", "Order Completed", {"total": 1, "items": [{"sku": 1}, {}]}, {}),
            [Violation("properties.items[1].sku", "is required by the plan (required)")],
        ),
        (("track", "Refunded", {}, {}), [Violation("event", "'Refunded' is not in tracking plan shop v3")]),
        (("identify", "", {}, {"email": "nope"}), [Violation("traits.email", "must be email (format)")]),
        (("group", "", {}, {}), [Violation("traits.name", "is required by the plan (required)")]),
        (("page", "", {}, {}), []),
    ],
)
def test_check(call, expected):
    assert PLAN.check(*call) == expected


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "document: must be a JSON object"),
        ({"evnts": {}}, "unknown keys"),
        ({"events": []}, "events: must map"),
        ({"events": {"X": {"type": 7}}}, "events.X: invalid schema"),
        ({"identify": "string"}, "identify: must be a JSON Schema object"),
    ],
)
def test_invalid_plans_name_the_place(document, message):
    with pytest.raises(InvalidPlan, match=message):
        compile_plan("p", 1, document)
