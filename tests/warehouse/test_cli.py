"""`cdp warehouse`'s bad input: a clear error naming the option, never a traceback, nothing made."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from cdp.cli.main import main

DSN = os.environ.get("CDP_TEST_POSTGRES", "")


def run(*args: str):
    return CliRunner().invoke(main, ["warehouse", *args])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["status", "--dsn", "nonsense"], "Invalid value for --dsn: not a PostgreSQL URL"),
        (["status", "--dsn", "sqlite:///warehouse.db"], "Invalid value for --dsn: the warehouse is PostgreSQL"),
        (["status", "--dsn", "postgresql://postgres@127.0.0.1:1/x"], "cannot reach the warehouse"),
        (["status", "--dsn", "postgresql://h/x", "--schema", "x;drop"], "Invalid value for --schema"),
        (["export", "--dsn", "postgresql://h/x", "--schema", "1x", "--parquet", "out"], "Invalid value for --schema"),
        (["sync", "--dsn", "postgresql://h/x", "--purpose", "resale"], "Invalid value for --purpose: not a purpose"),
    ],
)
def test_bad_options_are_named(args, said):
    result = run(*args)
    assert result.exit_code != 0 and said in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.mark.postgres
def test_a_schema_not_synced_yet_is_said_so_and_export_writes_nothing(tmp_path):
    if not DSN:
        pytest.skip("CDP_TEST_POSTGRES is not set")
    for command in (["status"], ["export", "--parquet", str(tmp_path / "out")]):
        result = run(*command, "--dsn", DSN, "--schema", "test_warehouse_never_synced")
        assert result.exit_code == 1 and "no warehouse in schema test_warehouse_never_synced" in result.output
    assert not (tmp_path / "out").exists()
