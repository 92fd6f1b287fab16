"""Helpers for the governance tests: calls, byte searches of a platform's storage, the real CLI.

The searches look for exact UTF-8 strings in every byte a platform keeps: every file under its
data directory (SQLite databases with their -wal and -shm files, logs, keys) and, on PostgreSQL,
the text of every row of every table in the schemas of its prefix.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import grpc

from cdp.api.policy.v1 import decision_pb2
from cdp.api.profile.v1 import profile_pb2
from cdp.client import CdpError
from cdp.platform.config import SERVICES, StoreConfig
from cdp.platform.launcher import Platform
from conftest import drop_schemas, postgres_dsn
from support.calls import ident
from support.platform_fixture import running_platform

REPO = Path(__file__).resolve().parents[2]
CDP = REPO / ".venv" / "bin" / "cdp"

ACCESS_DECISION = "data.cdp.access.decision"
EGRESS_DECISION = "data.cdp.egress.decision"


# Platforms ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def platform_on(store: str, data_dir: Path) -> Iterator[Platform]:
    """A running platform with its own storage: a data directory, and on "postgres" a fresh schema
    prefix (dropped after)."""
    if store == "sqlite":
        with running_platform(data_dir) as running:
            yield running
        return
    dsn = postgres_dsn()
    prefix = f"g{uuid.uuid4().hex[:9]}_"
    try:
        with running_platform(
            data_dir, ["--store", "postgres", "--postgres-dsn", dsn, "--schema-prefix", prefix]
        ) as running:
            yield running
    finally:
        drop_schemas(dsn, prefix)


# Calls -------------------------------------------------------------------------------------------


def ingest_accepted(client, source, events) -> dict[str, str]:
    """Ingest; every event must be accepted. Returns messageId -> event id."""
    from cdp.api.collector.v1 import collector_pb2

    response = client.ingest(source.write_key, events)
    assert [a.status for a in response.acks] == [collector_pb2.ACK_STATUS_ACCEPTED] * len(events), response
    return {e.message_id: a.event_id for e, a in zip(events, response.acks, strict=True)}


def profile_by(client, type_: str, value: str, metadata=None) -> profile_pb2.Profile:
    return client.profile.get_profile(identifier=ident(type_, value), metadata=metadata, timeout=10)


def decisions(client, service: str) -> list[decision_pb2.DecisionRecorded]:
    return client.read_messages(service, decision_pb2.DecisionRecorded)


def restart(platform: Platform, service: str, timeout: float = 30) -> None:
    """Stop one service gracefully (SIGTERM) and start it again on the same port."""
    process = platform.processes.pop(service)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    platform.start(service)
    platform.wait_healthy([service], timeout)


# Storage searches --------------------------------------------------------------------------------


def find_in_bytes(blob: bytes, needles: Iterable[str]) -> set[str]:
    """Which needles occur in blob, as their exact UTF-8 bytes."""
    return {n for n in needles if n.encode("utf-8") in blob}


def search_tree(root: Path, needles: Sequence[str]) -> dict[str, list[str]]:
    """needle -> the files under root (relative paths) holding it in clear; only needles found."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            blob = path.read_bytes()
        except FileNotFoundError:  # a -journal or temporary file gone since the listing
            continue
        for needle in find_in_bytes(blob, needles):
            found.setdefault(needle, []).append(str(path.relative_to(root)))
    return found


def postgres_dump(dsn: str, prefix: str) -> dict[str, str]:
    """schema.table -> the text of all its rows (bytea columns as encode(..., 'escape'))."""
    import psycopg
    from psycopg import sql

    out: dict[str, str] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema LIKE %s AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (prefix.replace("_", r"\_") + "%",),
        ).fetchall()
        for schema, table in tables:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, table),
            ).fetchall()
            parts = [
                sql.SQL("coalesce(encode({}, 'escape'), '')").format(sql.Identifier(c))
                if t == "bytea"
                else sql.SQL("coalesce({}::text, '')").format(sql.Identifier(c))
                for c, t in columns
            ]
            query = sql.SQL("SELECT concat_ws(' | ', {}) FROM {}.{}").format(
                sql.SQL(", ").join(parts), sql.Identifier(schema), sql.Identifier(table)
            )
            # The whole row as text too (bytea there in hex, everything else as stored).
            whole = sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
            rows = [r[0] for r in conn.execute(query)] + [r[0] for r in conn.execute(whole)]
            out[f"{schema}.{table}"] = "\n".join(rows)
    return out


