"""Segment's JSON shape of a call <-> the event envelope.

Field names follow the Segment spec (camelCase); ids may be strings or numbers
(SDKs send both): a number becomes its exact decimal digits, in plain notation
(18446744073709551617 stays "18446744073709551617", 1e3 becomes "1000"), so two
ids that differ stay two; properties, traits and context must be objects.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from cdp.api.common.v1 import event_pb2
from cdp.collector.domain import MAX_DEPTH, MAX_ID_LENGTH, json_too_deep, too_deep

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
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise MalformedCall(key, "must be a string or a number")
        setattr(event, attr, value if isinstance(value, str) else id_text(key, value))
    for key, attr in OBJECT_FIELDS.items():
        value = call.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise MalformedCall(key, "must be an object")
        try:
            text = orjson.dumps(value).decode()
        except orjson.JSONEncodeError as error:
            # orjson writes 254 levels at most (deeper than any call may be), and integers of 64 bits
            # (a caller's own parser, Python's json say, reads larger ones).
            if too_deep(value):
                raise MalformedCall(key, f"nests deeper than {MAX_DEPTH} levels") from None
            raise MalformedCall(key, f"holds a value that cannot be stored as JSON: {error}") from None
        if json_too_deep(text, value):
            raise MalformedCall(key, f"nests deeper than {MAX_DEPTH} levels")
        setattr(event, attr, text)
    if not event.type:
        event.type = default_type
    return event


def id_text(key: str, number: int | float | Decimal) -> str:
    """An id sent as a JSON number, as its exact decimal digits in plain notation.

    A float has lost digits already: loads() keeps ids that are not 64-bit integers as Decimals."""
    if isinstance(number, int):
        return str(number)
    value = Decimal(repr(number)) if isinstance(number, float) else number
    if not value.is_finite():
        raise MalformedCall(key, "must be a string or a finite number")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # a finite number's exponent
    if len(digits) + abs(exponent) > MAX_ID_LENGTH:  # checked before 1e999999999 is written out
        raise MalformedCall(key, f"is longer than {MAX_ID_LENGTH} characters")
    return format(abs(value) if value.is_zero() else value, "f")


class _Int(Decimal):
    """A JSON integer as read by the exact parser (a Decimal: no digit limit)."""


def loads(body: bytes) -> Any:
    """A JSON document as orjson reads it (fast), except that every id number of its calls
    (userId, anonymousId, groupId, previousId, at the top and in batch[...]) keeps its exact
    digits: orjson reads an integer past 64 bits as a float, which loses them. Only a document
    with such an id (or one orjson refuses) is read a second time, by the exact parser.
    Raises ValueError (an orjson.JSONDecodeError when orjson refused it) when it is not JSON."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        exact = _exact_loads(body)
        if exact is None:
            raise error from None
        return exact
    if any(isinstance(call.get(key), float) for call in _calls(document) for key in ID_FIELDS):
        exact = _exact_loads(body)
        if exact is None:  # orjson reads 1024 levels deep, the exact parser fewer
            raise ValueError("nests too deep for its number ids to be read exactly")
        return exact
    return document


def _calls(document: Any) -> list[dict]:
    if not isinstance(document, dict):
        return []
    batch = document.get("batch")
    return [document, *(c for c in batch if isinstance(c, dict))] if isinstance(batch, list) else [document]


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _exact_loads(body: bytes) -> Any | None:
    """The document with the values orjson would give, ids as exact numbers; None when it is
    not JSON as orjson reads it (NaN, infinite numbers, lone surrogates, too deep)."""
    try:
        document = json.loads(body.decode("utf-8"), parse_int=_Int, parse_float=Decimal, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    exact_ids = {
        (id(call), key): call[key]
        for call in _calls(document)
        for key in ID_FIELDS
        if isinstance(call.get(key), Decimal)
    }
    # Every other number becomes what orjson makes of it; iteratively, as nesting is deep.
    stack = [document]
    while stack:
        holder = stack.pop()
        items = holder.items() if isinstance(holder, dict) else enumerate(holder)
        for key, value in items:
            if isinstance(value, (dict, list)):
                stack.append(value)
            elif isinstance(value, Decimal) and (id(holder), key) not in exact_ids:
                number = _plain(value)
                if number is None:
                    return None
                holder[key] = number
            elif isinstance(value, str) and not _encodable(value):
                return None
            if isinstance(key, str) and not _encodable(key):
                return None
    return document


def _plain(value: Decimal) -> int | float | None:
    if isinstance(value, _Int) and -(2**63) <= value < 2**64:
        return int(value)
    number = float(value)
    return number if number not in (float("inf"), float("-inf")) else None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


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
