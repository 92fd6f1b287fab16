"""Tracking plan rules, without a server: which violations a call has and what each setting does."""

from __future__ import annotations

import pytest

from cdp.api.common.v1 import event_pb2
from cdp.collector import domain
from cdp.collector.plans import (
    MODE_SETTINGS,
    InvalidPlan,
    PlannedCall,
    Settings,
    Violation,
    compile_plan,
    omit,
    planned_call,
)

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
                    "currency": {"type": "string", "enum": ["EUR", "USD"]},
                    "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
                },
            },
            "Anything Goes": {"type": "object", "additionalProperties": True},
        },
        "pages": {
            "Home": {"type": "object", "properties": {"path": {"type": "string"}}},
            "Docs/Getting Started": {"type": "object", "properties": {"category": {}, "step": {"type": "integer"}}},
        },
        "screens": {"Cart": {"type": "object", "required": ["items"], "properties": {"items": {"type": "integer"}}}},
        "identify": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
        "group": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    },
)
ALLOW = MODE_SETTINGS["allow"]


def schema(field, rule, keyword, action="allow"):
    return Violation(field, rule, "schema", keyword, action)


def unplanned(field, rule):
    return Violation(field, rule, "unplanned_event", "", "allow")


def track(name, **properties):
    return PlannedCall("track", name, properties=properties)


@pytest.mark.parametrize(
    "call, expected",
    [
        (track("Order Completed", total=5), []),
        (track("Order Completed", total="x"), [schema("properties.total", "must be number (type)", "type")]),
        (track("Order Completed"), [schema("properties.total", "is required by the plan (required)", "required")]),
        (
            track("Order Completed", total=-1),
            [schema("properties.total", "must be bigger than or equal to 0 (minimum)", "minimum")],
        ),
        (
            track("Order Completed", total=1, items=[{"sku": 1}, {}]),
            [schema("properties.items[1].sku", "is required by the plan (required)", "required")],
        ),
        (
            track("Order Completed", total="x", currency="GBP"),  # every offending property is named
            [
                schema("properties.total", "must be number (type)", "type"),
                schema("properties.currency", "must be one of ['EUR', 'USD'] (enum)", "enum"),
            ],
        ),
        (
            track("Refunded"),
            [Violation("event", "'Refunded' is not in tracking plan shop v3", "unplanned_event", "", "allow")],
        ),
        (
            track("Order Completed", total=1, coupon="X"),
            [Violation("properties.coupon", "is not in tracking plan shop v3", "unplanned_property", "", "allow")],
        ),
        (track("Anything Goes", whatever=1), []),  # an explicit additionalProperties plans every name
        (
            PlannedCall("identify", traits={"email": "nope"}),
            [schema("traits.email", "must be email (format)", "format")],
        ),
        (
            PlannedCall("group"),
            [schema("traits.name", "is required by the plan (required)", "required")],
        ),
        (PlannedCall("page", "Home", properties={"path": "/"}), []),
        (
            PlannedCall("page", "Home", properties={"path": 3}),
            [schema("properties.path", "must be string (type)", "type")],
        ),
        (
            PlannedCall("page", "Pricing"),
            [Violation("name", "page 'Pricing' is not in tracking plan shop v3", "unplanned_event", "", "allow")],
        ),
        (PlannedCall("page", "Getting Started", "Docs", {"category": "Docs", "step": 2}), []),
        (
            PlannedCall("page", "Getting Started", "Docs", {"category": "Docs", "step": "two"}),
            [schema("properties.step", "must be integer (type)", "type")],
        ),
        (
            PlannedCall("page", "Getting Started", "Blog", {"category": "Blog"}),
            [
                Violation(
                    "name",
                    "page 'Blog/Getting Started' is not in tracking plan shop v3",
                    "unplanned_event",
                    "",
                    "allow",
                )
            ],
        ),
        (PlannedCall("page", "Home", "Anywhere", {"path": "/"}), []),  # an entry by name alone takes any category
        (
            PlannedCall("screen", "Cart"),
            [schema("properties.items", "is required by the plan (required)", "required")],
        ),
        (PlannedCall("alias"), []),
    ],
)
def test_violations(call, expected):
    assert list(PLAN.judge(call, ALLOW).violations) == expected


