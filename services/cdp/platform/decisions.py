"""Recorded, content-addressed policy decisions.

Every data-gating decision goes through a Decider: it evaluates the policy (or
takes the answer from its cache for this revision), and hands back the decision
with its id. The record of a decision the store does not hold yet is queued and
written by the caller in the same transaction as whatever relied on it.

The Decider also keeps the service's chain: its decision records and its access records
(cdp.platform.accesslog: one per read of personal data in clear) are links of one hash chain,
whose head it signs and witnesses.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from eventsourcing.persistence import Notification, StoredEvent

from cdp.api.policy.v1 import decision_pb2
from cdp.platform import metrics
from cdp.platform.clock import format_iso, now_iso
from cdp.platform.heads import SignedHead, ensure_head_key, sign_head
from cdp.platform.ids import NAMESPACE, derived_id
from cdp.platform.policy.canonical import canonical, from_json
from cdp.platform.published import decode, stored
from cdp.platform.store import EventStore
from cdp.platform.witness import behind, read_head, witness_head, witness_path

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cdp.platform.config import ServiceConfig
    from cdp.platform.policy import PolicyEngine

log = logging.getLogger(__name__)

MAX_CACHED = 100_000  # distinct inputs kept per revision; cleared whole when full
MAX_ANSWERS = 10_000  # distinct results kept per revision (a policy answers few); cleared when full
DECISION_TOPIC = decision_pb2.DecisionRecorded.DESCRIPTOR.full_name
ACCESS_TOPIC = decision_pb2.AccessRecorded.DESCRIPTOR.full_name
CHAIN_TOPICS = (DECISION_TOPIC, ACCESS_TOPIC)
ChainRecord = decision_pb2.DecisionRecorded | decision_pb2.AccessRecorded


def decision_id(entrypoint: str, input_json: str, revision: str) -> str:
    return hashlib.sha256(f"{entrypoint}\n{revision}\n{input_json}".encode()).hexdigest()


def record_hash(record: decision_pb2.DecisionRecorded) -> str:
    """The hash of a decision record over its content and the previous record's hash."""
    return _decision_hash(
        record.sequence,
        record.prev_hash,
        record.decision_id,
        record.entrypoint,
        record.input,
        record.result,
        record.revision,
        record.decided_at,
        record.caller,
        record.service,
    )


def _decision_hash(
    sequence: int,
    prev_hash: str,
    decision_id: str,
    entrypoint: str,
    input: str,
    result: str,
    revision: str,
    decided_at: str,
    caller: str,
    service: str,
) -> str:
    """record_hash() of the record with these fields, from the values (reading a protobuf's fields
    back costs more than hashing them)."""
    content = (
        f"{sequence}\n{prev_hash}\n{decision_id}\n{entrypoint}\n{input}\n"
        f"{result}\n{revision}\n{decided_at}\n{caller}\n{service}"
    )
    return hashlib.sha256(content.encode()).hexdigest()


def access_hash(record: decision_pb2.AccessRecorded) -> str:
    """The hash of an access record over its content and the previous record's hash (lists as
    JSON, so no two records share a content)."""
    content = canonical(
        [
            "cdp-access",
            record.sequence,
            record.prev_hash,
            record.access_id,
            record.at,
            record.service,
            record.operation,
            record.caller,
            record.caller_kind,
            list(record.roles),
            record.person_id,
            list(record.fields),
            record.purpose,
            record.decision_id,
            record.reference,
        ]
    )
    return hashlib.sha256(content.encode()).hexdigest()


def chain_hash(record: ChainRecord) -> str:
    """The hash a link of a service's chain must carry, whichever kind of record it is."""
    if isinstance(record, decision_pb2.AccessRecorded):
        return access_hash(record)
    return record_hash(record)


@dataclass(slots=True)  # not frozen: a frozen dataclass takes 4x as long to make, on every miss
class Decision:
    id: str
    entrypoint: str
    result: Any
    counted: Any = field(default=None, compare=False, repr=False)  # its series in cdp_decisions


class _Queued(NamedTuple):
    """A decision to record, as plain values: its protobuf record is built by take_records(), off
    the path that decides."""

    decision: Decision
    input: str
    result: str  # canonical JSON
    decided_at: str
    caller: str


