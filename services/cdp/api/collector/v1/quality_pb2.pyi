from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListViolationsRequest(_message.Message):
    __slots__ = ("source_name", "since", "until", "examples")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    since: str
    until: str
    examples: int
    def __init__(self, source_name: _Optional[str] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., examples: _Optional[int] = ...) -> None: ...

class HourCount(_message.Message):
    __slots__ = ("hour", "count")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    hour: str
    count: int
    def __init__(self, hour: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ViolationExample(_message.Message):
    __slots__ = ("event_id", "at", "value", "fields")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    at: str
    value: str
    fields: str
    def __init__(self, event_id: _Optional[str] = ..., at: _Optional[str] = ..., value: _Optional[str] = ..., fields: _Optional[str] = ...) -> None: ...

class ViolationKind(_message.Message):
    __slots__ = ("source_id", "source_name", "event_type", "event", "field", "rule", "outcome", "plan_name", "plan_version", "count", "hours", "first_seen", "examples")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    source_name: str
    event_type: str
    event: str
    field: str
    rule: str
    outcome: str
    plan_name: str
    plan_version: int
    count: int
    hours: _containers.RepeatedCompositeFieldContainer[HourCount]
    first_seen: str
    examples: _containers.RepeatedCompositeFieldContainer[ViolationExample]
    def __init__(self, source_id: _Optional[str] = ..., source_name: _Optional[str] = ..., event_type: _Optional[str] = ..., event: _Optional[str] = ..., field: _Optional[str] = ..., rule: _Optional[str] = ..., outcome: _Optional[str] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., count: _Optional[int] = ..., hours: _Optional[_Iterable[_Union[HourCount, _Mapping]]] = ..., first_seen: _Optional[str] = ..., examples: _Optional[_Iterable[_Union[ViolationExample, _Mapping]]] = ...) -> None: ...

class ListViolationsResponse(_message.Message):
    __slots__ = ("kinds", "since", "until")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedCompositeFieldContainer[ViolationKind]
    since: str
    until: str
    def __init__(self, kinds: _Optional[_Iterable[_Union[ViolationKind, _Mapping]]] = ..., since: _Optional[str] = ..., until: _Optional[str] = ...) -> None: ...

class GetCatalogRequest(_message.Message):
    __slots__ = ("source_name",)
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    def __init__(self, source_name: _Optional[str] = ...) -> None: ...

class CatalogField(_message.Message):
    __slots__ = ("scope", "name", "volume", "first_seen", "last_seen", "types", "documented", "description", "classification", "personal", "sensitive", "sealed")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    volume: int
    first_seen: str
    last_seen: str
    types: _containers.RepeatedScalarFieldContainer[str]
    documented: bool
    description: str
    classification: str
    personal: bool
    sensitive: bool
    sealed: int
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., volume: _Optional[int] = ..., first_seen: _Optional[str] = ..., last_seen: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., documented: _Optional[bool] = ..., description: _Optional[str] = ..., classification: _Optional[str] = ..., personal: _Optional[bool] = ..., sensitive: _Optional[bool] = ..., sealed: _Optional[int] = ...) -> None: ...

class CatalogEvent(_message.Message):
    __slots__ = ("source_id", "source_name", "event_type", "event", "volume", "first_seen", "last_seen", "documented", "description", "plan_name", "plan_version", "fields")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    source_name: str
    event_type: str
    event: str
    volume: int
    first_seen: str
    last_seen: str
    documented: bool
    description: str
    plan_name: str
    plan_version: int
    fields: _containers.RepeatedCompositeFieldContainer[CatalogField]
    def __init__(self, source_id: _Optional[str] = ..., source_name: _Optional[str] = ..., event_type: _Optional[str] = ..., event: _Optional[str] = ..., volume: _Optional[int] = ..., first_seen: _Optional[str] = ..., last_seen: _Optional[str] = ..., documented: _Optional[bool] = ..., description: _Optional[str] = ..., plan_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., fields: _Optional[_Iterable[_Union[CatalogField, _Mapping]]] = ...) -> None: ...

class GetCatalogResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[CatalogEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[CatalogEvent, _Mapping]]] = ...) -> None: ...

class ListAnomaliesRequest(_message.Message):
    __slots__ = ("source_name", "since", "until")
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    source_name: str
    since: str
    until: str
    def __init__(self, source_name: _Optional[str] = ..., since: _Optional[str] = ..., until: _Optional[str] = ...) -> None: ...

class Anomaly(_message.Message):
    __slots__ = ("detected", "source_name")
    DETECTED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NAME_FIELD_NUMBER: _ClassVar[int]
    detected: VolumeAnomalyDetected
    source_name: str
    def __init__(self, detected: _Optional[_Union[VolumeAnomalyDetected, _Mapping]] = ..., source_name: _Optional[str] = ...) -> None: ...

class ListAnomaliesResponse(_message.Message):
    __slots__ = ("anomalies",)
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    def __init__(self, anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ...) -> None: ...

class VolumeAnomalyDetected(_message.Message):
    __slots__ = ("source_id", "event_type", "event", "hour", "observed", "baseline", "low", "high", "kind", "days", "detected_at")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    event_type: str
    event: str
    hour: str
    observed: int
    baseline: float
    low: float
    high: float
    kind: str
    days: int
    detected_at: str
    def __init__(self, source_id: _Optional[str] = ..., event_type: _Optional[str] = ..., event: _Optional[str] = ..., hour: _Optional[str] = ..., observed: _Optional[int] = ..., baseline: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., kind: _Optional[str] = ..., days: _Optional[int] = ..., detected_at: _Optional[str] = ...) -> None: ...
