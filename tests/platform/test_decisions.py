"""Decision ids, records and chain hashes do not move: logs stored before stay verifiable.

The expected values were computed by the Decider as it was before its fast path (json.dumps for
the canonical text, records built as it decided); any change to canonicalisation, to what a
decision id hashes or to what a record's hash covers fails here.
"""

from __future__ import annotations

import json
import math
import re
import uuid

import pytest

from cdp.api.policy.v1 import decision_pb2
from cdp.audit.records import Recorded, chain_breaks
from cdp.platform.config import StoreConfig
from cdp.platform.decisions import DECISION_TOPIC, canonical, decision_id, record_hash, record_id
from cdp.platform.policy import PolicyError
from cdp.platform.published import decode
from cdp.platform.store import open_store
from support.kernel import unit_of_work

EGRESS = "data.cdp.egress.decision"
# Keys out of order and at depth, floats that orjson writes otherwise (1e-05), null, an integer past
# 64 bits, characters past ASCII and escapes.
INPUT = {
    "zeta": [3, 1.5, 1e-05, None, True],
    "destination": {"purpose": "analytics", "id": "d-é"},
    "ä": '中😀\n\t"',
    "big": 2**70,
    "A": {"b": {}, "a": []},
}
CANONICAL = (
    '{"A":{"a":[],"b":{}},"big":1180591620717411303424,"destination":{"id":"d-é","purpose":"analytics"},'
    '"zeta":[3,1.5,1e-05,null,true],"ä":"中😀\\n\\t\\""}'
)


def _json_dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_a_fixed_input_has_a_fixed_canonical_text_decision_id_and_record_hash():
    assert canonical(INPUT) == CANONICAL
    assert decision_id(EGRESS, CANONICAL, "rev-1") == "d18f99aab89deec22d495e4f6eac9fb82cdb332655eb8cf9e00ebf2a4b27b31a"
    record = decision_pb2.DecisionRecorded(
        sequence=7,
        prev_hash="ab" * 32,
        decision_id="id1",
        entrypoint=EGRESS,
        input=CANONICAL,
        result=canonical({"withheld": [], "allowed": ["plan"]}),
        revision="rev-1",
        decided_at="2026-12-01T10:00:00.123Z",
        caller="c",
        service="s",
    )
    assert record_hash(record) == "233372085c172ca16014e156415ee2548fec6b797bf316865620e4de66c88f2d"


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, 2, {"d": "x", "c": "y"}]},
        {"é": 1, "e": 2, "😀": 3, "\uffff": 4, "z": 5},  # sorted by code point
        {"s": "\x00\x01\x1f\x7f\u2028\u2029\\/\"'"},  # escapes as json.dumps writes them
        {"n": None, "f": 0.1, "g": 1e16, "h": -0.0, "i": 1e-7},
        [1.0, 2, -(2**63), 2**64 - 1, 2**64],
        {"ratio:1.5": "x", "at:null": "y"},  # look like floats and nulls inside strings
        {2: "a", 1: "b"},  # keys that are not strings
        {"nan": math.nan, "inf": math.inf},
        "\ud800",  # a lone surrogate
        1e-05,
        math.nan,
        -7,
        None,
        "plain",
        [],
    ],
)
def test_canonical_text_is_what_json_dumps_writes(value):
    assert canonical(value) == _json_dumps(value)


def test_canonical_text_of_what_json_refuses_is_still_refused():
    with pytest.raises(TypeError):
        canonical({"a": {1, 2}})


@pytest.fixture
def decider(tmp_path):
    store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "policyperf")
    uow = unit_of_work(store, "bench")
    yield uow
    store.close()


def test_a_recorded_decision_is_the_record_the_decider_wrote_before(decider):
    question = {
        "properties": ["plan", "email"],
        "destination": {"type": "webhook", "id": "d1", "purpose": "analytics"},
        "consent": {"analytics": True},
    }
    decision = decider.decider.decide(EGRESS, question, caller="tester")
    again = decider.decider.decide(EGRESS, dict(reversed(question.items())))  # the same input, keys reordered
    assert again is decision
    decider.commit()
    notifications = list(decider.store.replay([DECISION_TOPIC]))
    assert len(notifications) == 1, "one record per distinct input"
    record = decode(notifications[0].topic, notifications[0].state)
    revision = decider.decider.revision
    assert record.decision_id == decision.id == decision_id(EGRESS, _json_dumps(question), revision)
    assert record.input == _json_dumps(question)
    assert record.result == _json_dumps(decision.result)
    assert json.loads(record.result) == {
        "allowed": ["plan"],
        "consent": {"analytics": "granted"},
        "purposes": ["analytics"],
        "reasons": {"email": "class pii.contact not allowed for purpose analytics"},
        "refused": [],
        "remove": False,
        "withheld": ["email"],
    }
    assert (record.entrypoint, record.revision, record.caller, record.service) == (EGRESS, revision, "tester", "bench")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.decided_at)
    assert record.sequence == 1 and record.prev_hash == "" and record.hash == record_hash(record)
    assert chain_breaks([Recorded("bench", notifications[0].id, record)]) == []


def test_a_keyed_decision_records_the_canonical_input_and_an_unjsonable_input_is_refused(decider):
    question = {"destination": {"id": "d2", "type": "webhook", "purpose": "support"}, "properties": ["plan"]}
    decision = decider.decider.decide(EGRESS, question, key=("d2", "plan"))
    assert decider.decider.decide(EGRESS, question, key=("d2", "plan")) is decision
    (stored,) = decider.decider.take_records()
    assert decode(stored.topic, stored.state).input == _json_dumps(question)
    with pytest.raises(PolicyError):  # NaN is no JSON: the engine refuses it, as before
        decider.decider.decide(EGRESS, {**question, "ratio": math.nan})


