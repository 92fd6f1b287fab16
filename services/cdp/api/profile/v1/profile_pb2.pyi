from cdp.api.identity.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraitValue(_message.Message):
    __slots__ = ("value", "source_id", "event_id", "updated_at", "subject", "event_type", "masked", "erased")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    value: str
    source_id: str
    event_id: str
    updated_at: str
    subject: str
    event_type: str
    masked: bool
    erased: bool
    def __init__(self, value: _Optional[str] = ..., source_id: _Optional[str] = ..., event_id: _Optional[str] = ..., updated_at: _Optional[str] = ..., subject: _Optional[str] = ..., event_type: _Optional[str] = ..., masked: _Optional[bool] = ..., erased: _Optional[bool] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("group_id", "traits")
    class TraitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TraitValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TraitValue, _Mapping]] = ...) -> None: ...
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    traits: _containers.MessageMap[str, TraitValue]
    def __init__(self, group_id: _Optional[str] = ..., traits: _Optional[_Mapping[str, TraitValue]] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("person_id", "traits", "event_counts", "first_seen", "last_seen", "accounts", "merged_person_ids")
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
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    MERGED_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    traits: _containers.MessageMap[str, TraitValue]
    event_counts: _containers.ScalarMap[str, int]
    first_seen: str
    last_seen: str
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    merged_person_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, person_id: _Optional[str] = ..., traits: _Optional[_Mapping[str, TraitValue]] = ..., event_counts: _Optional[_Mapping[str, int]] = ..., first_seen: _Optional[str] = ..., last_seen: _Optional[str] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., merged_person_ids: _Optional[_Iterable[str]] = ...) -> None: ...

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
