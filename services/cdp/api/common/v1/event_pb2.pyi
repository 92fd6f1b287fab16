from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("type", "message_id", "user_id", "anonymous_id", "event", "name", "properties", "traits", "context", "group_id", "previous_id", "timestamp", "sent_at", "received_at", "original_timestamp", "sealed_identifiers")
    class SealedIdentifiersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEALED_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    type: str
    message_id: str
    user_id: str
    anonymous_id: str
    event: str
    name: str
    properties: str
    traits: str
    context: str
    group_id: str
    previous_id: str
    timestamp: str
    sent_at: str
    received_at: str
    original_timestamp: str
    sealed_identifiers: _containers.ScalarMap[str, str]
    def __init__(self, type: _Optional[str] = ..., message_id: _Optional[str] = ..., user_id: _Optional[str] = ..., anonymous_id: _Optional[str] = ..., event: _Optional[str] = ..., name: _Optional[str] = ..., properties: _Optional[str] = ..., traits: _Optional[str] = ..., context: _Optional[str] = ..., group_id: _Optional[str] = ..., previous_id: _Optional[str] = ..., timestamp: _Optional[str] = ..., sent_at: _Optional[str] = ..., received_at: _Optional[str] = ..., original_timestamp: _Optional[str] = ..., sealed_identifiers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Caller(_message.Message):
    __slots__ = ("subject", "roles")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subject: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...
