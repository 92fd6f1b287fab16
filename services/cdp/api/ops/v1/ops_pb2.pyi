from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventParked(_message.Message):
    __slots__ = ("upstream", "position", "topic", "originator_id", "originator_version", "payload", "key", "error", "error_id", "parked_at")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    PARKED_AT_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    position: int
    topic: str
    originator_id: str
    originator_version: int
    payload: bytes
    key: str
    error: str
    error_id: str
    parked_at: str
    def __init__(self, upstream: _Optional[str] = ..., position: _Optional[int] = ..., topic: _Optional[str] = ..., originator_id: _Optional[str] = ..., originator_version: _Optional[int] = ..., payload: _Optional[bytes] = ..., key: _Optional[str] = ..., error: _Optional[str] = ..., error_id: _Optional[str] = ..., parked_at: _Optional[str] = ...) -> None: ...

class ParkedEventApplied(_message.Message):
    __slots__ = ("upstream", "position", "applied_at", "requested_by")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    position: int
    applied_at: str
    requested_by: str
    def __init__(self, upstream: _Optional[str] = ..., position: _Optional[int] = ..., applied_at: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FollowerStatus(_message.Message):
    __slots__ = ("upstream", "position", "head", "parked")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    position: int
    head: int
    parked: int
    def __init__(self, upstream: _Optional[str] = ..., position: _Optional[int] = ..., head: _Optional[int] = ..., parked: _Optional[int] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("service", "head", "followers")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    FOLLOWERS_FIELD_NUMBER: _ClassVar[int]
    service: str
    head: int
    followers: _containers.RepeatedCompositeFieldContainer[FollowerStatus]
    def __init__(self, service: _Optional[str] = ..., head: _Optional[int] = ..., followers: _Optional[_Iterable[_Union[FollowerStatus, _Mapping]]] = ...) -> None: ...

class ListParkedRequest(_message.Message):
    __slots__ = ("upstream", "limit")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    limit: int
    def __init__(self, upstream: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ParkedEvent(_message.Message):
    __slots__ = ("upstream", "position", "topic", "key", "error", "error_id", "parked_at")
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    PARKED_AT_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    position: int
    topic: str
    key: str
    error: str
    error_id: str
    parked_at: str
    def __init__(self, upstream: _Optional[str] = ..., position: _Optional[int] = ..., topic: _Optional[str] = ..., key: _Optional[str] = ..., error: _Optional[str] = ..., error_id: _Optional[str] = ..., parked_at: _Optional[str] = ...) -> None: ...

class ListParkedResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ParkedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ParkedEvent, _Mapping]]] = ...) -> None: ...

class RetryParkedRequest(_message.Message):
    __slots__ = ("upstream",)
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    upstream: str
    def __init__(self, upstream: _Optional[str] = ...) -> None: ...

class RetryParkedResponse(_message.Message):
    __slots__ = ("applied", "still_parked")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    STILL_PARKED_FIELD_NUMBER: _ClassVar[int]
    applied: int
    still_parked: int
    def __init__(self, applied: _Optional[int] = ..., still_parked: _Optional[int] = ...) -> None: ...

class SignedHead(_message.Message):
    __slots__ = ("service", "sequence", "hash", "signed_at", "key_id", "signature")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    service: str
    sequence: int
    hash: str
    signed_at: str
    key_id: str
    signature: bytes
    def __init__(self, service: _Optional[str] = ..., sequence: _Optional[int] = ..., hash: _Optional[str] = ..., signed_at: _Optional[str] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class HeadWitnessed(_message.Message):
    __slots__ = ("head", "witnessed_by", "witnessed_at")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_BY_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_AT_FIELD_NUMBER: _ClassVar[int]
    head: SignedHead
    witnessed_by: str
    witnessed_at: str
    def __init__(self, head: _Optional[_Union[SignedHead, _Mapping]] = ..., witnessed_by: _Optional[str] = ..., witnessed_at: _Optional[str] = ...) -> None: ...

class WitnessHeadRequest(_message.Message):
    __slots__ = ("head",)
    HEAD_FIELD_NUMBER: _ClassVar[int]
    head: SignedHead
    def __init__(self, head: _Optional[_Union[SignedHead, _Mapping]] = ...) -> None: ...

class WitnessHeadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
