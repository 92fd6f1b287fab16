"""The record matcher's parts: normalising, comparison levels, settings, the index, the model's JSON."""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from cdp.identity.matching import Candidate, Matcher, MatchSettings, Model, settings_from
from cdp.identity.matching.comparisons import LEVELS, Column
from cdp.identity.matching.normalise import normalise

PEOPLE = {"given_name": "name", "surname": "name", "date_of_birth": "date", "ssn": "code", "state": "exact"}
RULES = [("surname",), ("date_of_birth",), ("ssn",)]


def settings(**extra) -> MatchSettings:
    return MatchSettings(dict(PEOPLE), list(RULES), **extra)


def levels(kind: str, pairs: list[tuple[str | None, str | None]]) -> list[str]:
    column = Column(kind)
    for n, (a, b) in enumerate(pairs):
        column.set(2 * n, normalise(a, kind))
        column.set(2 * n + 1, normalise(b, kind))
    index = np.arange(len(pairs), dtype=np.int64) * 2
    labels = (*LEVELS[kind], "null")
    return [labels[level] for level in column.levels(index, index + 1).tolist()]


def test_values_are_normalised_and_missing_ones_are_null():
    assert normalise("  O'Brien-Smith,  Jr. ", "name") == "obrien smith jr"
    assert normalise("123-45 678", "code") == "12345678"
    for missing in (None, "", "  ", "nan", "NaN", "None"):
        assert normalise(missing, "name") is None
    assert normalise("...", "text") is None


def test_dates_are_read_leniently():
    for text in ("1980-03-07", "19800307", "07/03/1980", "7/3/1980", "07.03.1980", "1980-03-07T00:00:00Z"):
        assert normalise(text, "date") == "19800307", text
    assert normalise("19801332", "date") == "19801332"  # not a calendar date, still comparable
    assert normalise("n/a", "date") is None


def test_name_levels():
    assert levels(
        "name",
        [
            ("anna", "anna"),
            ("anne marie", "annemarie"),
            ("martha", "marhta"),
            ("dixon", "dicksonx"),
            ("ann", "bob"),
            (None, "x"),
            ("", "y"),
        ],
    ) == [
        "exact",
        "exact without spaces",
        "jaro-winkler >= 0.92",
        "jaro-winkler >= 0.80",
        "else",
        "null",
        "null",
    ]


def test_code_date_and_exact_levels():
    assert levels("code", [("1234567", "1234567"), ("1234567", "1234568"), ("1234567", "1234599"), ("1", "999")]) == [
        "exact",
        "levenshtein <= 1",
        "levenshtein <= 2",
        "else",
    ]
    assert levels(
        "date",
        [
            ("1980-03-07", "07/03/1980"),
            ("19800307", "19800308"),
            ("19800307", "19800703"),  # day and month swapped
            ("19800307", "19811307"),  # two edits
            ("19800307", "19801225"),  # same year
            ("19800307", "20110307"),  # same month and day
            ("19800307", "20111225"),
        ],
    ) == [
        "exact",
        "1 edit",
        "2 edits or day-month swap",
        "2 edits or day-month swap",
        "same year or same month-day",
        "same year or same month-day",
        "else",
    ]
    assert levels("exact", [("nsw", "NSW"), ("nsw", "vic"), (None, "vic")]) == ["exact", "else", "null"]


def test_settings_from_policy_data():
    config = json.loads(
        '{"fields": {"first": "name", "dob": "date"}, "blocking": [["first"], ["dob"]],'
        ' "max_postings": 50, "one_per_source": false}'
    )
    s = settings_from(config)
    assert s == MatchSettings({"first": "name", "dob": "date"}, [("first",), ("dob",)], 50, 0.99, False)
    assert settings_from({**config, "link_threshold": 1}).link_threshold == 1.0
    for broken in (
        {**config, "fields": {"first": "fuzzy"}},
        {**config, "blocking": [["email"]]},
        {**config, "blocking": []},
        {**config, "max_postings": "50"},
        {**config, "one_per_source": 1},
        {**config, "extra": 1},
        {"blocking": [["first"]]},
    ):
        with pytest.raises(ValueError):
            settings_from(broken)


