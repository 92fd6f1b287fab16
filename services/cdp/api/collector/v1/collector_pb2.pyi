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
    ACK_STATUS_ACCEPTED: _ClassVar[AckStatus]
    ACK_STATUS_DUPLICATE: _ClassVar[AckStatus]
    ACK_STATUS_REJECTED: _ClassVar[AckStatus]
ACK_STATUS_UNSPECIFIED: AckStatus
ACK_STATUS_ACCEPTED: AckStatus
ACK_STATUS_DUPLICATE: AckStatus
ACK_STATUS_REJECTED: AckStatus

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

class IngestStreamRequest(_message.Message):
    __slots__ = ("write_key", "events")
    WRITE_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    write_key: str
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    def __init__(self, write_key: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ...) -> None: ...

class IngestStreamResponse(_message.Message):
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
    __slots__ = ("source_id", "name", "write_key", "server_side", "disabled", "plan_name", "plan_mode", "write_key_hint", "plan_settings", "plan_version")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WRITE_KEY_FIELD_NUMBER: _ClassVar[int]
    SERVER_SIDE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_MODE_FIELD_NUMBER: _ClassVar[int]
    WRITE_KEY_HINT_FIELD_NUMBER: _ClassVar[int]
    PLAN_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    name: str
    write_key: str
    server_side: bool
    disabled: bool
    plan_name: str
    plan_mode: str
    write_key_hint: str
    plan_settings: PlanSettings
    plan_version: int
    def __init__(self, source_id: _Optional[str] = ..., name: _Optional[str] = ..., write_key: _Optional[str] = ..., server_side: _Optional[bool] = ..., disabled: _Optional[bool] = ..., plan_name: _Optional[str] = ..., plan_mode: _Optional[str] = ..., write_key_hint: _Optional[str] = ..., plan_settings: _Optional[_Union[PlanSettings, _Mapping]] = ..., plan_version: _Optional[int] = ...) -> None: ...

class PlanSettings(_message.Message):
    __slots__ = ("unplanned_events", "unplanned_properties", "violations")
    UNPLANNED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    UNPLANNED_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    unplanned_events: str
    unplanned_properties: str
    violations: str
    def __init__(self, unplanned_events: _Optional[str] = ..., unplanned_properties: _Optional[str] = ..., violations: _Optional[str] = ...) -> None: ...

class CreateSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: Source
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class DisableSourceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DisableSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: Source
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("name", "version", "document", "published_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    document: str
    published_at: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., document: _Optional[str] = ..., published_at: _Optional[str] = ...) -> None: ...

class PublishPlanRequest(_message.Message):
    __slots__ = ("name", "document")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    document: str
    def __init__(self, name: _Optional[str] = ..., document: _Optional[str] = ...) -> None: ...

class PublishPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans",)
    PLANS_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class AssignPlanRequest(_message.Message):
    __slots__ = ("source_name", "plan_name", "mode", "settings", "plan_version")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    plan_name: str
    mode: str
    settings: PlanSettings
    plan_version: int
    def __init__(self, source_name: _Optional[str] = ..., plan_name: _Optional[str] = ..., mode: _Optional[str] = ..., settings: _Optional[_Union[PlanSettings, _Mapping]] = ..., plan_version: _Optional[int] = ...) -> None: ...

class AssignPlanResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: Source
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("field", "rule", "action", "kind", "keyword")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_FIELD_NUMBER: _ClassVar[int]
    field: str
    rule: str
    action: str
    kind: str
    keyword: str
    def __init__(self, field: _Optional[str] = ..., rule: _Optional[str] = ..., action: _Optional[str] = ..., kind: _Optional[str] = ..., keyword: _Optional[str] = ...) -> None: ...

class QuarantinedEvent(_message.Message):
    __slots__ = ("event_id", "source_id", "event", "violations", "plan_name", "plan_version", "at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source_id: str
    event: _event_pb2.Event
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    plan_name: str
    plan_version: int
    at: str
    def __init__(self, event_id: _Optional[str] = ..., source_id: _Optional[str] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., at: _Optional[str] = ...) -> None: ...

class QuarantineFilter(_message.Message):
    __slots__ = ("source_name", "event_name", "rule", "since", "until", "event_ids")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    event_name: str
    rule: str
    since: str
    until: str
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source_name: _Optional[str] = ..., event_name: _Optional[str] = ..., rule: _Optional[str] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListQuarantineRequest(_message.Message):
    __slots__ = ("source_name", "limit", "filter")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    limit: int
    filter: QuarantineFilter
    def __init__(self, source_name: _Optional[str] = ..., limit: _Optional[int] = ..., filter: _Optional[_Union[QuarantineFilter, _Mapping]] = ...) -> None: ...

class ListQuarantineResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[QuarantinedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[QuarantinedEvent, _Mapping]]] = ...) -> None: ...

