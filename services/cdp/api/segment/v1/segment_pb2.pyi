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

class Node(_message.Message):
    __slots__ = ("all", "any", "trait", "event", "funnel", "audience", "account", "account_trait")
    ALL_FIELD_NUMBER: _ClassVar[int]
    ANY_FIELD_NUMBER: _ClassVar[int]
    NOT_FIELD_NUMBER: _ClassVar[int]
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FUNNEL_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TRAIT_FIELD_NUMBER: _ClassVar[int]
    all: Nodes
    any: Nodes
    trait: TraitCondition
    event: EventPredicate
    funnel: Funnel
    audience: str
    account: AccountQuantifier
    account_trait: TraitCondition
    def __init__(self, all: _Optional[_Union[Nodes, _Mapping]] = ..., any: _Optional[_Union[Nodes, _Mapping]] = ..., trait: _Optional[_Union[TraitCondition, _Mapping]] = ..., event: _Optional[_Union[EventPredicate, _Mapping]] = ..., funnel: _Optional[_Union[Funnel, _Mapping]] = ..., audience: _Optional[str] = ..., account: _Optional[_Union[AccountQuantifier, _Mapping]] = ..., account_trait: _Optional[_Union[TraitCondition, _Mapping]] = ..., **kwargs) -> None: ...

