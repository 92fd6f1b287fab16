from cdp.api.identity.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraitValue(_message.Message):
    __slots__ = ("value", "source_id", "event_id", "updated_at", "subject", "event_type", "masked", "erased", "computed")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    value: str
    source_id: str
    event_id: str
    updated_at: str
    subject: str
    event_type: str
    masked: bool
    erased: bool
    computed: str
    def __init__(self, value: _Optional[str] = ..., source_id: _Optional[str] = ..., event_id: _Optional[str] = ..., updated_at: _Optional[str] = ..., subject: _Optional[str] = ..., event_type: _Optional[str] = ..., masked: _Optional[bool] = ..., erased: _Optional[bool] = ..., computed: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("group_id", "traits", "member_count")
    class TraitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TraitValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TraitValue, _Mapping]] = ...) -> None: ...
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    traits: _containers.MessageMap[str, TraitValue]
    member_count: int
    def __init__(self, group_id: _Optional[str] = ..., traits: _Optional[_Mapping[str, TraitValue]] = ..., member_count: _Optional[int] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("person_id", "traits", "event_counts", "first_seen", "last_seen", "accounts", "merged_person_ids", "consent")
    class TraitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TraitValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TraitValue, _Mapping]] = ...) -> None: ...
    class EventCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ConsentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ConsentState
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ConsentState, _Mapping]] = ...) -> None: ...
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    MERGED_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    traits: _containers.MessageMap[str, TraitValue]
    event_counts: _containers.ScalarMap[str, int]
    first_seen: str
    last_seen: str
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    merged_person_ids: _containers.RepeatedScalarFieldContainer[str]
    consent: _containers.MessageMap[str, ConsentState]
    def __init__(self, person_id: _Optional[str] = ..., traits: _Optional[_Mapping[str, TraitValue]] = ..., event_counts: _Optional[_Mapping[str, int]] = ..., first_seen: _Optional[str] = ..., last_seen: _Optional[str] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., merged_person_ids: _Optional[_Iterable[str]] = ..., consent: _Optional[_Mapping[str, ConsentState]] = ...) -> None: ...

