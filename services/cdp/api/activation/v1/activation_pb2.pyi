from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Destination(_message.Message):
    __slots__ = ("destination_id", "name", "type", "url", "purpose", "audience_ids")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    name: str
    type: str
    url: str
    purpose: str
    audience_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, destination_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., url: _Optional[str] = ..., purpose: _Optional[str] = ..., audience_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateDestinationRequest(_message.Message):
    __slots__ = ("name", "type", "url", "purpose", "audience_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    url: str
    purpose: str
    audience_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., url: _Optional[str] = ..., purpose: _Optional[str] = ..., audience_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class ListDestinationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDestinationsResponse(_message.Message):
    __slots__ = ("destinations",)
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    destinations: _containers.RepeatedCompositeFieldContainer[Destination]
    def __init__(self, destinations: _Optional[_Iterable[_Union[Destination, _Mapping]]] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("destination_id", "limit")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    limit: int
    def __init__(self, destination_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("delivery_id", "destination_id", "audience_id", "person_id", "action", "status", "attempts", "last_error", "decision_id", "withheld")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    destination_id: str
    audience_id: str
    person_id: str
    action: str
    status: str
    attempts: int
    last_error: str
    decision_id: str
    withheld: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, delivery_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., action: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., decision_id: _Optional[str] = ..., withheld: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class DestinationCreated(_message.Message):
    __slots__ = ("destination", "created_at")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    created_at: str
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ..., created_at: _Optional[str] = ...) -> None: ...

class DeliveryScheduled(_message.Message):
    __slots__ = ("delivery_id", "destination_id", "audience_id", "person_id", "action", "payload", "decision_id", "withheld", "scheduled_at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    destination_id: str
    audience_id: str
    person_id: str
    action: str
    payload: str
    decision_id: str
    withheld: _containers.RepeatedScalarFieldContainer[str]
    scheduled_at: str
    def __init__(self, delivery_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., action: _Optional[str] = ..., payload: _Optional[str] = ..., decision_id: _Optional[str] = ..., withheld: _Optional[_Iterable[str]] = ..., scheduled_at: _Optional[str] = ...) -> None: ...

class DeliveryAttempted(_message.Message):
    __slots__ = ("delivery_id", "attempt", "ok", "http_status", "error", "at", "latency_ms")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    attempt: int
    ok: bool
    http_status: int
    error: str
    at: str
    latency_ms: float
    def __init__(self, delivery_id: _Optional[str] = ..., attempt: _Optional[int] = ..., ok: _Optional[bool] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., at: _Optional[str] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class DeliveryDeadLettered(_message.Message):
    __slots__ = ("delivery_id", "attempts", "last_error", "at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    attempts: int
    last_error: str
    at: str
    def __init__(self, delivery_id: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...