def _fitted(records) -> Matcher:
    matcher = Matcher(settings())
    for record in records:
        matcher.add(*record)
    matcher.train(max_pairs=20_000)
    return matcher


def _values_of(record_id: str) -> dict[str, str]:
    return next(dict(fields) for rid, _, fields in _population() if rid == record_id)


def _population(n: int = 300):
    rng = np.random.default_rng(5)
    out = []
    for i in range(n):
        person = {
            "given_name": f"g{rng.integers(40)}",
            "surname": f"family{rng.integers(150)}",
            "date_of_birth": f"19{rng.integers(40, 99)}0{rng.integers(1, 9)}1{rng.integers(0, 9)}",
            "ssn": str(1_000_000 + i * 7919),
            "state": ["nsw", "vic", "qld"][i % 3],
        }
        out.append((f"a{i}", "a", person))
        if i % 4:
            copy = dict(person)
            copy["given_name"] = copy["given_name"] + "x" if i % 3 == 0 else copy["given_name"]
            out.append((f"b{i}", "b", copy))
    return out


def test_add_returns_scored_candidates_from_other_sources_best_first():
    matcher = _fitted(_population())
    assert len(matcher) == 300 + 225
    found = matcher.add("new", "a", {"given_name": "g1", "surname": "family7", "date_of_birth": "19500101"})
    assert found and all(matcher.source_of(c.record_id) == "b" for c in found)
    assert [c.weight for c in found] == sorted((c.weight for c in found), reverse=True)
    twin = matcher.add("twin-of-b5", "a", _values_of("b5"))
    assert twin[0].record_id == "b5" and twin[0].probability > 0.99
    first = twin[0]
    assert [f for f, _, _ in first.levels] == list(PEOPLE)
    assert first.weight == pytest.approx(matcher.model.prior_weight + sum(bf for _, _, bf in first.levels))
    assert first.probability == pytest.approx(1 / (1 + 2**-first.weight))
    assert Matcher(settings()).add("x", "a", {"surname": "family7"}) == []  # no model, no scoring


def test_within_one_source_when_sources_may_repeat():
    matcher = Matcher(settings(one_per_source=False), _fitted(_population()).model)
    matcher.add("a1", "a", {"surname": "smith", "date_of_birth": "19700101"})
    assert [c.record_id for c in matcher.add("a2", "a", {"surname": "smith", "date_of_birth": "19700101"})] == ["a1"]
    strict = Matcher(settings(), matcher.model)
    strict.add("a1", "a", {"surname": "smith"})
    assert strict.add("a2", "a", {"surname": "smith"}) == []


def test_removed_records_are_never_candidates_again():
    matcher = _fitted(_population())
    values = _values_of("b5")
    assert "b5" in [c.record_id for c in matcher.add("probe", "a", values)]
    matcher.remove("b5")
    assert "b5" not in matcher and len(matcher) == 300 + 225  # with the probe
    assert "b5" not in [c.record_id for c in matcher.add("probe", "a", values)]  # re-adding replaces
    assert all("b5" not in (a, b) for a, b, _ in matcher.score_all())
    matcher.remove("b5")  # forgetting twice is harmless
    back = matcher.add("b5", "b", values)  # and the id can come back
    assert {c.record_id for c in back[:2]} == {"a5", "probe"}


def test_readding_replaces_values_and_postings():
    matcher = _fitted(_population())
    matcher.add("p", "b", {"surname": "uniquename", "ssn": "555"})
    assert [c.record_id for c in matcher.add("q", "a", {"surname": "uniquename"})] == ["p"]
    matcher.add("p", "b", {"surname": "othername"})
    assert matcher.add("q", "a", {"surname": "uniquename"}) == []


