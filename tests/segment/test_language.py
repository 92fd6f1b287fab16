"""The condition language's JSON form, both ways, and as protobuf: bad input names its path and rule."""

from __future__ import annotations

import pytest

from cdp.segment import codec, language
from cdp.segment.domain import InvalidAudience

DEFINITIONS = [
    {"trait": "plan", "op": "in", "value": ["pro", "team"]},
    {"trait": "email", "op": "exists"},
    {"trait": "renewal_at", "op": "within_next", "value": "P7D"},
    {"trait": "signed_up_at", "op": "before", "value": "2026-01-01T00:00:00Z"},
    {"not": {"trait": "plan", "op": "starts_with", "value": "ent"}},
    {
        "all": [
            {"trait": "plan", "op": "eq", "value": "pro"},
            {
                "event": "Order Completed",
                "where": [{"property": "total", "op": "gte", "value": 50}],
                "count": {"op": "between", "value": [2, 5]},
                "aggregate": {"fn": "sum", "property": "total", "op": "gte", "value": 100.0},
                "window": {"last": "P7D"},
            },
        ]
    },
    {"any": [{"event": "Viewed", "window": {"between": ["P90D", "P30D"]}}, {"audience": "a-1"}]},
    {"event": "Viewed", "window": {"from": "2026-01-01T00:00:00.000Z", "to": "2026-02-01T00:00:00.000Z"}},
    {"event": "Bought", "count": {"op": "eq", "value": 0}},
    {"funnel": [{"event": "Viewed"}, {"event": "Bought"}], "within": "P1DT12H", "negate_last": True},
    {"event": "Ping", "window": {"last": "PT4S"}},
]


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_the_json_form_and_protobuf_round_trip(definition):
    tree = language.parse(definition)
    assert language.to_json(tree) == definition
    assert codec.from_proto(codec.to_proto(tree)) == tree


@pytest.mark.parametrize(
    "definition, message",
    [
        ({"all": []}, "definition.all: must be a non-empty list"),
        ({"trait": "plan", "op": "like", "value": 1}, "definition.op: must be one of eq, neq"),
        ({"trait": "plan", "op": "eq"}, "definition.value: is required for eq"),
        ({"trait": "plan", "op": "exists", "value": 1}, "definition.value: exists takes no value"),
        ({"trait": "plan", "op": "in", "value": "pro"}, "definition.value: in takes a list"),
        ({"trait": "d", "op": "after", "value": "yesterday"}, "definition.value: must be an ISO 8601 time"),
        (
            {"any": [{"event": "X", "window": {"last": "P1M"}}]},
            "definition.any[0].window.last: must be an ISO 8601 duration",
        ),
        (
            {"event": "X", "window": {"between": ["P30D", "P90D"]}},
            "definition.window.between: the first duration must be longer",
        ),
        ({"event": "X", "window": {"last": "P1D", "from": "2026-01-01"}}, "definition.window: give exactly one of"),
        (
            {"event": "X", "count": {"op": "gt", "value": 1}},
            "definition.count.op: must be one of gte, eq, lte, between",
        ),
        ({"event": "X", "count": {"op": "gte", "value": -1}}, "definition.count.value: must be a whole number"),
        (
            {"event": "X", "aggregate": {"fn": "median", "property": "t", "op": "gt", "value": 1}},
            "aggregate.fn: must be one of",
        ),
        (
            {"event": "X", "where": [{"property": "at", "op": "within_last", "value": "P1D"}]},
            "where[0].op: a property is compared",
        ),
        ({"event": "X", "colour": "red"}, "definition.colour: is not a field here"),
        ({"funnel": [{"event": "A"}], "within": "P1D"}, "definition.funnel: must be a list of at least two"),
        (
            {"funnel": [{"event": "A"}, {"event": "B"}, {"event": "C"}], "within": "P1D", "negate_last": True},
            "negate_last: takes",
        ),
        (
            {"account": {"some": {}}},
            "definition.account.some: is not a field here (allowed: all, any, none)",
        ),
        (
            {"account": {"any": {}}},
            "definition.account.any: must have one of all, any, not, trait, event, funnel, audience, "
            "account_trait, account (has none)",
        ),
        ([], "definition: must be an object"),
    ],
)
def test_bad_definitions_name_the_path_and_the_rule(definition, message):
    with pytest.raises(InvalidAudience) as raised:
        language.parse(definition)
    assert message in str(raised.value)
