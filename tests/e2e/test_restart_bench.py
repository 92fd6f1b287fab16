"""`cdp bench restart` on small logs: its table and its JSON, each service's starts measured
without a snapshot and from one."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cdp.cli.main import main

pytestmark = pytest.mark.e2e


def test_restart_bench_json_and_table(tmp_path):
    args = ["bench", "restart", "--sizes", "400,800", "--repeat", "1", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    assert list(figures["services"]) == ["identity", "profile", "segment", "activation"]
    for measured in figures["services"].values():
        assert measured["snapshots"]
        assert [s["events"] for s in measured["sizes"]] == [400, 800]
        for size in measured["sizes"]:
            assert size["persons"] == size["events"] // 4
            cases = ["without_snapshot", "with_snapshot"] if measured["snapshots"] else ["without_snapshot"]
            assert (size["snapshot_mb"] > 0) == measured["snapshots"]
            for case in cases:
                assert size[case]["serving_s"] > 0 and size[case]["rebuild_s"] >= 0
                assert 0 < size[case]["cpu_s"] < size[case]["serving_s"] * 2  # two cores at most
                assert 0 < size[case]["rss_mb"] <= size[case]["warm_rss_mb"] * 1.5
        assert set(measured["rss_mb_per_100k_persons"]) == {"without_snapshot", "with_snapshot"}

    one = [*args[:3], "400", "--services", "identity,segment", "--repeat", "1", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(main, one)
    assert result.exit_code == 0, result.output
    assert "from a snapshot" in result.output and "nan" not in result.output
    assert "memory, segment: per 100k persons needs two sizes" in result.output
    assert "memory, profile" not in result.output
    # The directory is made when missing, not a traceback.
    missing = [*one[:-1], str(tmp_path / "new" / "dir")]
    assert CliRunner().invoke(main, missing).exit_code == 0


def test_restart_bench_rejects_bad_sizes_and_services():
    result = CliRunner().invoke(main, ["bench", "restart", "--sizes", "ten"])
    assert result.exit_code == 2 and "--sizes" in result.output
    result = CliRunner().invoke(main, ["bench", "restart", "--services", "identity,warehouse"])
    assert result.exit_code == 2 and "--services" in result.output and "warehouse" in result.output