def test_term_frequencies_follow_the_records_held():
    matcher = _fitted(_population())
    common = matcher.add("c2", "b", {"surname": "family7", "given_name": "g1"})
    matcher.add("r1", "a", {"surname": "rarename", "given_name": "g1"})
    rare = matcher.add("r2", "b", {"surname": "rarename", "given_name": "g1"})[0]
    common_factor = {f: bf for c in common for f, _, bf in c.levels if c.record_id.startswith("a")}["surname"]
    rare_factor = {f: bf for f, _, bf in rare.levels}["surname"]
    assert rare_factor > common_factor
    for n in range(30):  # rarename becomes common: its exact match weighs less
        matcher.add(f"more{n}", "a", {"surname": "rarename"})
    again = next(c for c in matcher.add("r2", "b", {"surname": "rarename", "given_name": "g1"}) if c.record_id == "r1")
    assert {f: bf for f, _, bf in again.levels}["surname"] < rare_factor
    for n in range(30):
        matcher.remove(f"more{n}")
    back = next(c for c in matcher.add("r2", "b", {"surname": "rarename", "given_name": "g1"}) if c.record_id == "r1")
    assert back.weight == pytest.approx(rare.weight)


def test_model_round_trips_through_json_with_its_version_and_scores():
    matcher = _fitted(_population())
    model = matcher.model
    text = model.to_json()
    again = Model.from_json(text)
    assert again == model and again.version == model.version and again.version.startswith("fs-")
    assert len(again.version) == len("fs-") + 12
    data = json.loads(text)
    assert set(data) == {"format", "version", "lambda", "comparisons"}
    assert not any(value in text for _, _, fields in _population() for value in fields.values())  # no record values
    other = Matcher(settings(), again)
    for record in _population():
        other.add(*record)
    assert other.score_all() == matcher.score_all()
    with pytest.raises(ValueError, match="version"):
        Model.from_json(text.replace(model.version, "fs-000000000000"))
    with pytest.raises(ValueError, match="comparisons"):
        Matcher(MatchSettings({"surname": "name"}, [("surname",)]), model)
    changed = Model(model.comparisons, model.m, model.u, model.prior / 2)
    assert changed.version != model.version
    data.pop("version")
    assert Model.from_json(json.dumps(data)) == model  # a hand-written model needs no version
    for broken in ({**data, "lambda": 1.5}, {**data, "comparisons": [{"field": "x"}]}, {"format": "other"}):
        with pytest.raises(ValueError):
            Model.from_json(json.dumps(broken))
    with pytest.raises(ValueError, match="sum to 1"):
        Model(model.comparisons, ((0.5, 0.6, 0.1, 0.1, 0.1), *model.m[1:]), model.u, model.prior)


def test_max_postings_caps_the_candidates():
    model = Model.from_json(_fitted(_population()).model.to_json())
    capped = Matcher(MatchSettings(dict(PEOPLE), [("surname",)], max_postings=5), model)
    found = [len(capped.add(f"r{n}", "ab"[n % 2], {"surname": "smith"})) for n in range(10)]
    assert found == [0, 1, 1, 2, 2, 0, 0, 0, 0, 0]  # from the 6th on the key holds more than 5 records
    assert capped.score_all() == []


def test_best_links():
    matcher = _fitted(_population())

    def c(p: float) -> Candidate:
        return Candidate("", p, 0.0, ())

    pairs = [("a1", "b1", c(0.99)), ("a1", "b2", c(0.98)), ("a2", "b2", c(0.97)), ("a3", "b3", c(0.4))]
    assert matcher.best_links(pairs, 0.5) == [("a1", "b1", 0.99), ("a2", "b2", 0.97)]
    dedupe = Matcher(settings(one_per_source=False))
    assert dedupe.best_links([("x", "y", 0.9), ("y", "z", 0.8), ("z", "w", 0.95), ("q", "r", 0.1)], 0.5) == [
        ("z", "w", 0.95),
        ("x", "y", 0.9),
    ]