@pytest.mark.parametrize("service", ["bench", "collector", "é-service"])
def test_a_chain_record_is_keyed_by_its_place_in_chain_order(service):
    """The same place gives the same id (two processes appending it collide); the ids of a log's
    records sort as text in chain order (each append adds to the end of the store's index)."""
    places = [0, 1, 9, 10, 255, 256, 12345678901, (1 << 62) - 1, 1 << 62, (1 << 74) - 1]
    ids = [record_id(service, n) for n in places]
    assert ids == [record_id(service, n) for n in places]
    assert [str(i) for i in ids] == sorted(str(i) for i in ids)
    assert len(set(ids)) == len(places)
    assert {i.version for i in ids} == {8} and {i.variant for i in ids} == {uuid.RFC_4122}
    others = {record_id(other, n) for other in ("bench", "collector", "é-service") if other != service for n in places}
    assert others.isdisjoint(ids)
    with pytest.raises(ValueError, match="sequence"):
        record_id(service, 1 << 74)
    assert str(record_id("bench", 1)) == "6d6bb94d-c963-8000-8000-000000000001"


class _Texts:
    """An engine that answers each entrypoint with a fixed JSON text, written as an engine may write
    it (spaces, keys out of order), and counts its evaluations."""

    revision = "rev-texts"

    def __init__(self, texts: dict[str, str]):
        self.texts = texts
        self.evaluated = 0

    def evaluate_text(self, entrypoint: str, input_json: str) -> str:
        self.evaluated += 1
        return self.texts[entrypoint]


def test_inputs_answered_alike_share_one_result_and_each_record_holds_its_canonical_text(tmp_path):
    from cdp.platform import metrics
    from cdp.platform.decisions import Decider
    from cdp.platform.unit_of_work import UnitOfWork

    store = open_store(StoreConfig(kind="sqlite", data_dir=tmp_path), "answers")
    text = '{"withheld": [], "allowed": ["plan"], "n": 1e-05}'
    engine = _Texts({"data.a.decide": text, "data.b.decide": text, "data.c.decide": "false"})
    uow = UnitOfWork(store, Decider(engine, store, "answers", {}))
    decider = uow.decider
    first = decider.decide("data.a.decide", {"i": 1})
    second = decider.decide("data.a.decide", {"i": 2})
    other = decider.decide("data.b.decide", {"i": 1})
    denied = decider.decide("data.c.decide", {"i": 1})
    assert engine.evaluated == 4 and first.id != second.id
    assert first.result == {"withheld": [], "allowed": ["plan"], "n": 1e-05}
    assert second.result is first.result  # parsed once, as a cached decision's result is shared
    # Each entrypoint counts its own decisions, whatever text another one answered.
    assert first.counted is metrics.DECISIONS.labels("answers", "data.a.decide", "answer")
    assert other.counted is metrics.DECISIONS.labels("answers", "data.b.decide", "answer")
    assert denied.counted is metrics.DECISIONS.labels("answers", "data.c.decide", "deny")
    uow.commit()
    records = [decode(n.topic, n.state) for n in store.replay([DECISION_TOPIC])]
    assert [r.result for r in records] == [_json_dumps(first.result)] * 3 + ["false"]
    assert [r.input for r in records] == ['{"i":1}', '{"i":2}', '{"i":1}', '{"i":1}']
    assert all(r.hash == record_hash(r) for r in records)
    assert chain_breaks([Recorded("answers", n, r) for n, r in enumerate(records, 1)]) == []
    store.close()


def test_a_decision_record_is_the_one_built_field_by_field_and_hashed_from_it(decider):
    """take_records() hashes the values it writes; the record must be the one record_hash() and
    the audit read back: every field, each in its place."""
    decided = [
        decider.decider.decide(
            EGRESS, {"destination": {"id": f"d{i}", "type": "webhook", "purpose": "support"}}, caller="tester"
        )
        for i in range(3)
    ]
    head = ""
    for sequence, (stored, decision) in enumerate(zip(decider.decider.take_records(), decided, strict=True), 1):
        record = decode(stored.topic, stored.state)
        expected = decision_pb2.DecisionRecorded(
            sequence=sequence,
            prev_hash=head,
            decision_id=decision.id,
            entrypoint=EGRESS,
            input=_json_dumps({"destination": {"id": f"d{sequence - 1}", "type": "webhook", "purpose": "support"}}),
            result=_json_dumps(decision.result),
            revision=decider.decider.revision,
            decided_at=record.decided_at,
            caller="tester",
            service="bench",
        )
        expected.hash = head = record_hash(expected)
        assert stored.state == expected.SerializeToString()
        assert stored.originator_id == record_id("bench", sequence)


def test_decided_at_is_the_time_as_now_iso_writes_it_to_the_millisecond(decider, monkeypatch):
    from datetime import UTC, datetime

    from cdp.platform import decisions
    from cdp.platform.clock import format_iso

    # Within one second, into the next, a millisecond with zeros, and back to an earlier second.
    for millisecond in (1_764_583_200_123, 1_764_583_200_999, 1_764_583_201_000, 1_764_583_201_007, 1_700_000_000_450):
        monkeypatch.setattr(decisions.time, "time_ns", lambda ms=millisecond: ms * 1_000_000 + 999_999)
        expected = format_iso(datetime.fromtimestamp(millisecond / 1000, UTC))
        assert decider.decider._decided_at() == expected