class AccountQuantifier(_message.Message):
    __slots__ = ("quantifier", "member")
    QUANTIFIER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    quantifier: str
    member: Node
    def __init__(self, quantifier: _Optional[str] = ..., member: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class Nodes(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("op", "value", "upper")
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    op: str
    value: int
    upper: int
    def __init__(self, op: _Optional[str] = ..., value: _Optional[int] = ..., upper: _Optional[int] = ...) -> None: ...

class Aggregate(_message.Message):
    __slots__ = ("fn", "property", "op", "value")
    FN_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    fn: str
    property: str
    op: str
    value: str
    def __init__(self, fn: _Optional[str] = ..., property: _Optional[str] = ..., op: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Window(_message.Message):
    __slots__ = ("last", "far", "near", "to")
    LAST_FIELD_NUMBER: _ClassVar[int]
    FAR_FIELD_NUMBER: _ClassVar[int]
    NEAR_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    last: str
    far: str
    near: str
    to: str
    def __init__(self, last: _Optional[str] = ..., far: _Optional[str] = ..., near: _Optional[str] = ..., to: _Optional[str] = ..., **kwargs) -> None: ...

class EventPredicate(_message.Message):
    __slots__ = ("event", "where", "count", "aggregate", "window")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WHERE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    event: str
    where: _containers.RepeatedCompositeFieldContainer[TraitCondition]
    count: Count
    aggregate: Aggregate
    window: Window
    def __init__(self, event: _Optional[str] = ..., where: _Optional[_Iterable[_Union[TraitCondition, _Mapping]]] = ..., count: _Optional[_Union[Count, _Mapping]] = ..., aggregate: _Optional[_Union[Aggregate, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class Funnel(_message.Message):
    __slots__ = ("steps", "within", "negate_last")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WITHIN_FIELD_NUMBER: _ClassVar[int]
    NEGATE_LAST_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[EventPredicate]
    within: str
    negate_last: bool
    def __init__(self, steps: _Optional[_Iterable[_Union[EventPredicate, _Mapping]]] = ..., within: _Optional[str] = ..., negate_last: _Optional[bool] = ...) -> None: ...

class Audience(_message.Message):
    __slots__ = ("audience_id", "name", "conditions", "version", "created_by", "decision_id", "definition", "purpose", "status", "updated_by", "updated_at", "update_decision_id", "archived_by", "archived_at", "archive_decision_id", "level")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_BY_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    name: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    version: int
    created_by: str
    decision_id: str
    definition: Node
    purpose: str
    status: str
    updated_by: str
    updated_at: str
    update_decision_id: str
    archived_by: str
    archived_at: str
    archive_decision_id: str
    level: str
    def __init__(self, audience_id: _Optional[str] = ..., name: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., version: _Optional[int] = ..., created_by: _Optional[str] = ..., decision_id: _Optional[str] = ..., definition: _Optional[_Union[Node, _Mapping]] = ..., purpose: _Optional[str] = ..., status: _Optional[str] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[str] = ..., update_decision_id: _Optional[str] = ..., archived_by: _Optional[str] = ..., archived_at: _Optional[str] = ..., archive_decision_id: _Optional[str] = ..., level: _Optional[str] = ...) -> None: ...

class CreateAudienceRequest(_message.Message):
    __slots__ = ("name", "conditions", "definition", "definition_json", "purpose", "level")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    definition: Node
    definition_json: str
    purpose: str
    level: str
    def __init__(self, name: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., definition: _Optional[_Union[Node, _Mapping]] = ..., definition_json: _Optional[str] = ..., purpose: _Optional[str] = ..., level: _Optional[str] = ...) -> None: ...

class CreateAudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class UpdateAudienceRequest(_message.Message):
    __slots__ = ("audience_id", "name", "purpose", "conditions", "definition", "definition_json")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    name: str
    purpose: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    definition: Node
    definition_json: str
    def __init__(self, audience_id: _Optional[str] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., definition: _Optional[_Union[Node, _Mapping]] = ..., definition_json: _Optional[str] = ...) -> None: ...

class UpdateAudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class ArchiveAudienceRequest(_message.Message):
    __slots__ = ("audience_id",)
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    def __init__(self, audience_id: _Optional[str] = ...) -> None: ...

class ArchiveAudienceResponse(_message.Message):
    __slots__ = ("audience",)
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ...) -> None: ...

class PreviewAudienceRequest(_message.Message):
    __slots__ = ("conditions", "definition", "definition_json", "sample", "name", "purpose", "level")
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    definition: Node
    definition_json: str
    sample: int
    name: str
    purpose: str
    level: str
    def __init__(self, conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ..., definition: _Optional[_Union[Node, _Mapping]] = ..., definition_json: _Optional[str] = ..., sample: _Optional[int] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., level: _Optional[str] = ...) -> None: ...

class PreviewAudienceResponse(_message.Message):
    __slots__ = ("size", "person_ids", "decision_id")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    size: int
    person_ids: _containers.RepeatedScalarFieldContainer[str]
    decision_id: str
    def __init__(self, size: _Optional[int] = ..., person_ids: _Optional[_Iterable[str]] = ..., decision_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("audience_id", "page_size", "page_token")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    page_size: int
    page_token: str
    def __init__(self, audience_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("person_ids", "next_page_token", "total")
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    person_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    total: int
    def __init__(self, person_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class ListMembershipHistoryRequest(_message.Message):
    __slots__ = ("audience_id", "person_id", "page_size", "page_token", "account_id")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    page_size: int
    page_token: str
    account_id: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class MembershipChange(_message.Message):
    __slots__ = ("audience_id", "person_id", "entered", "audience_version", "cause", "cause_event_id", "at", "account_id")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    entered: bool
    audience_version: int
    cause: str
    cause_event_id: str
    at: str
    account_id: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., entered: _Optional[bool] = ..., audience_version: _Optional[int] = ..., cause: _Optional[str] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ListMembershipHistoryResponse(_message.Message):
    __slots__ = ("changes", "next_page_token")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[MembershipChange]
    next_page_token: str
    def __init__(self, changes: _Optional[_Iterable[_Union[MembershipChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AudienceCreated(_message.Message):
    __slots__ = ("audience", "created_at")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    created_at: str
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ..., created_at: _Optional[str] = ...) -> None: ...

class AudienceUpdated(_message.Message):
    __slots__ = ("audience", "updated_at")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    updated_at: str
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ..., updated_at: _Optional[str] = ...) -> None: ...

class AudienceArchived(_message.Message):
    __slots__ = ("audience", "archived_at")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_AT_FIELD_NUMBER: _ClassVar[int]
    audience: Audience
    archived_at: str
    def __init__(self, audience: _Optional[_Union[Audience, _Mapping]] = ..., archived_at: _Optional[str] = ...) -> None: ...

class MembershipEntered(_message.Message):
    __slots__ = ("audience_id", "person_id", "audience_version", "cause_event_id", "at", "cause", "account_id")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    audience_version: int
    cause_event_id: str
    at: str
    cause: str
    account_id: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., audience_version: _Optional[int] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ..., cause: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class MembershipExited(_message.Message):
    __slots__ = ("audience_id", "person_id", "audience_version", "cause_event_id", "at", "cause", "account_id")
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    audience_id: str
    person_id: str
    audience_version: int
    cause_event_id: str
    at: str
    cause: str
    account_id: str
    def __init__(self, audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., audience_version: _Optional[int] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ..., cause: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class EventObserved(_message.Message):
    __slots__ = ("event_id", "key_type", "key_value", "person_id", "event", "timestamp", "properties")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    key_type: str
    key_value: str
    person_id: str
    event: str
    timestamp: str
    properties: str
    def __init__(self, event_id: _Optional[str] = ..., key_type: _Optional[str] = ..., key_value: _Optional[str] = ..., person_id: _Optional[str] = ..., event: _Optional[str] = ..., timestamp: _Optional[str] = ..., properties: _Optional[str] = ...) -> None: ...

class KeyMoved(_message.Message):
    __slots__ = ("key_type", "key_value", "person_id")
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    key_type: str
    key_value: str
    person_id: str
    def __init__(self, key_type: _Optional[str] = ..., key_value: _Optional[str] = ..., person_id: _Optional[str] = ...) -> None: ...