def test_a_schema_whose_parts_do_not_stand_alone_reports_its_first_violation():
    document = {"x-money": {"type": "number"}, "properties": {"total": {"$ref": "#/x-money"}, "n": {"type": "string"}}}
    plan = compile_plan("p", 1, {"events": {"Paid": document, "Owed": {"required": [1]}}})
    assert [(v.field, v.keyword) for v in plan.judge(track("Paid", total="x", n=1), ALLOW).violations] == [
        ("properties.total", "type")
    ]
    assert [v.field for v in plan.judge(track("Owed"), ALLOW).violations] == ["properties.1"], (
        "a number in required (as stored plans may hold) never names a property"
    )


def test_properties_planned_by_pattern_are_checked_by_it_and_not_unplanned():
    closed = {
        "properties": {"total": {"type": "number"}},
        "patternProperties": {"^utm_": {"type": "string"}},
        "additionalProperties": False,
    }
    plan = compile_plan("p", 1, {"events": {"Paid": closed}})
    verdict = plan.judge(track("Paid", total="x", utm_source=3, coupon="C"), ALLOW)
    assert [(v.field, v.keyword) for v in verdict.violations] == [
        ("properties.coupon", ""),  # unplanned
        ("properties.total", "type"),
        ("properties.utm_source", "type"),
        ("properties", "additionalProperties"),
    ], "only coupon is outside the plan; additionalProperties false makes it a schema violation too"
    by_pattern = plan.judge(track("Paid", total=1, utm_source=3), ALLOW)
    assert [(v.field, v.keyword) for v in by_pattern.violations] == [("properties.utm_source", "type")]


def test_pages_and_screens_are_not_checked_by_a_plan_that_lists_none():
    plan = compile_plan("p", 1, {"events": {}})
    assert plan.judge(PlannedCall("page", "Anything"), MODE_SETTINGS["reject"]).violations == ()
    assert plan.judge(PlannedCall("screen", "Anything"), MODE_SETTINGS["reject"]).violations == ()


@pytest.mark.parametrize(
    "setting, action",
    [("allow", "allow"), ("quarantine", "quarantine"), ("block", "block")],
)
def test_unplanned_events_take_their_setting(setting, action):
    verdict = PLAN.judge(track("Refunded"), Settings(unplanned_events=setting))
    assert [v.action for v in verdict.violations] == [action] and verdict.action == action
    assert PLAN.judge(track("Order Completed", total="x"), Settings(unplanned_events=setting)).action == "allow"


def test_unplanned_properties_are_omitted_or_allowed():
    call = track("Order Completed", total=1, coupon="X", note="n")
    omitted = PLAN.judge(call, Settings(unplanned_properties="omit"))
    assert omitted.omitted == ("properties.coupon", "properties.note")
    assert [(v.field, v.action) for v in omitted.violations] == [
        ("properties.coupon", "omit"),
        ("properties.note", "omit"),
    ]
    assert omitted.action == "omit"
    allowed = PLAN.judge(call, Settings())
    assert allowed.omitted == () and {v.action for v in allowed.violations} == {"allow"}


def test_violations_are_allowed_omitted_quarantined_or_blocked():
    call = track("Order Completed", total=2, currency="GBP", items=[{}])
    for setting in ("allow", "quarantine", "block"):
        verdict = PLAN.judge(call, Settings(violations=setting))
        assert [v.action for v in verdict.violations] == [setting, setting] and verdict.omitted == ()
        assert verdict.action == setting
    omitted = PLAN.judge(call, Settings(violations="omit"))
    assert omitted.omitted == ("properties.currency", "properties.items")
    assert [(v.field, v.action) for v in omitted.violations] == [
        ("properties.currency", "omit"),
        ("properties.items[0].sku", "omit"),
    ]


def test_omitting_a_required_property_lets_the_call_through_with_the_missing_one_recorded():
    verdict = PLAN.judge(track("Order Completed", total="x"), Settings(violations="omit"))
    assert verdict.omitted == ("properties.total",)
    assert [(v.field, v.keyword, v.action) for v in verdict.violations] == [
        ("properties.total", "type", "omit"),
        ("properties.total", "required", "allow"),
    ]
    assert verdict.action == "omit"


def test_the_most_severe_action_is_the_calls():
    settings = Settings(unplanned_properties="omit", violations="quarantine")
    verdict = PLAN.judge(track("Order Completed", total="x", coupon="X"), settings)
    assert verdict.action == "quarantine" and verdict.omitted == ("properties.coupon",)


