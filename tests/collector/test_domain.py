"""Collector rules: every rule names the field it is about."""

from __future__ import annotations

import pytest

from cdp.api.common.v1 import event_pb2
from cdp.collector import domain


def call(**fields) -> event_pb2.Event:
    base = {"type": "track", "message_id": "m1", "anonymous_id": "a1", "event": "Signed Up"}
    base.update(fields)
    return event_pb2.Event(**base)


def check(event):
    return domain.validate(event, event.ByteSize())


def test_a_good_call_of_each_type_passes():
    for kind, extra in [
        ("identify", {}),
        ("track", {}),
        ("page", {}),
        ("screen", {}),
        ("group", {"group_id": "g"}),
        ("alias", {"previous_id": "old", "user_id": "new"}),
    ]:
        assert check(call(type=kind, **extra)) is None, kind


@pytest.mark.parametrize(
    "fields, field, rule",
    [
        ({"type": "click"}, "type", "must be one of"),
        ({"message_id": ""}, "messageId", "is required"),
        ({"anonymous_id": ""}, "userId", "userId or anonymousId is required"),
        ({"event": "  "}, "event", "is required for track"),
        ({"type": "group"}, "groupId", "is required for group"),
        ({"type": "alias", "user_id": "u"}, "previousId", "is required for alias"),
        ({"type": "alias", "previous_id": "p"}, "userId", "is required for alias"),
        ({"properties": "[1, 2]"}, "properties", "must be a JSON object"),
        ({"traits": "{not json"}, "traits", "must be a JSON object"),
        ({"context": '"text"'}, "context", "must be a JSON object"),
        ({"timestamp": "yesterday"}, "timestamp", "must be an ISO 8601"),
        ({"sent_at": "2024-13-45"}, "sentAt", "must be an ISO 8601"),
        ({"user_id": "u" * 600}, "userId", "longer than"),
    ],
)
def test_each_rule_names_its_field(fields, field, rule):
    rejection = check(call(**fields))
    assert rejection is not None
    assert rejection.field == field
    assert rule in rejection.rule


def test_an_event_over_32_kb_is_rejected():
    big = call(properties='{"x": "' + "y" * (33 * 1024) + '"}')
    rejection = check(big)
    assert rejection.field == "event" and "32 KB" in rejection.rule
