"""`cdp bench`: both benchmarks run end to end at tiny sizes and report non-zero figures.

They start the services as real processes (on free ports, in temporary directories), so
they are marked e2e; the sizes keep the whole module well under a minute.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from click.testing import CliRunner

from cdp.cli.main import main

pytestmark = pytest.mark.e2e

NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"


def row(output: str, label: str) -> list[float]:
    """The numbers of the table row that starts with label."""
    for line in output.splitlines():
        if line.strip().startswith(label):
            rest = line.strip()[len(label) :]
            return [float(n.replace(",", "")) for n in re.findall(NUMBER, rest)]
    raise AssertionError(f"no row {label!r} in:\n{output}")


def invoke(args: list[str], tmp_path) -> str:
    result = CliRunner().invoke(main, ["bench", *args, "--data-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_prints_the_table(tmp_path):
    out = invoke(["ingest", "--events", "500", "--repeat", "1", "--clients", "2", "--http"], tmp_path)
    raw = row(out, "raw event-store append")
    ingest = row(out, "ingest over gRPC, acknowledged and durable")
    assert row(out, "ingest over HTTP (/v1/batch), acknowledged and durable")[0] > 0
    ratio = row(out, "ratio ingest / raw append")
    assert raw[0] > 0 and ingest[0] > 0 and ratio[0] > 0
    # The table prints three decimals: on a machine busy enough, that rounding is the larger error.
    assert ratio[0] == pytest.approx(ingest[0] / raw[0], rel=0.02, abs=0.0006)
    assert list(tmp_path.iterdir()) == []  # a run that went well leaves nothing behind


def test_ingest_json(tmp_path):
    # Two runs with HTTP: each transport on a fresh collector, gRPC first and then HTTP first.
    args = ["bench", "ingest", "--events", "300", "--batch", "50", "--repeat", "2", "--http", "--json"]
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    order = [line.split(": ")[1].split(" ")[0] for line in result.stderr.splitlines() if "ingest " in line]
    assert order == ["ingest", "HTTP", "HTTP", "ingest"], result.stderr
    assert figures["events"] == 300 and figures["repeat"] == 2
    assert len(figures["ingest_events_per_s"]["runs"]) == 2
    assert len(figures["http_ingest_events_per_s"]["runs"]) == 2
    for key in ("raw_append_events_per_s", "ingest_events_per_s", "http_ingest_events_per_s"):
        s = figures[key]
        assert 0 < s["min"] <= s["median"] <= s["max"]
    assert figures["ratio"]["of_medians"] > 0
    http, grpc = figures["http_ingest_events_per_s"]["median"], figures["ingest_events_per_s"]["median"]
    assert figures["http_over_grpc"] == pytest.approx(http / grpc)
    assert all(run["accepted"] == run["stored"] == 300 for run in figures["runs"])


def test_pipeline_prints_the_table(tmp_path, monkeypatch):
    from cdp.bench.pipeline import Neighbour

    # The neighbour's raw-append phase comes before it sends: 20k events keep that short and still
    # send for longer than the freshness phase beside it.
    monkeypatch.setattr(Neighbour, "EVENTS", 20_000)
    out = invoke(["pipeline", "--events", "200", "--rate", "100", "--freshness-seconds", "1"], tmp_path)
    assert row(out, "ingest, acknowledged")[0] > 0
    assert row(out, "pipeline, first send to last webhook")[0] > 0
    assert row(out, "last webhook after")[0] > 0
    delivered, sent = row(out, "freshness delivered")[:2]
    assert delivered == sent == 100
    p50, p99 = row(out, "freshness p50")[0], row(out, "freshness p99")[0]
    assert 0 < p50 <= p99
    # The same phase again beside another platform's ingest bench, which sent throughout.
    delivered, sent = row(out, "beside a neighbour: delivered")[:2]
    assert delivered == sent == 100
    p50, p99 = row(out, "beside a neighbour: freshness p50")[0], row(out, "beside a neighbour: freshness p99")[0]
    assert 0 < p50 <= p99
    assert row(out, "entered payloads without the plan trait")[0] == 0


def test_policy_prints_the_table():
    result = CliRunner().invoke(
        main, ["bench", "policy", "--decisions", "300", "--hits", "1000", "--repeat", "1"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    raw, miss = row(out, "raw regorus evaluation")[0], row(out, "decision, cache miss")[0]
    hit = row(out, "decision, cache hit (hot-path key)")[0]
    assert 0 < hit < raw <= miss * 1.5
    assert row(out, "replay, one process")[0] > 0 and row(out, "replay, every core")[0] > 0
    assert row(out, "miss / raw")[0] == pytest.approx(miss / raw, rel=0.2)


def test_audiences_prints_the_table_and_agrees_with_duckdb():
    result = CliRunner().invoke(
        main, ["bench", "audiences", "--changes", "200", "--profiles", "2000"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    incremental, scratch = (
        row(out, "per change, incremental (indexed audiences), p50")[0],
        row(out, "per change, every audience from scratch, p50")[0],
    )
    assert 0 < incremental < scratch
    assert row(out, "backfill memberships")[0] > 0
    assert "backfill answers equal" in out and "yes" in out.splitlines()[-1]


def scrape(url: str) -> dict[str, float]:
    """The samples of one /metrics page: series with its labels -> value."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1].isalnum()}


def test_each_services_metrics_can_be_watched_while_the_pipeline_bench_runs(tmp_path):
    from cdp.bench.pipeline import PipelineSettings, run

    urls: dict[str, str] = {}
    seen: dict[str, list[dict[str, float]]] = {}

    def progress(message: str) -> None:
        if message.startswith("metrics: "):
            urls.update(part.split(" ") for part in message.removeprefix("metrics: ").split(", "))
        if message.startswith(("warm-up:", "freshness: sent")):  # before and after most of the run
            for service, url in urls.items():
                seen.setdefault(service, []).append(scrape(url))

    settings = PipelineSettings(events=200, rate=100, freshness_seconds=1, neighbour=False, data_dir=tmp_path)
    run(settings, progress)
    assert sorted(urls) == ["activation", "collector", "identity", "profile", "segment"]

    def moved(service: str, prefix: str) -> float:
        before, after = seen[service]
        return sum(v for k, v in after.items() if k.startswith(prefix)) - sum(
            v for k, v in before.items() if k.startswith(prefix)
        )

    assert moved("collector", "cdp_events_total{") >= 300  # 200 of the throughput phase, 100 of freshness
    assert moved("identity", "cdp_follower_position{") > 0
    assert moved("profile", "cdp_decisions_total{") > 0
    assert moved("activation", "cdp_deliveries_total{") >= 100
    assert all("cdp_follower_lag{" in "".join(seen[s][1]) for s in ("identity", "profile", "segment", "activation"))
