"""Segment's JSON shape of a call <-> the event envelope.

Field names follow the Segment spec (camelCase); ids may be strings or numbers
(SDKs send both); properties, traits and context must be objects.
"""

from __future__ import annotations

from typing import Any

import orjson

from cdp.api.common.v1 import event_pb2
from cdp.collector.domain import MAX_DEPTH, too_deep

STRING_FIELDS = {
    "type": "type",
    "messageId": "message_id",
    "event": "event",
    "name": "name",
    "timestamp": "timestamp",
    "sentAt": "sent_at",
    "originalTimestamp": "original_timestamp",
}
ID_FIELDS = {"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id", "previousId": "previous_id"}
OBJECT_FIELDS = {"properties": "properties", "traits": "traits", "context": "context"}


class MalformedCall(ValueError):
    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def to_event(call: Any, default_type: str = "") -> event_pb2.Event:
    if not isinstance(call, dict):
        raise MalformedCall("event", "must be a JSON object")
    event = event_pb2.Event()
    for key, attr in STRING_FIELDS.items():
        value = call.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedCall(key, "must be a string")
        setattr(event, attr, value)
    for key, attr in ID_FIELDS.items():
        value = call.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise MalformedCall(key, "must be a string or a number")
        setattr(event, attr, value if isinstance(value, str) else str(value))
    for key, attr in OBJECT_FIELDS.items():
        value = call.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise MalformedCall(key, "must be an object")
        if too_deep(value):
            raise MalformedCall(key, f"nests deeper than {MAX_DEPTH} levels")
        setattr(event, attr, orjson.dumps(value).decode())
    if not event.type:
        event.type = default_type
    return event


def from_event(event: event_pb2.Event) -> dict:
    call: dict[str, Any] = {}
    for key, attr in {**STRING_FIELDS, **ID_FIELDS}.items():
        value = getattr(event, attr)
        if value:
            call[key] = value
    for key, attr in OBJECT_FIELDS.items():
        value = getattr(event, attr)
        if value:
            call[key] = orjson.loads(value)
    if event.received_at:
        call["receivedAt"] = event.received_at
    return call
