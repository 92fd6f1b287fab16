from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ForgetRequest(_message.Message):
    __slots__ = ("identifier", "person_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    person_id: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., person_id: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("person_id", "keys_destroyed", "identifiers")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    keys_destroyed: int
    identifiers: int
    def __init__(self, person_id: _Optional[str] = ..., keys_destroyed: _Optional[int] = ..., identifiers: _Optional[int] = ...) -> None: ...

class Identifier(_message.Message):
    __slots__ = ("type", "value", "subject")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    subject: str
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("identifiers", "after_position", "wait_ms")
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    after_position: int
    wait_ms: int
    def __init__(self, identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., after_position: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class Resolution(_message.Message):
    __slots__ = ("identifier", "person_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    person_id: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., person_id: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("resolutions", "position")
    RESOLUTIONS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    resolutions: _containers.RepeatedCompositeFieldContainer[Resolution]
    position: int
    def __init__(self, resolutions: _Optional[_Iterable[_Union[Resolution, _Mapping]]] = ..., position: _Optional[int] = ...) -> None: ...

class GetPersonRequest(_message.Message):
    __slots__ = ("person_id", "identifier")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: Identifier
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("person_id", "identifiers", "merged_person_ids")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    MERGED_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    merged_person_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, person_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., merged_person_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPersonResponse(_message.Message):
    __slots__ = ("person",)
    PERSON_FIELD_NUMBER: _ClassVar[int]
    person: Person
    def __init__(self, person: _Optional[_Union[Person, _Mapping]] = ...) -> None: ...

class PersonCreated(_message.Message):
    __slots__ = ("person_id", "identifier", "event_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: Identifier
    event_id: str
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class IdentifierLinked(_message.Message):
    __slots__ = ("person_id", "identifier", "event_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: Identifier
    event_id: str
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class PersonsMerged(_message.Message):
    __slots__ = ("survivor_id", "merged_id", "identifiers", "event_id")
    SURVIVOR_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    survivor_id: str
    merged_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    event_id: str
    def __init__(self, survivor_id: _Optional[str] = ..., merged_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., event_id: _Optional[str] = ...) -> None: ...

class SubjectForgotten(_message.Message):
    __slots__ = ("person_id", "keys_destroyed", "requested_by")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    keys_destroyed: int
    requested_by: str
    def __init__(self, person_id: _Optional[str] = ..., keys_destroyed: _Optional[int] = ..., requested_by: _Optional[str] = ...) -> None: ...

class MergeBlocked(_message.Message):
    __slots__ = ("person_id", "other_person_id", "rule", "event_id")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    other_person_id: str
    rule: str
    event_id: str
    def __init__(self, person_id: _Optional[str] = ..., other_person_id: _Optional[str] = ..., rule: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...