class ConsentState(_message.Message):
    __slots__ = ("granted", "event_id", "at", "source", "form")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    granted: bool
    event_id: str
    at: str
    source: str
    form: str
    def __init__(self, granted: _Optional[bool] = ..., event_id: _Optional[str] = ..., at: _Optional[str] = ..., source: _Optional[str] = ..., form: _Optional[str] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("person_id", "identifier", "purpose")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: _identity_pb2.Identifier
    purpose: str
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[_identity_pb2.Identifier, _Mapping]] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class GetProfilesRequest(_message.Message):
    __slots__ = ("person_ids", "encrypted", "purpose")
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    person_ids: _containers.RepeatedScalarFieldContainer[str]
    encrypted: bool
    purpose: str
    def __init__(self, person_ids: _Optional[_Iterable[str]] = ..., encrypted: _Optional[bool] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetProfilesResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ("after_person_id", "limit", "purpose")
    AFTER_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    after_person_id: str
    limit: int
    purpose: str
    def __init__(self, after_person_id: _Optional[str] = ..., limit: _Optional[int] = ..., purpose: _Optional[str] = ...) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles", "next_after")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    next_after: str
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ..., next_after: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id", "purpose")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    purpose: str
    def __init__(self, account_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class ListAccountMembersRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccountMembersResponse(_message.Message):
    __slots__ = ("person_ids", "next_page_token", "total")
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    person_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    total: int
    def __init__(self, person_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class TimelineEvent(_message.Message):
    __slots__ = ("event_id", "type", "event", "name", "timestamp", "received_at", "source_id", "properties", "traits", "context", "group_id", "subject", "masked", "erased")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    event: str
    name: str
    timestamp: str
    received_at: str
    source_id: str
    properties: str
    traits: str
    context: str
    group_id: str
    subject: str
    masked: bool
    erased: bool
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., event: _Optional[str] = ..., name: _Optional[str] = ..., timestamp: _Optional[str] = ..., received_at: _Optional[str] = ..., source_id: _Optional[str] = ..., properties: _Optional[str] = ..., traits: _Optional[str] = ..., context: _Optional[str] = ..., group_id: _Optional[str] = ..., subject: _Optional[str] = ..., masked: _Optional[bool] = ..., erased: _Optional[bool] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("person_id", "identifier", "page_size", "page_token", "types", "since", "until", "purpose")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: _identity_pb2.Identifier
    page_size: int
    page_token: str
    types: _containers.RepeatedScalarFieldContainer[str]
    since: str
    until: str
    purpose: str
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[_identity_pb2.Identifier, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("person_id", "events", "next_page_token")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    events: _containers.RepeatedCompositeFieldContainer[TimelineEvent]
    next_page_token: str
    def __init__(self, person_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[TimelineEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ComputedTrait(_message.Message):
    __slots__ = ("name", "definition_json", "version", "created_by", "created_at", "decision_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    definition_json: str
    version: int
    created_by: str
    created_at: str
    decision_id: str
    def __init__(self, name: _Optional[str] = ..., definition_json: _Optional[str] = ..., version: _Optional[int] = ..., created_by: _Optional[str] = ..., created_at: _Optional[str] = ..., decision_id: _Optional[str] = ...) -> None: ...

class CreateComputedTraitRequest(_message.Message):
    __slots__ = ("name", "definition_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    definition_json: str
    def __init__(self, name: _Optional[str] = ..., definition_json: _Optional[str] = ...) -> None: ...

class CreateComputedTraitResponse(_message.Message):
    __slots__ = ("computed_trait",)
    COMPUTED_TRAIT_FIELD_NUMBER: _ClassVar[int]
    computed_trait: ComputedTrait
    def __init__(self, computed_trait: _Optional[_Union[ComputedTrait, _Mapping]] = ...) -> None: ...

class GetComputedTraitRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetComputedTraitResponse(_message.Message):
    __slots__ = ("computed_trait",)
    COMPUTED_TRAIT_FIELD_NUMBER: _ClassVar[int]
    computed_trait: ComputedTrait
    def __init__(self, computed_trait: _Optional[_Union[ComputedTrait, _Mapping]] = ...) -> None: ...

class ListComputedTraitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListComputedTraitsResponse(_message.Message):
    __slots__ = ("computed_traits",)
    COMPUTED_TRAITS_FIELD_NUMBER: _ClassVar[int]
    computed_traits: _containers.RepeatedCompositeFieldContainer[ComputedTrait]
    def __init__(self, computed_traits: _Optional[_Iterable[_Union[ComputedTrait, _Mapping]]] = ...) -> None: ...

class SearchProfilesRequest(_message.Message):
    __slots__ = ("where_json", "page_size", "page_token", "purpose")
    WHERE_JSON_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    where_json: str
    page_size: int
    page_token: str
    purpose: str
    def __init__(self, where_json: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class SearchProfilesResponse(_message.Message):
    __slots__ = ("profiles", "next_page_token", "total")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    next_page_token: str
    total: int
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total: _Optional[int] = ...) -> None: ...

class GetTraitLineageRequest(_message.Message):
    __slots__ = ("person_id", "identifier", "trait", "purpose")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: _identity_pb2.Identifier
    trait: str
    purpose: str
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[_identity_pb2.Identifier, _Mapping]] = ..., trait: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class TraitSetting(_message.Message):
    __slots__ = ("event_id", "type", "timestamp", "received_at", "source_id", "key_type", "key_value", "value", "masked", "erased", "current", "path")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    timestamp: str
    received_at: str
    source_id: str
    key_type: str
    key_value: str
    value: str
    masked: bool
    erased: bool
    current: bool
    path: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., timestamp: _Optional[str] = ..., received_at: _Optional[str] = ..., source_id: _Optional[str] = ..., key_type: _Optional[str] = ..., key_value: _Optional[str] = ..., value: _Optional[str] = ..., masked: _Optional[bool] = ..., erased: _Optional[bool] = ..., current: _Optional[bool] = ..., path: _Optional[str] = ...) -> None: ...

class GetTraitLineageResponse(_message.Message):
    __slots__ = ("person_id", "trait", "current", "settings", "computed")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    trait: str
    current: TraitValue
    settings: _containers.RepeatedCompositeFieldContainer[TraitSetting]
    computed: ComputedTrait
    def __init__(self, person_id: _Optional[str] = ..., trait: _Optional[str] = ..., current: _Optional[_Union[TraitValue, _Mapping]] = ..., settings: _Optional[_Iterable[_Union[TraitSetting, _Mapping]]] = ..., computed: _Optional[_Union[ComputedTrait, _Mapping]] = ...) -> None: ...

class ProfileChanged(_message.Message):
    __slots__ = ("profile", "cause_event_id", "changed_at")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    cause_event_id: str
    changed_at: str
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ..., cause_event_id: _Optional[str] = ..., changed_at: _Optional[str] = ...) -> None: ...

class ProfileMerged(_message.Message):
    __slots__ = ("survivor_id", "merged_id")
    SURVIVOR_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_ID_FIELD_NUMBER: _ClassVar[int]
    survivor_id: str
    merged_id: str
    def __init__(self, survivor_id: _Optional[str] = ..., merged_id: _Optional[str] = ...) -> None: ...

class ProfileSplit(_message.Message):
    __slots__ = ("person_id", "part_person_ids")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PART_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    part_person_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, person_id: _Optional[str] = ..., part_person_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AccountChanged(_message.Message):
    __slots__ = ("account", "cause_event_id", "changed_at")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    cause_event_id: str
    changed_at: str
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., cause_event_id: _Optional[str] = ..., changed_at: _Optional[str] = ...) -> None: ...

class AccountMembershipChanged(_message.Message):
    __slots__ = ("account_id", "person_id", "member", "cause_event_id", "changed_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    person_id: str
    member: bool
    cause_event_id: str
    changed_at: str
    def __init__(self, account_id: _Optional[str] = ..., person_id: _Optional[str] = ..., member: _Optional[bool] = ..., cause_event_id: _Optional[str] = ..., changed_at: _Optional[str] = ...) -> None: ...

class ComputedTraitCreated(_message.Message):
    __slots__ = ("computed_trait",)
    COMPUTED_TRAIT_FIELD_NUMBER: _ClassVar[int]
    computed_trait: ComputedTrait
    def __init__(self, computed_trait: _Optional[_Union[ComputedTrait, _Mapping]] = ...) -> None: ...

class CallsObserved(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[ObservedCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[ObservedCall, _Mapping]]] = ...) -> None: ...

class ObservedCall(_message.Message):
    __slots__ = ("key_type", "key_value", "person_id", "event")
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    key_type: str
    key_value: str
    person_id: str
    event: TimelineEvent
    def __init__(self, key_type: _Optional[str] = ..., key_value: _Optional[str] = ..., person_id: _Optional[str] = ..., event: _Optional[_Union[TimelineEvent, _Mapping]] = ...) -> None: ...

class PartObserved(_message.Message):
    __slots__ = ("key_type", "key_value", "person_id", "partial")
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_VALUE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    key_type: str
    key_value: str
    person_id: str
    partial: Profile
    def __init__(self, key_type: _Optional[str] = ..., key_value: _Optional[str] = ..., person_id: _Optional[str] = ..., partial: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...
