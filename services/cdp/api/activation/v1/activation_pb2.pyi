from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Destination(_message.Message):
    __slots__ = ("destination_id", "name", "type", "url", "purpose", "audience_ids", "config", "purposes", "retry_window_s", "max_backoff_s", "concurrency", "rate_per_s", "version", "status", "secret_fields", "disabled_reason", "config_json", "consent_categories")
    class ConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    RETRY_WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_S_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_S_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELDS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    name: str
    type: str
    url: str
    purpose: str
    audience_ids: _containers.RepeatedScalarFieldContainer[str]
    config: _containers.ScalarMap[str, str]
    purposes: _containers.RepeatedScalarFieldContainer[str]
    retry_window_s: float
    max_backoff_s: float
    concurrency: int
    rate_per_s: float
    version: int
    status: str
    secret_fields: _containers.RepeatedScalarFieldContainer[str]
    disabled_reason: str
    config_json: str
    consent_categories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, destination_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[str] = ..., url: _Optional[str] = ..., purpose: _Optional[str] = ..., audience_ids: _Optional[_Iterable[str]] = ..., config: _Optional[_Mapping[str, str]] = ..., purposes: _Optional[_Iterable[str]] = ..., retry_window_s: _Optional[float] = ..., max_backoff_s: _Optional[float] = ..., concurrency: _Optional[int] = ..., rate_per_s: _Optional[float] = ..., version: _Optional[int] = ..., status: _Optional[str] = ..., secret_fields: _Optional[_Iterable[str]] = ..., disabled_reason: _Optional[str] = ..., config_json: _Optional[str] = ..., consent_categories: _Optional[_Iterable[str]] = ...) -> None: ...

class DestinationSettings(_message.Message):
    __slots__ = ("config", "purposes", "retry_window_s", "max_backoff_s", "concurrency", "rate_per_s", "secrets", "config_json", "consent_categories")
    class ConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    RETRY_WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_S_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_S_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    config: _containers.ScalarMap[str, str]
    purposes: _containers.RepeatedScalarFieldContainer[str]
    retry_window_s: float
    max_backoff_s: float
    concurrency: int
    rate_per_s: float
    secrets: _containers.ScalarMap[str, str]
    config_json: str
    consent_categories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, config: _Optional[_Mapping[str, str]] = ..., purposes: _Optional[_Iterable[str]] = ..., retry_window_s: _Optional[float] = ..., max_backoff_s: _Optional[float] = ..., concurrency: _Optional[int] = ..., rate_per_s: _Optional[float] = ..., secrets: _Optional[_Mapping[str, str]] = ..., config_json: _Optional[str] = ..., consent_categories: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateDestinationRequest(_message.Message):
    __slots__ = ("name", "type", "url", "purpose", "audience_ids", "settings")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    url: str
    purpose: str
    audience_ids: _containers.RepeatedScalarFieldContainer[str]
    settings: DestinationSettings
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., url: _Optional[str] = ..., purpose: _Optional[str] = ..., audience_ids: _Optional[_Iterable[str]] = ..., settings: _Optional[_Union[DestinationSettings, _Mapping]] = ...) -> None: ...

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

class GetDestinationRequest(_message.Message):
    __slots__ = ("destination_id",)
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    def __init__(self, destination_id: _Optional[str] = ...) -> None: ...

class GetDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class UpdateDestinationRequest(_message.Message):
    __slots__ = ("destination_id", "name", "url", "settings")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    name: str
    url: str
    settings: DestinationSettings
    def __init__(self, destination_id: _Optional[str] = ..., name: _Optional[str] = ..., url: _Optional[str] = ..., settings: _Optional[_Union[DestinationSettings, _Mapping]] = ...) -> None: ...

class UpdateDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class PauseDestinationRequest(_message.Message):
    __slots__ = ("destination_id",)
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    def __init__(self, destination_id: _Optional[str] = ...) -> None: ...

class PauseDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class ResumeDestinationRequest(_message.Message):
    __slots__ = ("destination_id",)
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    def __init__(self, destination_id: _Optional[str] = ...) -> None: ...

class ResumeDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class DeleteDestinationRequest(_message.Message):
    __slots__ = ("destination_id",)
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    def __init__(self, destination_id: _Optional[str] = ...) -> None: ...

class DeleteDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("destination_id", "limit", "person_id", "status", "sync_id")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    limit: int
    person_id: str
    status: str
    sync_id: str
    def __init__(self, destination_id: _Optional[str] = ..., limit: _Optional[int] = ..., person_id: _Optional[str] = ..., status: _Optional[str] = ..., sync_id: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("attempt", "ok", "http_status", "error", "at", "latency_ms", "series")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    ok: bool
    http_status: int
    error: str
    at: str
    latency_ms: float
    series: int
    def __init__(self, attempt: _Optional[int] = ..., ok: _Optional[bool] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., at: _Optional[str] = ..., latency_ms: _Optional[float] = ..., series: _Optional[int] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("delivery_id", "destination_id", "audience_id", "person_id", "action", "status", "attempts", "last_error", "decision_id", "withheld", "sync_id", "attempt_list", "scheduled_at")
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
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_LIST_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
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
    sync_id: str
    attempt_list: _containers.RepeatedCompositeFieldContainer[Attempt]
    scheduled_at: str
    def __init__(self, delivery_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., action: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., decision_id: _Optional[str] = ..., withheld: _Optional[_Iterable[str]] = ..., sync_id: _Optional[str] = ..., attempt_list: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., scheduled_at: _Optional[str] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("destination_id", "limit")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    limit: int
    def __init__(self, destination_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class ReplayDeliveriesRequest(_message.Message):
    __slots__ = ("destination_id", "delivery_ids")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, destination_id: _Optional[str] = ..., delivery_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplayDeliveriesResponse(_message.Message):
    __slots__ = ("delivery_ids",)
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FieldMapping(_message.Message):
    __slots__ = ("trait", "to")
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    trait: str
    to: str
    def __init__(self, trait: _Optional[str] = ..., to: _Optional[str] = ...) -> None: ...

class Mapping(_message.Message):
    __slots__ = ("fields", "constants")
    class ConstantsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CONSTANTS_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[FieldMapping]
    constants: _containers.ScalarMap[str, str]
    def __init__(self, fields: _Optional[_Iterable[_Union[FieldMapping, _Mapping]]] = ..., constants: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Sync(_message.Message):
    __slots__ = ("sync_id", "destination_id", "audience_id", "mode", "mapping", "version", "status", "created_at", "author", "approval", "requires_approval", "approval_decision_id", "approved_by", "approval_reason", "fingerprint")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REASON_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    destination_id: str
    audience_id: str
    mode: str
    mapping: Mapping
    version: int
    status: str
    created_at: str
    author: str
    approval: str
    requires_approval: bool
    approval_decision_id: str
    approved_by: str
    approval_reason: str
    fingerprint: str
    def __init__(self, sync_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., mode: _Optional[str] = ..., mapping: _Optional[_Union[Mapping, _Mapping]] = ..., version: _Optional[int] = ..., status: _Optional[str] = ..., created_at: _Optional[str] = ..., author: _Optional[str] = ..., approval: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., approval_decision_id: _Optional[str] = ..., approved_by: _Optional[str] = ..., approval_reason: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class CreateSyncRequest(_message.Message):
    __slots__ = ("destination_id", "audience_id", "mode", "mapping")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    audience_id: str
    mode: str
    mapping: Mapping
    def __init__(self, destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., mode: _Optional[str] = ..., mapping: _Optional[_Union[Mapping, _Mapping]] = ...) -> None: ...

class CreateSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class ListSyncsRequest(_message.Message):
    __slots__ = ("destination_id",)
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    def __init__(self, destination_id: _Optional[str] = ...) -> None: ...

class ListSyncsResponse(_message.Message):
    __slots__ = ("syncs",)
    SYNCS_FIELD_NUMBER: _ClassVar[int]
    syncs: _containers.RepeatedCompositeFieldContainer[Sync]
    def __init__(self, syncs: _Optional[_Iterable[_Union[Sync, _Mapping]]] = ...) -> None: ...

class GetSyncRequest(_message.Message):
    __slots__ = ("sync_id",)
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    def __init__(self, sync_id: _Optional[str] = ...) -> None: ...

class GetSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class UpdateSyncRequest(_message.Message):
    __slots__ = ("sync_id", "mode", "mapping")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    mode: str
    mapping: Mapping
    def __init__(self, sync_id: _Optional[str] = ..., mode: _Optional[str] = ..., mapping: _Optional[_Union[Mapping, _Mapping]] = ...) -> None: ...

class UpdateSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class PauseSyncRequest(_message.Message):
    __slots__ = ("sync_id",)
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    def __init__(self, sync_id: _Optional[str] = ...) -> None: ...

class PauseSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class ResumeSyncRequest(_message.Message):
    __slots__ = ("sync_id",)
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    def __init__(self, sync_id: _Optional[str] = ...) -> None: ...

class ResumeSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class DeleteSyncRequest(_message.Message):
    __slots__ = ("sync_id",)
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    def __init__(self, sync_id: _Optional[str] = ...) -> None: ...

class DeleteSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class ApproveSyncRequest(_message.Message):
    __slots__ = ("sync_id", "fingerprint")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    fingerprint: str
    def __init__(self, sync_id: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class ApproveSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class RejectSyncRequest(_message.Message):
    __slots__ = ("sync_id", "reason", "fingerprint")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    reason: str
    fingerprint: str
    def __init__(self, sync_id: _Optional[str] = ..., reason: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class RejectSyncResponse(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class ListPendingSyncsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPendingSyncsResponse(_message.Message):
    __slots__ = ("syncs",)
    SYNCS_FIELD_NUMBER: _ClassVar[int]
    syncs: _containers.RepeatedCompositeFieldContainer[Sync]
    def __init__(self, syncs: _Optional[_Iterable[_Union[Sync, _Mapping]]] = ...) -> None: ...

class MembershipRef(_message.Message):
    __slots__ = ("entered", "audience_version", "cause", "cause_event_id", "at", "ref")
    ENTERED_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    entered: bool
    audience_version: int
    cause: str
    cause_event_id: str
    at: str
    ref: str
    def __init__(self, entered: _Optional[bool] = ..., audience_version: _Optional[int] = ..., cause: _Optional[str] = ..., cause_event_id: _Optional[str] = ..., at: _Optional[str] = ..., ref: _Optional[str] = ...) -> None: ...

class ConsentUsed(_message.Message):
    __slots__ = ("category", "granted", "name", "event_id", "at", "source")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    category: str
    granted: bool
    name: str
    event_id: str
    at: str
    source: str
    def __init__(self, category: _Optional[str] = ..., granted: _Optional[bool] = ..., name: _Optional[str] = ..., event_id: _Optional[str] = ..., at: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class SentField(_message.Message):
    __slots__ = ("trait", "name")
    TRAIT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    trait: str
    name: str
    def __init__(self, trait: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ExplainDeliveryRequest(_message.Message):
    __slots__ = ("delivery_id",)
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    def __init__(self, delivery_id: _Optional[str] = ...) -> None: ...

class ExplainDeliveryResponse(_message.Message):
    __slots__ = ("delivery", "destination", "sync", "recorded", "cause", "sync_version", "audience_version", "membership", "consent", "approval", "sent", "constants")
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SYNC_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    SYNC_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    SENT_FIELD_NUMBER: _ClassVar[int]
    CONSTANTS_FIELD_NUMBER: _ClassVar[int]
    delivery: Delivery
    destination: Destination
    sync: Sync
    recorded: bool
    cause: str
    sync_version: int
    audience_version: int
    membership: MembershipRef
    consent: _containers.RepeatedCompositeFieldContainer[ConsentUsed]
    approval: SyncApprovalChanged
    sent: _containers.RepeatedCompositeFieldContainer[SentField]
    constants: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, delivery: _Optional[_Union[Delivery, _Mapping]] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., sync: _Optional[_Union[Sync, _Mapping]] = ..., recorded: _Optional[bool] = ..., cause: _Optional[str] = ..., sync_version: _Optional[int] = ..., audience_version: _Optional[int] = ..., membership: _Optional[_Union[MembershipRef, _Mapping]] = ..., consent: _Optional[_Iterable[_Union[ConsentUsed, _Mapping]]] = ..., approval: _Optional[_Union[SyncApprovalChanged, _Mapping]] = ..., sent: _Optional[_Iterable[_Union[SentField, _Mapping]]] = ..., constants: _Optional[_Iterable[str]] = ...) -> None: ...

class DestinationCreated(_message.Message):
    __slots__ = ("destination", "created_at", "sealed_secrets")
    class SealedSecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SEALED_SECRETS_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    created_at: str
    sealed_secrets: _containers.ScalarMap[str, str]
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ..., created_at: _Optional[str] = ..., sealed_secrets: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DestinationUpdated(_message.Message):
    __slots__ = ("destination", "updated_at", "sealed_secrets")
    class SealedSecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SEALED_SECRETS_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    updated_at: str
    sealed_secrets: _containers.ScalarMap[str, str]
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ..., updated_at: _Optional[str] = ..., sealed_secrets: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DestinationPaused(_message.Message):
    __slots__ = ("destination_id", "at")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    at: str
    def __init__(self, destination_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class DestinationResumed(_message.Message):
    __slots__ = ("destination_id", "at")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    at: str
    def __init__(self, destination_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class DestinationDisabled(_message.Message):
    __slots__ = ("destination_id", "reason", "delivery_id", "at")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    reason: str
    delivery_id: str
    at: str
    def __init__(self, destination_id: _Optional[str] = ..., reason: _Optional[str] = ..., delivery_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class DestinationDeleted(_message.Message):
    __slots__ = ("destination_id", "at")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    at: str
    def __init__(self, destination_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class SyncCreated(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class SyncUpdated(_message.Message):
    __slots__ = ("sync",)
    SYNC_FIELD_NUMBER: _ClassVar[int]
    sync: Sync
    def __init__(self, sync: _Optional[_Union[Sync, _Mapping]] = ...) -> None: ...

class SyncApprovalChanged(_message.Message):
    __slots__ = ("sync_id", "status", "decision_id", "by", "fingerprint", "requires_approval", "reason", "at", "action", "audience_version")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    status: str
    decision_id: str
    by: str
    fingerprint: str
    requires_approval: bool
    reason: str
    at: str
    action: str
    audience_version: int
    def __init__(self, sync_id: _Optional[str] = ..., status: _Optional[str] = ..., decision_id: _Optional[str] = ..., by: _Optional[str] = ..., fingerprint: _Optional[str] = ..., requires_approval: _Optional[bool] = ..., reason: _Optional[str] = ..., at: _Optional[str] = ..., action: _Optional[str] = ..., audience_version: _Optional[int] = ...) -> None: ...

class SyncPaused(_message.Message):
    __slots__ = ("sync_id", "at")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    at: str
    def __init__(self, sync_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class SyncResumed(_message.Message):
    __slots__ = ("sync_id", "at")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    at: str
    def __init__(self, sync_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class SyncDeleted(_message.Message):
    __slots__ = ("sync_id", "at")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    at: str
    def __init__(self, sync_id: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class DeliveryScheduled(_message.Message):
    __slots__ = ("delivery_id", "destination_id", "audience_id", "person_id", "action", "payload", "decision_id", "withheld", "scheduled_at", "sync_id", "fingerprint", "cause", "sync_version", "audience_version", "membership", "consent", "approval_decision_id")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    SYNC_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    destination_id: str
    audience_id: str
    person_id: str
    action: str
    payload: str
    decision_id: str
    withheld: _containers.RepeatedScalarFieldContainer[str]
    scheduled_at: str
    sync_id: str
    fingerprint: str
    cause: str
    sync_version: int
    audience_version: int
    membership: MembershipRef
    consent: _containers.RepeatedCompositeFieldContainer[ConsentUsed]
    approval_decision_id: str
    def __init__(self, delivery_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., audience_id: _Optional[str] = ..., person_id: _Optional[str] = ..., action: _Optional[str] = ..., payload: _Optional[str] = ..., decision_id: _Optional[str] = ..., withheld: _Optional[_Iterable[str]] = ..., scheduled_at: _Optional[str] = ..., sync_id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., cause: _Optional[str] = ..., sync_version: _Optional[int] = ..., audience_version: _Optional[int] = ..., membership: _Optional[_Union[MembershipRef, _Mapping]] = ..., consent: _Optional[_Iterable[_Union[ConsentUsed, _Mapping]]] = ..., approval_decision_id: _Optional[str] = ...) -> None: ...

class DeliveryAttempted(_message.Message):
    __slots__ = ("delivery_id", "attempt", "ok", "http_status", "error", "at", "latency_ms", "retryable", "retry_after_s", "next_attempt_at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    attempt: int
    ok: bool
    http_status: int
    error: str
    at: str
    latency_ms: float
    retryable: bool
    retry_after_s: float
    next_attempt_at: str
    def __init__(self, delivery_id: _Optional[str] = ..., attempt: _Optional[int] = ..., ok: _Optional[bool] = ..., http_status: _Optional[int] = ..., error: _Optional[str] = ..., at: _Optional[str] = ..., latency_ms: _Optional[float] = ..., retryable: _Optional[bool] = ..., retry_after_s: _Optional[float] = ..., next_attempt_at: _Optional[str] = ...) -> None: ...

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

class DeliveryReplayed(_message.Message):
    __slots__ = ("delivery_id", "by", "at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    by: str
    at: str
    def __init__(self, delivery_id: _Optional[str] = ..., by: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...
