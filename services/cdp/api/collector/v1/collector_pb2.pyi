from cdp.api.common.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_STATUS_UNSPECIFIED: _ClassVar[AckStatus]
    ACCEPTED: _ClassVar[AckStatus]
    DUPLICATE: _ClassVar[AckStatus]
    REJECTED: _ClassVar[AckStatus]
ACK_STATUS_UNSPECIFIED: AckStatus
ACCEPTED: AckStatus
DUPLICATE: AckStatus
REJECTED: AckStatus

class IngestRequest(_message.Message):
    __slots__ = ("write_key", "events")
    WRITE_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    write_key: str
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    def __init__(self, write_key: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ...) -> None: ...

class EventAck(_message.Message):
    __slots__ = ("index", "status", "event_id", "field", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    status: AckStatus
    event_id: str
    field: str
    error: str
    def __init__(self, index: _Optional[int] = ..., status: _Optional[_Union[AckStatus, str]] = ..., event_id: _Optional[str] = ..., field: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("acks", "accepted", "duplicates", "rejected")
    ACKS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[EventAck]
    accepted: int
    duplicates: int
    rejected: int
    def __init__(self, acks: _Optional[_Iterable[_Union[EventAck, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class CreateSourceRequest(_message.Message):
    __slots__ = ("name", "server_side")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERVER_SIDE_FIELD_NUMBER: _ClassVar[int]
    name: str
    server_side: bool
    def __init__(self, name: _Optional[str] = ..., server_side: _Optional[bool] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("source_id", "name", "write_key", "server_side", "disabled")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WRITE_KEY_FIELD_NUMBER: _ClassVar[int]
    SERVER_SIDE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    name: str
    write_key: str
    server_side: bool
    disabled: bool
    def __init__(self, source_id: _Optional[str] = ..., name: _Optional[str] = ..., write_key: _Optional[str] = ..., server_side: _Optional[bool] = ..., disabled: _Optional[bool] = ...) -> None: ...

class ListSourcesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSourcesResponse(_message.Message):
    __slots__ = ("sources",)
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    def __init__(self, sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ...) -> None: ...

class SourceCreated(_message.Message):
    __slots__ = ("source", "created_at")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    source: Source
    created_at: str
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ..., created_at: _Optional[str] = ...) -> None: ...

class EventAccepted(_message.Message):
    __slots__ = ("event_id", "source_id", "server_side", "event")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_SIDE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source_id: str
    server_side: bool
    event: _event_pb2.Event
    def __init__(self, event_id: _Optional[str] = ..., source_id: _Optional[str] = ..., server_side: _Optional[bool] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ...) -> None: ...
