"""Collector rules: what a well-formed tracking call is (the Segment spec).

A call is any object with the envelope's attributes (type, message_id, user_id,
...); nothing here knows how it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
MAX_ID_LENGTH = 512
MAX_DEPTH = 32  # nesting of properties, traits and context
JSON_FIELDS = ("properties", "traits", "context")
TIME_FIELDS = ("timestamp", "sent_at", "original_timestamp")
# Spec names of envelope fields, for error messages that match what clients send.
SPEC_NAMES = {
    "message_id": "messageId",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "sent_at": "sentAt",
    "original_timestamp": "originalTimestamp",
}


@dataclass(frozen=True)
class Rejection:
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


def _reject(field: str, rule: str) -> Rejection:
    return Rejection(SPEC_NAMES.get(field, field), rule)


def validate(call, size: int) -> Rejection | None:
    """The first rule the call breaks, or None when it is well-formed."""
    return check(call, size)[0]


def check(call, size: int) -> tuple[Rejection | None, dict[str, dict]]:
    """validate(), and the call's JSON fields (properties, traits, context) decoded on the way,
    each {} when absent, so that nothing later decodes them again."""
    if call.type not in CALL_TYPES:
        return _reject("type", f"must be one of {', '.join(CALL_TYPES)}"), {}
    if size > MAX_EVENT_BYTES:
        return _reject("event", f"is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes (32 KB)"), {}
    rejection = _envelope(call)
    if rejection is not None:
        return rejection, {}
    fields: dict[str, dict] = {}
    for name in JSON_FIELDS:
        text = getattr(call, name)
        if not text:
            fields[name] = {}
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return _reject(name, "must be a JSON object"), {}
        if not isinstance(value, dict):
            return _reject(name, "must be a JSON object"), {}
        # Nesting needs an opening bracket a level: text with few cannot be too deep.
        if text.count("{") + text.count("[") > MAX_DEPTH and too_deep(value):
            return _reject(name, f"nests deeper than {MAX_DEPTH} levels"), {}
        fields[name] = value
    for name in TIME_FIELDS:
        text = getattr(call, name)
        if text and not _is_time(text):
            return _reject(name, "must be an ISO 8601 / RFC 3339 time"), {}
    return None, fields


def _envelope(call) -> Rejection | None:
    """The first rule of ids and of what each call type requires that the call breaks."""
    if not call.message_id:
        return _reject("message_id", "is required")
    for name in ("message_id", "user_id", "anonymous_id", "group_id", "previous_id"):
        if len(getattr(call, name)) > MAX_ID_LENGTH:
            return _reject(name, f"is longer than {MAX_ID_LENGTH} characters")
    if not call.user_id and not call.anonymous_id:
        return _reject("user_id", "userId or anonymousId is required")
    if call.type == "track" and not call.event.strip():
        return _reject("event", "is required for track")
    if call.type == "group" and not call.group_id:
        return _reject("group_id", "is required for group")
    if call.type == "alias":
        if not call.previous_id:
            return _reject("previous_id", "is required for alias")
        if not call.user_id:
            return _reject("user_id", "is required for alias")
    return None


def too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded JSON value nests deeper than limit (checked without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            child for v in level if isinstance(v, (dict, list)) for child in (v.values() if isinstance(v, dict) else v)
        ]
        if not level:
            return False
    return any(isinstance(v, (dict, list)) for v in level)


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return True
    except ValueError:
        return False
