from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReadRequest(_message.Message):
    __slots__ = ("after", "limit", "wait_ms", "topics", "linger_ms")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    LINGER_MS_FIELD_NUMBER: _ClassVar[int]
    after: int
    limit: int
    wait_ms: int
    topics: _containers.RepeatedScalarFieldContainer[str]
    linger_ms: int
    def __init__(self, after: _Optional[int] = ..., limit: _Optional[int] = ..., wait_ms: _Optional[int] = ..., topics: _Optional[_Iterable[str]] = ..., linger_ms: _Optional[int] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "topic", "originator_id", "originator_version", "payload")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    id: int
    topic: str
    originator_id: str
    originator_version: int
    payload: bytes
    def __init__(self, id: _Optional[int] = ..., topic: _Optional[str] = ..., originator_id: _Optional[str] = ..., originator_version: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("notifications", "head")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    head: int
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., head: _Optional[int] = ...) -> None: ...