def test_the_package_depends_on_nothing_else_in_the_platform():
    import cdp.identity.matching

    package = Path(cdp.identity.matching.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in {"numpy", "rapidfuzz", "__future__"}
                    or name.startswith("cdp.identity.matching")
                    or (top not in {"cdp", "grpc", "sqlalchemy", "eventsourcing", "regorus"})
                ), f"{module.name} imports {name}"
                if top == "cdp":
                    assert name.startswith(("cdp.identity.matching", "cdp.platform.clock")), name


def test_a_record_added_again_finds_what_score_all_pairs_it_with():
    matcher = _fitted(_population())
    everything = matcher.score_all()
    for record_id in ("a5", "b5", "a12", "b13", "a100"):
        source = matcher.source_of(record_id)
        partners = {(b if a == record_id else a): c.probability for a, b, c in everything if record_id in (a, b)}
        again = matcher.add(record_id, source, _values_of(record_id))
        assert {c.record_id: pytest.approx(c.probability) for c in again} == partners


def test_probabilities_alone_and_described_pairs_agree_with_score_all():
    matcher = _fitted(_population())
    everything = matcher.score_all()
    probabilities = matcher.score_probabilities()
    assert [(a, b) for a, b, _ in probabilities] == [(a, b) for a, b, _ in everything]
    assert [p for _, _, p in probabilities] == pytest.approx([c.probability for _, _, c in everything])
    chosen = everything[:: max(1, len(everything) // 20)]
    described = matcher.describe([(a, b) for a, b, _ in chosen])
    assert described == [c for _, _, c in chosen]


_NAMES = ["ann", "anne", "bob", "rob", "cara", "kara"]


@settings_hypothesis(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["add", "add", "add", "remove"]),
            st.integers(0, 11),
            st.sampled_from(_NAMES),
            st.sampled_from(["19800101", "19800110", "19811001", None]),
        ),
        max_size=40,
    )
)
def test_any_history_of_adds_and_removes_scores_like_the_records_it_leaves(steps):
    model = _small_model()
    incremental = Matcher(MatchSettings(dict(SMALL), list(SMALL_RULES), one_per_source=False), model)
    held: dict[str, dict[str, str | None]] = {}
    for action, number, name, dob in steps:
        record_id = f"r{number}"
        if action == "remove":
            incremental.remove(record_id)
            held.pop(record_id, None)
        else:
            fields = {"given_name": name, "date_of_birth": dob}
            incremental.add(record_id, "s", fields)
            held[record_id] = fields
    fresh = Matcher(MatchSettings(dict(SMALL), list(SMALL_RULES), one_per_source=False), model)
    for record_id, fields in held.items():
        fresh.add(record_id, "s", fields)

    def scored(matcher):
        return {(min(a, b), max(a, b)): round(c.weight, 9) for a, b, c in matcher.score_all()}

    assert len(incremental) == len(held)
    assert scored(incremental) == scored(fresh)


SMALL = {"given_name": "name", "date_of_birth": "date"}
SMALL_RULES = [("given_name",), ("date_of_birth",)]


@functools.cache
def _small_model() -> Model:
    matcher = Matcher(MatchSettings(dict(SMALL), list(SMALL_RULES), one_per_source=False))
    for n, name in enumerate(_NAMES * 5):
        matcher.add(f"t{n}", "s", {"given_name": name, "date_of_birth": f"19{60 + n % 30}0{1 + n % 9}01"})
    return matcher.train(max_pairs=5000)


def test_u_counts_every_exact_pair_and_samples_the_similar_ones():
    rng = np.random.default_rng(1)
    column = Column("name")
    names = ["anna", "anne", "hannah", "bob", "robert", None]
    for slot in range(600):
        column.set(slot, names[slot % len(names)])
    a, b = rng.integers(0, 600, 20_000), rng.integers(0, 600, 20_000)
    levels = column.levels(a, b)
    full = np.bincount(levels[levels >= 0], minlength=5).astype(float)
    assert column.level_counts(a, b, 10**6, rng).tolist() == full.tolist()
    sampled = column.level_counts(a, b, 2000, rng)
    assert sampled[0] == full[0] and sampled.sum() == pytest.approx(full.sum())
    assert sampled[1:] == pytest.approx(full[1:], rel=0.15)
