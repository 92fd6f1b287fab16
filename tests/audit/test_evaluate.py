"""Replay's evaluation: inputs cut to what the policies read, duplicates asked once, chunks spread
over processes; every path gives what evaluating each record's whole input alone gives."""

from __future__ import annotations

import json

import pytest
import regorus

from cdp.api.policy.v1 import decision_pb2
from cdp.audit import evaluate
from cdp.audit.evaluate import evaluate_all
from cdp.audit.records import Recorded
from cdp.audit.replay import item_of, replay
from cdp.bench.policy import inputs
from cdp.platform.config import REPO_POLICIES
from cdp.platform.decisions import canonical
from cdp.platform.policy import bundle_from_sources, load_bundle, make_engine
from cdp.platform.policy.reads import cut, cut_to, input_paths

EGRESS = "data.cdp.egress.decision"


def paths_of(source: str) -> list[tuple[str, ...]] | None:
    engine = regorus.Engine()
    engine.add_policy("t.rego", source)
    return input_paths(engine.get_ast_as_json())


def test_the_paths_read_are_cut_at_their_first_computed_part():
    source = """package t
import rego.v1
import input.imported as i
a if input.x.y == 1
b contains k if some k, _ in input.z
c if input.w[k] == input["s"]["t"]
d := x if { x := data.t.a with input as {"x": input.v} }
e := count(input.u[input.q.r])
"""
    assert paths_of(source) == [("imported",), ("q", "r"), ("s", "t"), ("u",), ("v",), ("w",), ("x", "y"), ("z",)]


@pytest.mark.parametrize(
    "body",
    ["a := input", 'a if object.get(input, "x", 1) == 1', "a contains k if some k, _ in input", "a if input[k]"],
)
def test_a_bare_input_reads_it_all(body):
    assert paths_of(f"package t\nimport rego.v1\n{body}\n") is None


def test_an_input_is_cut_to_the_paths_and_keeps_what_is_not_an_object():
    tree = cut_to([("a", "b"), ("a",), ("c", "d"), ("e", "f")])
    value = {"a": {"b": 1, "x": 2}, "c": {"d": [1], "y": 3}, "e": "text", "z": 4}
    assert cut(value, tree) == {"a": {"b": 1, "x": 2}, "c": {"d": [1]}, "e": "text"}


@pytest.fixture(scope="module")
def revisions():
    """The repository's policies (in force) and a candidate where analytics may receive contacts."""
    in_force = load_bundle(REPO_POLICIES)
    sources = in_force.sources()
    data = json.loads(sources["data/data.json"])
    data["cdp"]["purposes"]["analytics"]["allowed_classes"] = ["pii.contact"]
    candidate = bundle_from_sources({**sources, "data/data.json": json.dumps(data)})
    return in_force, candidate


def recorded(in_force) -> list[Recorded]:
    """Distinct inputs, the same ones again, ones alike but for what no rule reads, and one of a
    revision never activated."""
    engine = make_engine("embedded", in_force)
    questions = inputs(400)
    questions += questions[:50]
    questions += [{**q, "destination": {**q["destination"], "id": f"other-{i}"}} for i, q in enumerate(questions[:80])]
    questions += [{**q, "note": "unread"} for q in questions[:30]]
    out = []
    for n, question in enumerate(questions):
        record = decision_pb2.DecisionRecorded(
            decision_id=f"d{n}",
            entrypoint=EGRESS,
            input=canonical(question),
            result=canonical(engine.evaluate(EGRESS, question)),
            revision=in_force.revision,
            decided_at=f"2026-12-01T{10 + n % 3}:00:00.000Z",
        )
        out.append(Recorded("activation", n + 1, record))
    lost = decision_pb2.DecisionRecorded(
        decision_id="lost", entrypoint=EGRESS, input="{}", result="{}", revision="never", decided_at="2026-12-01T10:00Z"
    )
    out.append(Recorded("activation", len(out) + 1, lost))
    return out


def one_by_one(items, sources):
    """Each item's whole input, evaluated alone (what replay did before)."""
    engines = {revision: make_engine("embedded", bundle_from_sources(s)) for revision, s in sources.items()}
    out = {}
    for revision, entrypoint, input_json in items:
        if revision not in engines:
            out[revision, entrypoint, input_json] = (False, f"revision {revision[:12]} was never recorded as activated")
            continue
        result = engines[revision].evaluate(entrypoint, json.loads(input_json))
        out[revision, entrypoint, input_json] = (True, canonical(result))
    return out


@pytest.mark.parametrize("candidate_side", [True, False], ids=["replay", "verify"])
def test_cut_deduplicated_and_spread_evaluation_gives_the_report_of_evaluating_each_record(
    revisions, monkeypatch, candidate_side
):
    in_force, candidate = revisions
    records = recorded(in_force)
    label = candidate.revision if candidate_side else ""
    sources = {candidate.revision: candidate.sources()} if candidate_side else {in_force.revision: in_force.sources()}
    items = [item_of(r.record, label) for r in records]
    expected = one_by_one(items, sources)

    evaluated = []
    chunk = evaluate._evaluate_chunk
    monkeypatch.setattr(evaluate, "_evaluate_chunk", lambda c: evaluated.extend(c) or chunk(c))
    in_process = evaluate_all(items, sources, workers=1)
    assert in_process == expected
    assert len(evaluated) < len(set(items)) / 3, "alike inputs are asked once"

    monkeypatch.setattr(evaluate, "_evaluate_chunk", chunk)
    monkeypatch.setattr(evaluate, "IN_PROCESS_BELOW", 0)
    monkeypatch.setattr(evaluate, "CHUNK", 7)
    assert evaluate_all(items, sources, workers=2) == expected

    report = replay(records, in_process, label).as_dict()
    assert report == replay(records, expected, label).as_dict()
    assert report["replayed"] == len(records) and len(report["errors"]) == (0 if candidate_side else 1)
    if candidate_side:
        assert report["changed"] > 0 and report["entrypoints"][EGRESS]["deny_to_allow"] > 0
    else:
        assert report["changed"] == 0