class ReleaseQuarantineRequest(_message.Message):
    __slots__ = ("source_name", "filter", "as_is", "reason")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AS_IS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    filter: QuarantineFilter
    as_is: bool
    reason: str
    def __init__(self, source_name: _Optional[str] = ..., filter: _Optional[_Union[QuarantineFilter, _Mapping]] = ..., as_is: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseQuarantineResponse(_message.Message):
    __slots__ = ("released", "still_quarantined", "event_ids")
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    STILL_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    released: int
    still_quarantined: int
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, released: _Optional[int] = ..., still_quarantined: _Optional[int] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DiscardQuarantineRequest(_message.Message):
    __slots__ = ("filter", "reason")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    filter: QuarantineFilter
    reason: str
    def __init__(self, filter: _Optional[_Union[QuarantineFilter, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class DiscardQuarantineResponse(_message.Message):
    __slots__ = ("discarded", "event_ids")
    DISCARDED_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    discarded: int
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, discarded: _Optional[int] = ..., event_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSourcesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSourcesResponse(_message.Message):
    __slots__ = ("sources",)
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    def __init__(self, sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ...) -> None: ...

class SourceCreated(_message.Message):
    __slots__ = ("source", "created_at", "write_key_hash")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    WRITE_KEY_HASH_FIELD_NUMBER: _ClassVar[int]
    source: Source
    created_at: str
    write_key_hash: str
    def __init__(self, source: _Optional[_Union[Source, _Mapping]] = ..., created_at: _Optional[str] = ..., write_key_hash: _Optional[str] = ...) -> None: ...

class EventAccepted(_message.Message):
    __slots__ = ("event_id", "source_id", "server_side", "event", "violations", "plan_name", "plan_version", "dropped_properties", "collect_decision_id", "pii_decision_id", "encrypted_fields")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_SIDE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    DROPPED_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    COLLECT_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    PII_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source_id: str
    server_side: bool
    event: _event_pb2.Event
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    plan_name: str
    plan_version: int
    dropped_properties: _containers.RepeatedScalarFieldContainer[str]
    collect_decision_id: str
    pii_decision_id: str
    encrypted_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., source_id: _Optional[str] = ..., server_side: _Optional[bool] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., dropped_properties: _Optional[_Iterable[str]] = ..., collect_decision_id: _Optional[str] = ..., pii_decision_id: _Optional[str] = ..., encrypted_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class SourceDisabled(_message.Message):
    __slots__ = ("source_id", "at")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    at: str
    def __init__(self, source_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class SourcePlanAssigned(_message.Message):
    __slots__ = ("source_id", "plan_name", "mode", "at", "settings", "plan_version")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    plan_name: str
    mode: str
    at: str
    settings: PlanSettings
    plan_version: int
    def __init__(self, source_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., mode: _Optional[str] = ..., at: _Optional[str] = ..., settings: _Optional[_Union[PlanSettings, _Mapping]] = ..., plan_version: _Optional[int] = ...) -> None: ...

class PlanPublished(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class EventQuarantined(_message.Message):
    __slots__ = ("quarantined",)
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    quarantined: QuarantinedEvent
    def __init__(self, quarantined: _Optional[_Union[QuarantinedEvent, _Mapping]] = ...) -> None: ...

class EventReleased(_message.Message):
    __slots__ = ("event_id", "plan_name", "plan_version", "at", "released_by", "as_is", "reason")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_BY_FIELD_NUMBER: _ClassVar[int]
    AS_IS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    plan_name: str
    plan_version: int
    at: str
    released_by: str
    as_is: bool
    reason: str
    def __init__(self, event_id: _Optional[str] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., at: _Optional[str] = ..., released_by: _Optional[str] = ..., as_is: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class EventDiscarded(_message.Message):
    __slots__ = ("event_id", "source_id", "discarded_by", "reason", "at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DISCARDED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source_id: str
    discarded_by: str
    reason: str
    at: str
    def __init__(self, event_id: _Optional[str] = ..., source_id: _Optional[str] = ..., discarded_by: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class EventSuppressed(_message.Message):
    __slots__ = ("event_id", "source_id", "message_id", "event_type", "identifier_type", "at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_TYPE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    source_id: str
    message_id: str
    event_type: str
    identifier_type: str
    at: str
    def __init__(self, event_id: _Optional[str] = ..., source_id: _Optional[str] = ..., message_id: _Optional[str] = ..., event_type: _Optional[str] = ..., identifier_type: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class EventRejected(_message.Message):
    __slots__ = ("source_id", "event", "field", "rule", "plan_name", "plan_version", "decision_id", "at", "violations")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    event: _event_pb2.Event
    field: str
    rule: str
    plan_name: str
    plan_version: int
    decision_id: str
    at: str
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    def __init__(self, source_id: _Optional[str] = ..., event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., field: _Optional[str] = ..., rule: _Optional[str] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., decision_id: _Optional[str] = ..., at: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ...) -> None: ...
