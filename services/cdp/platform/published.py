"""The published language: events are stored and served as protobuf messages.

A stored event's topic is the full name of its message type and its state is the
serialised message, so the event log serves bytes as they were stored and a
consumer never depends on a Python class of the producer.
"""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent
from google.protobuf import symbol_database
from google.protobuf.message import Message

_db = symbol_database.Default()
_classes: dict[str, type[Message]] = {}


def stored(originator_id: uuid.UUID, version: int, message: Message) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=message.DESCRIPTOR.full_name,
        state=message.SerializeToString(),
    )


def message_class(topic: str) -> type[Message]:
    cls = _classes.get(topic)
    if cls is None:
        cls = _classes[topic] = _db.GetSymbol(topic)
    return cls


def decode(topic: str, payload: bytes) -> Message:
    message = message_class(topic)()
    message.ParseFromString(payload)
    return message


def topic_of(*classes: type[Message]) -> list[str]:
    return [c.DESCRIPTOR.full_name for c in classes]