def test_the_outcome_follows_the_actions():
    blocked = PLAN.judge(track("Order Completed", total="x", coupon="X"), Settings(violations="block"))
    outcome = domain.outcome({"allow": True}, blocked.violations, plan=("shop", 3))
    assert (outcome.kind, outcome.field) == (domain.REJECT, "properties.total"), "the first blocked one is named"
    assert outcome.rule == "must be number (type); tracking plan shop v3"
    held = PLAN.judge(track("Refunded"), Settings(unplanned_events="quarantine"))
    assert domain.outcome({"allow": True}, held.violations).kind == domain.QUARANTINE
    omitted = PLAN.judge(track("Order Completed", total=1, coupon="X"), Settings(unplanned_properties="omit"))
    assert domain.outcome({"allow": True}, omitted.violations).kind == domain.ACCEPT


def test_the_single_modes_are_shorthands_for_settings():
    assert Settings.of("reject") == Settings("block", "allow", "block")
    assert Settings.of("quarantine") == Settings("quarantine", "allow", "quarantine")
    assert Settings.of("") == Settings.of("allow") == Settings()
    assert Settings.of("reject", {"unplanned_properties": "omit"}) == Settings("block", "omit", "block")
    assert Settings.of("reject").mode == "reject" and Settings("block", "omit", "block").mode == "custom"


@pytest.mark.parametrize(
    "mode, overrides, field, rule",
    [
        ("sometimes", {}, "mode", "must be one of allow, quarantine, reject"),
        ("", {"unplanned_events": "omit"}, "settings.unplanned_events", "must be one of allow, quarantine, block"),
        ("", {"unplanned_properties": "block"}, "settings.unplanned_properties", "must be one of allow, omit"),
        ("", {"violations": "drop"}, "settings.violations", "must be one of allow, omit, quarantine, block"),
        ("", {"unplanned": "allow"}, "settings.unplanned", "is not a setting"),
    ],
)
def test_bad_settings_name_the_field_and_the_rule(mode, overrides, field, rule):
    with pytest.raises(InvalidPlan) as refused:
        Settings.of(mode, overrides)
    assert refused.value.field == field and rule in refused.value.rule


def test_a_call_is_read_as_the_plan_checks_it():
    page = event_pb2.Event(type="page", name="Getting Started", properties='{"category": "Docs"}')
    assert planned_call(page) == PlannedCall("page", "Getting Started", "Docs", {"category": "Docs"}, {})
    identify = event_pb2.Event(type="identify", traits='{"a": 1}', context='{"traits": {"a": 0, "b": 2}}')
    assert planned_call(identify).traits == {"a": 1, "b": 2}, "top-level traits win over context.traits"


def test_omitted_traits_leave_context_traits_too():
    fields = {"properties": {}, "traits": {"age": 3, "x": 1}, "context": {"traits": {"age": 3}, "ip": "1"}}
    assert omit(fields, ["traits.age"]) == {"traits", "context"}
    assert fields == {"properties": {}, "traits": {"x": 1}, "context": {"traits": {}, "ip": "1"}}


@pytest.mark.parametrize(
    "document, field, rule",
    [
        ([], "document", "must be a JSON object"),
        ({"evnts": {}}, "document", "unknown keys ['evnts']"),
        ({"events": []}, "events", "must map event names"),
        ({"pages": {"Home": 3}}, "pages.Home", "must be a JSON Schema object"),
        ({"screens": {" ": {}}}, "screens", "screen names must not be empty"),
        ({"events": {"X": {"type": 7}}}, "events.X", "invalid schema"),
        ({"events": {"X": {"properties": []}}}, "events.X.properties", "must map property names to JSON Schemas"),
        ({"events": {"X": {"required": "total"}}}, "events.X.required", "must be a list of property names"),
        ({"events": {"X": {"patternProperties": {"(": {}}}}}, "events.X", "invalid schema"),
        ({"identify": "string"}, "identify", "must be a JSON Schema object"),
    ],
)
def test_invalid_plans_name_the_place(document, field, rule):
    with pytest.raises(InvalidPlan) as refused:
        compile_plan("p", 1, document)
    assert refused.value.field == field and rule in refused.value.rule, refused.value
