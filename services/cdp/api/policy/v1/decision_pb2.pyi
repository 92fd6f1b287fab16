from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionRecorded(_message.Message):
    __slots__ = ("decision_id", "entrypoint", "input", "result", "revision", "decided_at", "caller", "service", "sequence", "prev_hash", "hash")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    entrypoint: str
    input: str
    result: str
    revision: str
    decided_at: str
    caller: str
    service: str
    sequence: int
    prev_hash: str
    hash: str
    def __init__(self, decision_id: _Optional[str] = ..., entrypoint: _Optional[str] = ..., input: _Optional[str] = ..., result: _Optional[str] = ..., revision: _Optional[str] = ..., decided_at: _Optional[str] = ..., caller: _Optional[str] = ..., service: _Optional[str] = ..., sequence: _Optional[int] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class PolicyRevisionActivated(_message.Message):
    __slots__ = ("revision", "sources", "activated_at", "service")
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    revision: str
    sources: _containers.ScalarMap[str, str]
    activated_at: str
    service: str
    def __init__(self, revision: _Optional[str] = ..., sources: _Optional[_Mapping[str, str]] = ..., activated_at: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class AccessRecorded(_message.Message):
    __slots__ = ("access_id", "at", "service", "operation", "caller", "caller_kind", "roles", "person_id", "fields", "purpose", "decision_id", "reference", "sequence", "prev_hash", "hash")
    ACCESS_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CALLER_KIND_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    access_id: str
    at: str
    service: str
    operation: str
    caller: str
    caller_kind: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    person_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    decision_id: str
    reference: str
    sequence: int
    prev_hash: str
    hash: str
    def __init__(self, access_id: _Optional[str] = ..., at: _Optional[str] = ..., service: _Optional[str] = ..., operation: _Optional[str] = ..., caller: _Optional[str] = ..., caller_kind: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., person_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ..., decision_id: _Optional[str] = ..., reference: _Optional[str] = ..., sequence: _Optional[int] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...
