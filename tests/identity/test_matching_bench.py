"""`cdp bench matching`: the subcommand's wiring, and the incremental measurement at a small size."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cdp.bench import identity_matching
from cdp.cli.main import main


def test_the_subcommand_runs_the_bench_and_prints_json(monkeypatch):
    calls = []

    def fake(out, repeat, held):
        calls.append((repeat, held))
        out("progress")
        return {"febrl4": {"ours": {"f1": 1.0}}}

    monkeypatch.setattr(identity_matching, "run_matching_bench", fake)
    result = CliRunner().invoke(main, ["bench", "matching", "--repeat", "1", "--held", "10", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [(1, 10)]
    assert json.loads(result.stdout) == {"febrl4": {"ours": {"f1": 1.0}}}


def test_incremental_measurement_finds_the_copied_records():
    records, truth = identity_matching.febrl4()
    run = identity_matching.run_ours(
        records, truth, identity_matching.FEBRL_FIELDS, identity_matching.FEBRL_BLOCKING, max_pairs=50_000
    )
    assert run["f1"] >= 0.99
    figures = identity_matching.run_incremental(records, run["model"], held=3000, adds=100, rounds=2)
    assert figures["true_record_found"] >= 0.99 and figures["true_record_best"] >= 0.95
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
