"""`cdp bench restart` on a small log: its table and its JSON, with identity's starts measured
from a snapshot and without."""

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
    assert [s["events"] for s in figures["sizes"]] == [400, 800]
    for size in figures["sizes"]:
        assert size["persons"] == size["events"] // 4
        assert size["snapshot_mb"] > 0
        for case in ("without_snapshot", "with_snapshot"):
            assert 0 < size[case]["serving_s"] <= size[case]["ready_s"]
            assert size[case]["rss_mb"] > 0 and size[case]["rebuild_s"] >= 0
    assert set(figures["rss_mb_per_100k_persons"]) == {"without_snapshot", "with_snapshot"}

    result = CliRunner().invoke(main, [*args[:3], "400", "--repeat", "1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "from a snapshot" in result.output and "MB per 100k persons" in result.output


def test_restart_bench_rejects_bad_sizes():
    result = CliRunner().invoke(main, ["bench", "restart", "--sizes", "ten"])
    assert result.exit_code == 2 and "--sizes" in result.output