class _Answer(NamedTuple):
    """What the Decider made of a result text the engine wrote: one value for every decision
    answered alike (callers copy what they change, as they do for a cached decision), its
    canonical text for the record, and its series in cdp_decisions."""

    result: Any
    canonical: str
    counted: Any


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def record_id(service: str, sequence: int) -> uuid.UUID:
    """A chain record's originator id, keyed by its place in the chain: 48 bits naming the service,
    then the sequence (a UUIDv8, RFC 9562). A log's records sort in chain order, so each append
    adds to the end of the store's primary-key index; the random uuid5 ids used before put each
    record in a random leaf page of it (about 20 µs a record in SQLite, against 11)."""
    prefix = _RECORD_ID_PREFIXES.get(service)
    if prefix is None:
        digest = hashlib.sha1(NAMESPACE.bytes + f"decision-record\x1f{service}".encode(), usedforsecurity=False)
        prefix = _RECORD_ID_PREFIXES[service] = int.from_bytes(digest.digest()[:6], "big") << 80 | 8 << 76
    if not 0 <= sequence < 1 << 74:
        raise ValueError(f"sequence: {sequence} is outside a chain record id's 74 bits")
    return uuid.UUID(int=prefix | (sequence >> 62) << 64 | 0b10 << 62 | sequence & _LOW_62)


_LOW_62 = (1 << 62) - 1
_RECORD_ID_PREFIXES: dict[str, int] = {}


