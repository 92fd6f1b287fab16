"""`cdp bench activation` at a tiny size: every kind against its real server, figures above zero,
and nothing left behind on the servers."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis
from click.testing import CliRunner

from cdp.cli.main import main
from conftest import postgres_dsn

from .conftest import need

pytestmark = pytest.mark.postgres


def test_every_kind_and_batch_size_is_measured_and_cleaned_up():
    for server in ("rabbitmq", "nats", "redis"):
        need(server)
    dsn = postgres_dsn()
    args = ["bench", "activation", "--messages", "30", "--batch", "1", "--batch", "10", "--postgres-dsn", dsn]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)["results"]
    assert [(r["kind"], r["batch"]) for r in figures] == [
        (kind, batch) for kind in ("webhook", "postgres", "rabbitmq", "nats", "redis", "file") for batch in (1, 10)
    ]
    assert all(r["deliveries"] == 30 and r["deliveries_per_s"] > 0 and r["send_p99_ms"] > 0 for r in figures)
    assert all(r["verified"] == 31 for r in figures if r["kind"] == "webhook")  # the warm-up one too
    with psycopg.connect(dsn) as conn:
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench_dest_%'").fetchone()
    assert left == (0,)
    assert not list(redis.Redis.from_url("redis://127.0.0.1:6379/0").scan_iter(match="bench_dest_*", count=1000))


def test_the_table_and_an_unknown_kind():
    need("redis")
    result = CliRunner().invoke(main, ["bench", "activation", "--messages", "5", "--kind", "redis", "--kind", "file"])
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.stdout.splitlines()[3:]] == [
        ["redis", "1"],
        ["redis", "100"],
        ["file", "1"],
        ["file", "100"],
    ]
    refused = CliRunner().invoke(main, ["bench", "activation", "--kind", "smtp"])
    assert refused.exit_code == 2 and "unknown kind 'smtp'" in refused.output
