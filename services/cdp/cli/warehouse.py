"""`cdp warehouse`: the events, profiles, identity graph and memberships as tables in PostgreSQL
(and Parquet files for DuckDB), for analysts who model in SQL."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
from pathlib import Path

import click
import sqlalchemy as sa

from cdp.cli.client import connect, data_dir
from cdp.client import CdpError
from cdp.platform.config import REPO_POLICIES
from cdp.platform.files import write_private

DEFAULT_SCHEMA = "cdp_warehouse"
READER_ROLES = ("privacy_officer",)  # the published logs are read by services and privacy officers


def engine_for(dsn: str) -> sa.Engine:
    """An engine on psycopg 3 (what the platform's PostgreSQL stores use) for a postgresql:// DSN."""
    if dsn.startswith("postgresql://") or dsn.startswith("postgres://"):
        dsn = "postgresql+psycopg://" + dsn.split("://", 1)[1]
    try:
        engine = sa.create_engine(dsn, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ModuleNotFoundError):
        raise click.BadParameter(
            "not a PostgreSQL URL (postgresql://user@host:port/database)", param_hint="--dsn"
        ) from None
    if engine.dialect.name != "postgresql":
        raise click.BadParameter("the warehouse is PostgreSQL (postgresql://...)", param_hint="--dsn")
    return engine


@contextlib.contextmanager
def warehouse_errors(schema: str, engine: sa.Engine, must_exist: bool = True):
    """The warehouse's failures as messages: unreachable, or no such schema yet."""
    try:
        if must_exist and not sa.inspect(engine).has_table("_positions", schema=schema):
            raise click.ClickException(f"no warehouse in schema {schema}: run `cdp warehouse sync` first")
        yield
    except sa.exc.OperationalError as error:
        raise click.ClickException(f"cannot reach the warehouse: {str(error.orig).strip()}") from None


def mask_key(path: Path) -> bytes:
    """The key masked ids are hashed with (made on first use): the same key keeps masks joinable
    across syncs; a new key gives new masks."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


dsn_option = click.option(
    "--dsn", envvar="CDP_WAREHOUSE_DSN", required=True, help="PostgreSQL, e.g. postgresql://user@host:5432/db."
)
schema_option = click.option(
    "--schema", envvar="CDP_WAREHOUSE_SCHEMA", default=DEFAULT_SCHEMA, show_default=True, help="The schema written."
)


def _schema_name(schema: str) -> str:
    if not schema.replace("_", "").isalnum() or not schema[0].isalpha():
        raise click.BadParameter("letters, digits and _ only, starting with a letter", param_hint="--schema")
    return schema


@click.group()
def warehouse() -> None:
    """Keep the platform's data in a warehouse schema (PostgreSQL), exactly once."""


def build(dsn: str, schema: str, purpose: str, key_file: str | None, policies: str, batch: int, subject: str):
    from cdp.platform.policy.backends import make_engine
    from cdp.platform.policy.bundle import load_bundle
    from cdp.warehouse.application import EgressDecider, Warehouse

    bundle = load_bundle(policies)
    known = sorted(bundle.data.get("cdp", {}).get("purposes", {}))
    if purpose not in known:
        raise click.BadParameter(f"not a purpose the policies know ({', '.join(known)})", param_hint="--purpose")
    decider = EgressDecider(make_engine("embedded", bundle), bundle.revision, f"warehouse:{schema}", purpose)
    connection = connect(subject, READER_ROLES)
    key = mask_key(Path(key_file) if key_file else data_dir() / "warehouse.key")
    store = Warehouse(engine_for(dsn), schema, connection.eventlog, decider, key, batch=batch)
    return store, connection


@warehouse.command()
@dsn_option
@schema_option
@click.option(
    "--purpose",
    envvar="CDP_WAREHOUSE_PURPOSE",
    default="reporting",
    show_default=True,
    help="The purpose cdp.egress decides personal fields for.",
)
@click.option("--mask-key-file", envvar="CDP_WAREHOUSE_MASK_KEY_FILE", help="Default: <data dir>/warehouse.key.")
@click.option("--policies", envvar="CDP_POLICIES", default=str(REPO_POLICIES), show_default=True)
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 5000))
@click.option("--follow", is_flag=True, help="Keep following the logs until interrupted.")
@click.option("--subject", default="warehouse", show_default=True, help="Who the logs are read as.")
def sync(dsn, schema, purpose, mask_key_file, policies, batch, follow, subject):
    """Write what the services published since the last sync (one pass, or --follow)."""
    store, connection = build(dsn, _schema_name(schema), purpose, mask_key_file, policies, batch, subject)
    try:
        store.create()
        if follow:
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            click.echo(f"following into schema {schema} (Ctrl-C stops)", err=True)
            store.follow(stop)
        else:
            written = store.sync_once()
            click.echo(" ".join(f"{u}={n}" for u, n in written.items()))
    except CdpError as error:
        raise click.ClickException(f"{getattr(error, 'code', type(error).__name__)}: {error}") from None
    except sa.exc.OperationalError as error:
        raise click.ClickException(f"cannot reach the warehouse: {str(error.orig).strip()}") from None
    finally:
        connection.close()


@warehouse.command()
@dsn_option
@schema_option
def status(dsn, schema):
    """Each upstream's position and each table's row count."""
    from cdp.warehouse.application import Warehouse

    engine = engine_for(dsn)
    store = Warehouse(engine, _schema_name(schema), lambda s: None, None, b"")
    with warehouse_errors(schema, engine):
        positions, counts = store.status()
    for upstream, position in positions.items():
        click.echo(f"position {upstream:<10} {position}")
    for table, count in counts.items():
        click.echo(f"rows     {table:<18} {count}")


@warehouse.command()
@dsn_option
@schema_option
@click.option("--parquet", "directory", required=True, type=click.Path(file_okay=False), help="Where to write.")
def export(dsn, schema, directory):
    """Write each table to DIR/<table>.parquet (read them with DuckDB: SELECT * FROM 'DIR/events.parquet')."""
    from cdp.warehouse.export import export_parquet

    engine = engine_for(dsn)
    with warehouse_errors(_schema_name(schema), engine):
        written = export_parquet(engine, schema, Path(os.path.expanduser(directory)))
    click.echo(" ".join(f"{t}={n}" for t, n in written.items()))