class Decider:
    def __init__(
        self,
        engine: PolicyEngine,
        store: EventStore,
        service: str,
        sources: dict[str, str],
        witness: Path | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ):
        self.engine = engine
        self.store = store
        self.service = service
        self.revision = engine.revision
        self._cache: dict[tuple[Any, ...], Decision] = {}
        self._answers: dict[tuple[str, str], _Answer] = {}  # (entrypoint, result text) -> its answer
        self._recorded: set[str] = set()
        self._pending: dict[str, _Queued] = {}
        self._counters: dict[tuple[str, str], Any] = {}  # (entrypoint, result label) -> its series
        self._millisecond, self._now = -1, ""  # decided_at, made once per millisecond
        self._second, self._to_second = -1, ""  # its text up to the second, formatted once a second
        self._sequence, self._head = 0, ""  # the chain's last committed record
        # After take_records(), until committed(): the chain's head then, the decisions taken, and
        # how many other records (access records) were chained after them.
        self._taken: tuple[int, str, list[str], int] | None = None
        self._position = 0  # the last chain record read from the store
        for n in store.replay(CHAIN_TOPICS):
            self._read(n)
        self.witness = witness
        self.signing_key = signing_key
        self.signed: SignedHead | None = None  # the newest head signed
        self.on_head: list[Callable[[SignedHead], None]] = []  # told each newly signed head (publishers)
        self._resume_from_witness()
        self.activation = self._activation(sources)

    def _read(self, notification: Notification) -> None:
        # Read from the chain's topics only: a decision record or an access record.
        record = cast(ChainRecord, decode(notification.topic, notification.state))
        if isinstance(record, decision_pb2.DecisionRecorded):
            self._recorded.add(record.decision_id)
        if record.sequence > self._sequence:
            self._sequence, self._head = record.sequence, record.hash
        self._position = notification.id

    def refresh(self) -> None:
        """Take in the records other processes on this store appended since (replicas)."""
        while page := self.store.read(self._position, 1000, CHAIN_TOPICS):
            for n in page:
                self._read(n)
        for decision_id in self._recorded.intersection(self._pending):
            del self._pending[decision_id]

    def _resume_from_witness(self) -> None:
        """A store whose chain ends before the head its witness saw lost its newest records:
        continue from the witness, so the gap stays in the chain for audits to find."""
        seen = read_head(self.witness) if self.witness else None
        if seen and seen[0] > self._sequence:
            metrics.VERIFY_FAILURES.labels(self.service, "records_removed").inc()
            log.error(
                "%s: the decision log ends at #%d but #%d was recorded; records were removed",
                self.service,
                self._sequence,
                seen[0],
            )
            self._sequence, self._head = seen

    def _activation(self, sources: dict[str, str]) -> StoredEvent | None:
        """The record of the revision's full sources, so it can be rebuilt later; None once the
        store holds it. The unit of work commits it when it opens."""
        originator = derived_id("policy-revision", self.service, self.revision)
        if self.store.events_of(originator):
            return None
        message = decision_pb2.PolicyRevisionActivated(
            revision=self.revision, sources=sources, activated_at=now_iso(), service=self.service
        )
        return stored(originator, 1, message)

    def decide(
        self, entrypoint: str, input: dict[str, Any], caller: str = "", key: tuple[Any, ...] | None = None
    ) -> Decision:
        """Decide, from the cache when this revision answered the same input before.

        key: a cheap stand-in for the input on hot paths (it must determine the
        input); without it the canonical JSON of the input is the key.
        """
        input_json = canonical(input) if key is None else None
        cache_key = (entrypoint, input_json if key is None else key)
        decision = self._cache.get(cache_key)
        result_json = None
        if decision is None:
            if input_json is None:
                input_json = canonical(input)
            # The same text the decision id hashes is what the engine reads: converted once.
            text = self.engine.evaluate_text(entrypoint, input_json)
            answer = self._answers.get((entrypoint, text)) or self._answer(entrypoint, text)
            result_json = answer.canonical
            decision = Decision(
                decision_id(entrypoint, input_json, self.revision), entrypoint, answer.result, answer.counted
            )
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[cache_key] = decision
        decision.counted.inc()
        if decision.id not in self._recorded and decision.id not in self._pending:
            self._pending[decision.id] = _Queued(
                decision,
                input_json or canonical(input),
                result_json or canonical(decision.result),
                self._decided_at(),
                caller or self.service,
            )
        return decision

    def _answer(self, entrypoint: str, text: str) -> _Answer:
        result = from_json(text)
        answer = _Answer(result, canonical(result), self._counter(entrypoint, result))
        if len(self._answers) >= MAX_ANSWERS:
            self._answers.clear()
        self._answers[entrypoint, text] = answer
        return answer

    def _counter(self, entrypoint: str, result: Any) -> Any:
        label = metrics.decision_result(result)
        counter = self._counters.get((entrypoint, label))
        if counter is None:
            counter = self._counters[entrypoint, label] = metrics.DECISIONS.labels(self.service, entrypoint, label)
        return counter

    def _decided_at(self) -> str:
        """now_iso(), made once per millisecond (the precision it records), from the text up to the
        second formatted once a second (format_iso takes a few µs, against a decision's 200)."""
        millisecond = time.time_ns() // 1_000_000
        if millisecond != self._millisecond:
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                # "2026-12-01T10:00:00.000Z" less ".000Z"
                self._second, self._to_second = second, format_iso(_EPOCH + timedelta(seconds=second))[:-5]
            self._millisecond, self._now = millisecond, f"{self._to_second}.{fraction:03d}Z"
        return self._now

    def take_records(self, chained: Sequence[decision_pb2.AccessRecorded] = ()) -> list[StoredEvent]:
        """The records to append with the caller's events: the queued decisions, then the chained
        records given (after the decisions they may point to), in the order given; call
        committed() once they are stored, or discard() when they were not."""
        sequence, head = self._sequence, self._head
        revision, service = self.revision, self.service
        out = []
        for decision, input, result, decided_at, caller in self._pending.values():
            sequence += 1
            id_, entrypoint = decision.id, decision.entrypoint
            hash_ = _decision_hash(
                sequence, head, id_, entrypoint, input, result, revision, decided_at, caller, service
            )
            record = decision_pb2.DecisionRecorded(
                sequence=sequence,
                prev_hash=head,
                hash=hash_,
                decision_id=id_,
                entrypoint=entrypoint,
                input=input,
                result=result,
                revision=revision,
                decided_at=decided_at,
                caller=caller,
                service=service,
            )
            head = hash_
            # Keyed by its place in the chain: two processes appending the same place collide.
            out.append(stored(record_id(service, sequence), 1, record))
        for access in chained:
            sequence += 1
            access.sequence, access.prev_hash = sequence, head
            access.hash = head = access_hash(access)
            out.append(stored(record_id(service, sequence), 1, access))
        self._taken = (sequence, head, list(self._pending), len(chained))
        return out

    def committed(self) -> None:
        if self._taken is None:
            return
        self._sequence, self._head, taken, others = self._taken
        self._taken = None
        # The records are stored: the in-memory chain says so before anything else can fail, or
        # the next take_records() would chain the same records again after them.
        self._recorded.update(taken)
        if len(taken) == len(self._pending):  # as always when nothing was queued since they were taken
            self._pending.clear()
        else:
            for decision_id in taken:
                del self._pending[decision_id]
        if (taken or others) and self.signing_key is not None:
            self.signed = sign_head(self.signing_key, self.service, self._sequence, self._head)
            for listener in self.on_head:
                listener(self.signed)
        if self.witness and (taken or others or behind(self.witness)):
            signed = self.signed.as_dict() if self.signed and self.signed.sequence == self._sequence else None
            witness_head(self.witness, self._sequence, self._head, signed)  # logs a failure; never raises

    def discard(self) -> None:
        """The records taken were not stored. They stay queued: events stored later may rely
        on them (a group's next transaction, a retried batch)."""
        self._taken = None


def open_decider(config: ServiceConfig, store: EventStore) -> Decider:
    """The service's decider over the policies its config names (read once, at start)."""
    from cdp.platform.policy import load_bundle, make_engine

    bundle = load_bundle(config.policies_dir)
    engine = make_engine(config.policy_engine, bundle, opa_url=config.opa_url or None)
    return Decider(
        engine,
        store,
        config.service,
        bundle.sources(),
        witness=witness_path(config.state_path, config.service),
        signing_key=ensure_head_key(config.credentials_path, config.service),
    )
