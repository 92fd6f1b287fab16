from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Identifier(_message.Message):
    __slots__ = ("type", "value", "subject")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    subject: str
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class ForgetRequest(_message.Message):
    __slots__ = ("identifier", "person_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    person_id: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., person_id: _Optional[str] = ...) -> None: ...

class ForgetResponse(_message.Message):
    __slots__ = ("person_id", "keys_destroyed", "identifiers", "suppressed")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    keys_destroyed: int
    identifiers: int
    suppressed: int
    def __init__(self, person_id: _Optional[str] = ..., keys_destroyed: _Optional[int] = ..., identifiers: _Optional[int] = ..., suppressed: _Optional[int] = ...) -> None: ...

class LiftSuppressionRequest(_message.Message):
    __slots__ = ("identifier", "reason")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    reason: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class LiftSuppressionResponse(_message.Message):
    __slots__ = ("lifted",)
    LIFTED_FIELD_NUMBER: _ClassVar[int]
    lifted: bool
    def __init__(self, lifted: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("person_id", "identifiers", "merged_person_ids", "probabilistic", "protected")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    MERGED_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    PROBABILISTIC_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    merged_person_ids: _containers.RepeatedScalarFieldContainer[str]
    probabilistic: bool
    protected: bool
    def __init__(self, person_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., merged_person_ids: _Optional[_Iterable[str]] = ..., probabilistic: _Optional[bool] = ..., protected: _Optional[bool] = ...) -> None: ...

class GetPersonResponse(_message.Message):
    __slots__ = ("person",)
    PERSON_FIELD_NUMBER: _ClassVar[int]
    person: Person
    def __init__(self, person: _Optional[_Union[Person, _Mapping]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("edge_id", "a", "b", "event_id", "rule", "rule_version", "score", "active", "decision_id", "reason", "retracted", "at", "weights", "held")
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRACTED_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    a: Identifier
    b: Identifier
    event_id: str
    rule: str
    rule_version: str
    score: float
    active: bool
    decision_id: str
    reason: str
    retracted: bool
    at: str
    weights: _containers.RepeatedCompositeFieldContainer[FieldWeight]
    held: bool
    def __init__(self, edge_id: _Optional[str] = ..., a: _Optional[_Union[Identifier, _Mapping]] = ..., b: _Optional[_Union[Identifier, _Mapping]] = ..., event_id: _Optional[str] = ..., rule: _Optional[str] = ..., rule_version: _Optional[str] = ..., score: _Optional[float] = ..., active: _Optional[bool] = ..., decision_id: _Optional[str] = ..., reason: _Optional[str] = ..., retracted: _Optional[bool] = ..., at: _Optional[str] = ..., weights: _Optional[_Iterable[_Union[FieldWeight, _Mapping]]] = ..., held: _Optional[bool] = ...) -> None: ...

class FieldWeight(_message.Message):
    __slots__ = ("field", "level", "weight")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    field: str
    level: str
    weight: float
    def __init__(self, field: _Optional[str] = ..., level: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("a", "b", "person_id")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    a: Identifier
    b: Identifier
    person_id: str
    def __init__(self, a: _Optional[_Union[Identifier, _Mapping]] = ..., b: _Optional[_Union[Identifier, _Mapping]] = ..., person_id: _Optional[str] = ...) -> None: ...

class ExplainResponse(_message.Message):
    __slots__ = ("person_a", "person_b", "same_person", "path", "refused")
    PERSON_A_FIELD_NUMBER: _ClassVar[int]
    PERSON_B_FIELD_NUMBER: _ClassVar[int]
    SAME_PERSON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    person_a: str
    person_b: str
    same_person: bool
    path: _containers.RepeatedCompositeFieldContainer[Evidence]
    refused: _containers.RepeatedCompositeFieldContainer[Evidence]
    def __init__(self, person_a: _Optional[str] = ..., person_b: _Optional[str] = ..., same_person: _Optional[bool] = ..., path: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., refused: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("at", "kind", "person_id", "other_person_ids", "edge_id", "event_id", "decision_id", "reason", "actor")
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    at: str
    kind: str
    person_id: str
    other_person_ids: _containers.RepeatedScalarFieldContainer[str]
    edge_id: str
    event_id: str
    decision_id: str
    reason: str
    actor: str
    def __init__(self, at: _Optional[str] = ..., kind: _Optional[str] = ..., person_id: _Optional[str] = ..., other_person_ids: _Optional[_Iterable[str]] = ..., edge_id: _Optional[str] = ..., event_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("person_id", "identifier")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifier: Identifier
    def __init__(self, person_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ...) -> None: ...

class RetractRequest(_message.Message):
    __slots__ = ("event_id", "identifier", "edge_id", "reason", "basis")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    identifier: Identifier
    edge_id: str
    reason: str
    basis: str
    def __init__(self, event_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ..., edge_id: _Optional[str] = ..., reason: _Optional[str] = ..., basis: _Optional[str] = ...) -> None: ...

class RetractResponse(_message.Message):
    __slots__ = ("retracted", "splits")
    RETRACTED_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    retracted: int
    splits: _containers.RepeatedCompositeFieldContainer[PersonSplit]
    def __init__(self, retracted: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[PersonSplit, _Mapping]]] = ...) -> None: ...

class SplitRequest(_message.Message):
    __slots__ = ("person_id", "identifiers", "reason")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    reason: str
    def __init__(self, person_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class SplitResponse(_message.Message):
    __slots__ = ("splits",)
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    splits: _containers.RepeatedCompositeFieldContainer[PersonSplit]
    def __init__(self, splits: _Optional[_Iterable[_Union[PersonSplit, _Mapping]]] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("review_id", "evidence", "person_a", "person_b", "band", "requested_at")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PERSON_A_FIELD_NUMBER: _ClassVar[int]
    PERSON_B_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    evidence: Evidence
    person_a: str
    person_b: str
    band: str
    requested_at: str
    def __init__(self, review_id: _Optional[str] = ..., evidence: _Optional[_Union[Evidence, _Mapping]] = ..., person_a: _Optional[str] = ..., person_b: _Optional[str] = ..., band: _Optional[str] = ..., requested_at: _Optional[str] = ...) -> None: ...

class ListReviewsRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListReviewsResponse(_message.Message):
    __slots__ = ("reviews",)
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    def __init__(self, reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ...) -> None: ...

class DecideReviewRequest(_message.Message):
    __slots__ = ("review_id", "approve", "reason")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    approve: bool
    reason: str
    def __init__(self, review_id: _Optional[str] = ..., approve: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class DecideReviewResponse(_message.Message):
    __slots__ = ("decision_id", "merges")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    MERGES_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    merges: _containers.RepeatedCompositeFieldContainer[PersonsMerged]
    def __init__(self, decision_id: _Optional[str] = ..., merges: _Optional[_Iterable[_Union[PersonsMerged, _Mapping]]] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("max_pairs",)
    MAX_PAIRS_FIELD_NUMBER: _ClassVar[int]
    max_pairs: int
    def __init__(self, max_pairs: _Optional[int] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("model_version", "records", "candidate_pairs", "links", "reviews", "summary")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PAIRS_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    records: int
    candidate_pairs: int
    links: int
    reviews: int
    summary: str
    def __init__(self, model_version: _Optional[str] = ..., records: _Optional[int] = ..., candidate_pairs: _Optional[int] = ..., links: _Optional[int] = ..., reviews: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...

class ListIdentifiersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "clear_values", "purpose")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLEAR_VALUES_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    clear_values: bool
    purpose: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., clear_values: _Optional[bool] = ..., purpose: _Optional[str] = ...) -> None: ...

class IdentifierRow(_message.Message):
    __slots__ = ("identifier", "person_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    person_id: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., person_id: _Optional[str] = ...) -> None: ...

class ListIdentifiersResponse(_message.Message):
    __slots__ = ("rows", "next_page_token")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IdentifierRow]
    next_page_token: str
    def __init__(self, rows: _Optional[_Iterable[_Union[IdentifierRow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class IdentifierSeen(_message.Message):
    __slots__ = ("identifier", "event_id", "person_id", "sealed")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    event_id: str
    person_id: str
    sealed: str
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., event_id: _Optional[str] = ..., person_id: _Optional[str] = ..., sealed: _Optional[str] = ...) -> None: ...

class CallEvidenced(_message.Message):
    __slots__ = ("event_id", "seen", "links", "reviews")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEEN_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    seen: _containers.RepeatedCompositeFieldContainer[IdentifierSeen]
    links: _containers.RepeatedCompositeFieldContainer[Evidence]
    reviews: _containers.RepeatedCompositeFieldContainer[ReviewRequested]
    def __init__(self, event_id: _Optional[str] = ..., seen: _Optional[_Iterable[_Union[IdentifierSeen, _Mapping]]] = ..., links: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., reviews: _Optional[_Iterable[_Union[ReviewRequested, _Mapping]]] = ...) -> None: ...

class LinkEvidenced(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: Evidence
    def __init__(self, evidence: _Optional[_Union[Evidence, _Mapping]] = ...) -> None: ...

class LinkRedecided(_message.Message):
    __slots__ = ("edge_id", "active", "decision_id", "reason", "actor", "at")
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    active: bool
    decision_id: str
    reason: str
    actor: str
    at: str
    def __init__(self, edge_id: _Optional[str] = ..., active: _Optional[bool] = ..., decision_id: _Optional[str] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class LinkRetracted(_message.Message):
    __slots__ = ("edge_id", "reason", "basis", "actor", "at")
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    reason: str
    basis: str
    actor: str
    at: str
    def __init__(self, edge_id: _Optional[str] = ..., reason: _Optional[str] = ..., basis: _Optional[str] = ..., actor: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class RulesApplied(_message.Message):
    __slots__ = ("revision", "changed", "at")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    revision: str
    changed: int
    at: str
    def __init__(self, revision: _Optional[str] = ..., changed: _Optional[int] = ..., at: _Optional[str] = ...) -> None: ...

class PersonsMerged(_message.Message):
    __slots__ = ("survivor_id", "merged_id", "identifiers", "event_id", "edge_id", "decision_id")
    SURVIVOR_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    survivor_id: str
    merged_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    event_id: str
    edge_id: str
    decision_id: str
    def __init__(self, survivor_id: _Optional[str] = ..., merged_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., event_id: _Optional[str] = ..., edge_id: _Optional[str] = ..., decision_id: _Optional[str] = ...) -> None: ...

class PersonPart(_message.Message):
    __slots__ = ("person_id", "identifiers")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    def __init__(self, person_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ...) -> None: ...

class PersonSplit(_message.Message):
    __slots__ = ("person_id", "parts", "reason", "edge_id", "actor")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    parts: _containers.RepeatedCompositeFieldContainer[PersonPart]
    reason: str
    edge_id: str
    actor: str
    def __init__(self, person_id: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[PersonPart, _Mapping]]] = ..., reason: _Optional[str] = ..., edge_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ReviewRequested(_message.Message):
    __slots__ = ("review_id", "edge_id", "band")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    edge_id: str
    band: str
    def __init__(self, review_id: _Optional[str] = ..., edge_id: _Optional[str] = ..., band: _Optional[str] = ...) -> None: ...

class ReviewDecided(_message.Message):
    __slots__ = ("review_id", "approved", "decision_id", "actor", "reason", "at")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    approved: bool
    decision_id: str
    actor: str
    reason: str
    at: str
    def __init__(self, review_id: _Optional[str] = ..., approved: _Optional[bool] = ..., decision_id: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class ModelTrained(_message.Message):
    __slots__ = ("model_version", "model", "records", "trained_at", "actor")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    model: str
    records: int
    trained_at: str
    actor: str
    def __init__(self, model_version: _Optional[str] = ..., model: _Optional[str] = ..., records: _Optional[int] = ..., trained_at: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class SubjectForgotten(_message.Message):
    __slots__ = ("person_id", "keys_destroyed", "requested_by")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_DESTROYED_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    keys_destroyed: int
    requested_by: str
    def __init__(self, person_id: _Optional[str] = ..., keys_destroyed: _Optional[int] = ..., requested_by: _Optional[str] = ...) -> None: ...

class IdentifiersSuppressed(_message.Message):
    __slots__ = ("keys", "person_id", "requested_by")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    person_id: str
    requested_by: str
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., person_id: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class SuppressionLifted(_message.Message):
    __slots__ = ("key", "requested_by", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: str
    requested_by: str
    reason: str
    def __init__(self, key: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