def search_postgres(dsn: str, prefix: str, needles: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for table, text in postgres_dump(dsn, prefix).items():
        for needle in find_in_bytes(text.encode("utf-8"), needles):
            found.setdefault(needle, []).append(table)
    return found


def storage_search(platform: Platform, needles: Sequence[str]) -> dict[str, list[str]]:
    """needle -> where it is in clear: files of the data directory, and PostgreSQL tables."""
    found = search_tree(platform.data_dir, needles)
    config = store_config(platform)
    if config.kind == "postgres":
        for needle, tables in search_postgres(config.postgres_dsn, config.schema_prefix, needles).items():
            found.setdefault(needle, []).extend(tables)
    return found


def store_config(platform: Platform) -> StoreConfig:
    """The store configuration a platform's services run with (from their extra args)."""
    args = list(platform.extra_args)

    def flag(name: str, default: str = "") -> str:
        return args[args.index(name) + 1] if name in args else default

    return StoreConfig(
        kind=flag("--store", "sqlite"),
        data_dir=platform.data_dir,
        postgres_dsn=flag("--postgres-dsn"),
        schema_prefix=flag("--schema-prefix", "cdp_"),
    )


# The CLI -----------------------------------------------------------------------------------------


def cli_env(platform: Platform, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CDP_TOKEN"}
    env["CDP_DATA_DIR"] = str(platform.data_dir)
    config = store_config(platform)  # what `cdp keys` opens, as the services do
    env |= {
        "CDP_STORE": config.kind,
        "CDP_POSTGRES_DSN": config.postgres_dsn,
        "CDP_SCHEMA_PREFIX": config.schema_prefix,
    }
    for service in SERVICES:
        env[f"CDP_{service.upper()}_ADDR"] = platform.address(service)
    env.update(extra)
    return env


def run_cli(
    platform: Platform, *args: str, timeout: float = 60, input: str | None = None, **extra_env: str
) -> subprocess.CompletedProcess:
    """The `cdp` command line, as `cdp` would run it in the platform's data directory with cli_env:
    its exit code, stdout and stderr apart.

    It runs in this process (click's CliRunner) rather than as a new one: the same code and
    environment, without a Python start and the CLI's imports (about a CPU-second) each call.
    timeout bounds a real process only (CDP_TEST_CLI=process); each gRPC call has its own.
    """
    if not IN_PROCESS_CLI:
        command = [str(CDP)] if CDP.exists() else [sys.executable, "-m", "cdp.cli.main"]
        return subprocess.run(
            [*command, *args],
            check=False,  # callers look at the exit code and the output
            env=cli_env(platform, **extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            cwd=str(platform.data_dir),
        )
    return invoke_cli(platform.data_dir, cli_env(platform, **extra_env), args, input)


# CDP_TEST_CLI=process: every run_cli starts the real console script instead (slower).
IN_PROCESS_CLI = os.environ.get("CDP_TEST_CLI", "") != "process"
_CLI_LOCK = threading.Lock()  # one at a time: the working directory and sys.stdout are the process's


def invoke_cli(cwd: Path, env: dict[str, str], args: Sequence[str], input: str | None) -> subprocess.CompletedProcess:
    """`cdp args` in this process with exactly env as its environment, in cwd."""
    import logging
    import traceback

    from click.testing import CliRunner

    from cdp.cli.main import main

    changes: dict[str, str | None] = {k: v for k, v in env.items() if os.environ.get(k) != v}
    changes |= {k: None for k in os.environ if k not in env}  # e.g. CDP_TOKEN, as cli_env drops it
    root = logging.getLogger()
    with _CLI_LOCK, contextlib.chdir(cwd):
        # What it logs goes to its stderr, as with no logging configured in a process of its own
        # (here pytest's handlers would take it instead).
        root.addHandler(logging.lastResort)
        try:
            result = CliRunner().invoke(main, list(args), input=input, env=changes, catch_exceptions=True)
        finally:
            root.removeHandler(logging.lastResort)
    stderr = result.stderr
    if result.exc_info and not isinstance(result.exception, SystemExit):  # a crash: its traceback, as Python prints
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["cdp", *args], result.exit_code, result.stdout, stderr)


def rpc_error(call, *args, **kwargs) -> CdpError:
    """The error a call ends with (it must end with one): a cdp.client error (its code, details),
    or the grpc.RpcError of a raw call."""
    try:
        response = call(*args, **kwargs)
    except (CdpError, grpc.RpcError) as error:
        return error
    raise AssertionError(f"expected the call to fail, it returned {response!r}")
