"""Building the messages tests send: tracking calls, identifiers, audience conditions."""

from __future__ import annotations

import json

from cdp.api.common.v1 import event_pb2
from cdp.api.identity.v1 import identity_pb2
from cdp.api.segment.v1 import segment_pb2


def event(type_: str, message_id: str, ts: str, **fields) -> event_pb2.Event:
    """A call; traits, properties and context may be given as dicts."""
    for name in ("traits", "properties", "context"):
        if name in fields and not isinstance(fields[name], str):
            fields[name] = json.dumps(fields[name])
    return event_pb2.Event(type=type_, message_id=message_id, timestamp=ts, **fields)


def ident(type_: str, value: str) -> identity_pb2.Identifier:
    return identity_pb2.Identifier(type=type_, value=value)


def trait_condition(trait: str, op: str, value) -> segment_pb2.Condition:
    return segment_pb2.Condition(trait=segment_pb2.TraitCondition(trait=trait, op=op, value=json.dumps(value)))


def event_condition(name: str, min_count: int) -> segment_pb2.Condition:
    return segment_pb2.Condition(event=segment_pb2.EventCondition(event=name, min_count=min_count))
