from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraitCondition(_message.Message):
    __slots__ = ("trait", "op", "value", "subject", "masked", "erased")
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    trait: str
    op: str
    value: str
    subject: str
    masked: bool
    erased: bool
    def __init__(self, trait: _Optional[str] = ..., op: _Optional[str] = ..., value: _Optional[str] = ..., subject: _Optional[str] = ..., masked: _Optional[bool] = ..., erased: _Optional[bool] = ...) -> None: ...

class EventCondition(_message.Message):
    __slots__ = ("event", "min_count")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    event: str
    min_count: int
    def __init__(self, event: _Optional[str] = ..., min_count: _Optional[int] = ...) -> None: ...

class Condition(_message.Message):
    __slots__ = ("trait", "event")
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    trait: TraitCondition
    event: EventCondition
    def __init__(self, trait: _Optional[_Union[TraitCondition, _Mapping]] = ..., event: _Optional[_Union[EventCondition, _Mapping]] = ...) -> None: ...

class Audience(_message.Message):
    __slots__ = ("audience_id", "name", "conditions", "version", "created_by", "decision_id")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    name: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    version: int
    created_by: str
    decision_id: str
    def __init__(self, audience_id: _Optional[str] = ..., name: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., version: _Optional[int] = ..., created_by: _Optional[str] = ..., decision_id: _Optional[str] = ...) -> None: ...

class CreateAudienceRequest(_message.Message):
    __slots__ = ("name", "conditions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    def __init__(self, name: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ...) -> None: ...

class CreateAudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class GetAudienceRequest(_message.Message):
    __slots__ = ("audience_id",)
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    def __init__(self, audience_id: _Optional[str] = ...) -> None: ...

class GetAudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class ListAudiencesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAudiencesResponse(_message.Message):
    __slots__ = ("audiences",)
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    audiences: _containers.RepeatedCompositeFieldContainer[Audience]
    def __init__(self, audiences: _Optional[_Iterable[_Union[Audience, _Mapping]]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("audience_id",)
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    def __init__(self, audience_id: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("person_ids",)
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    person_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, person_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AudienceCreated(_message.Message):
    __slots__ = ("audience", "created_at")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    created_at: str
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ..., created_at: _Optional[str] = ...) -> None: ...

class MembershipEntered(_message.Message):
    __slots__ = ("audience_id", "person_id", "audience_version", "cause_event_id", "at")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    audience_version: int
    cause_event_id: str
    at: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., audience_version: _Optional[int] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class MembershipExited(_message.Message):
    __slots__ = ("audience_id", "person_id", "audience_version", "cause_event_id", "at")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    audience_version: int
    cause_event_id: str
    at: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., audience_version: _Optional[int] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...
