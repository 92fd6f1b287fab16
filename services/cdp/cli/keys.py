"""`cdp keys`: the key hierarchy of this install (master key, key-encryption keys, data keys).

These commands open the key table and the key directory themselves (no service is called), with
the settings a service takes: CDP_STORE, CDP_POSTGRES_DSN, CDP_SCHEMA_PREFIX, CDP_DATA_DIR,
CDP_KEY_DIR, CDP_MASTER_KEY_FILE or CDP_MASTER_KEY. Run them where the identity service runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from cdp.platform.config import StoreConfig
from cdp.platform.keystore import MASTER_KEY_ENV, KeyStoreError
from cdp.platform.vault import RotationBusy, Vault, open_vault


def store_options(function):
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), default=".cdp", envvar="CDP_DATA_DIR"),
        click.option("--store", type=click.Choice(["sqlite", "postgres"]), default="sqlite", envvar="CDP_STORE"),
        click.option("--postgres-dsn", default="", envvar="CDP_POSTGRES_DSN"),
        click.option("--schema-prefix", default="cdp_", envvar="CDP_SCHEMA_PREFIX"),
        click.option(
            "--key-dir", type=click.Path(path_type=Path), default=None, envvar="CDP_KEY_DIR", help="<data dir>-keys"
        ),
        click.option("--master-key-file", type=click.Path(path_type=Path), default=None, envvar="CDP_MASTER_KEY_FILE"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _vault(data_dir, store, postgres_dsn, schema_prefix, key_dir, master_key_file) -> tuple[StoreConfig, Vault]:
    if store == "postgres" and not postgres_dsn:
        raise click.UsageError("--store postgres needs --postgres-dsn (or CDP_POSTGRES_DSN)")
    config = StoreConfig(store, data_dir, postgres_dsn, schema_prefix, key_dir or None, master_key_file or None)
    return config, open_vault(config)


@click.group()
def keys() -> None:
    """Key-encryption keys: status, rotation."""


@keys.command("status")
@store_options
def status(**settings) -> None:
    """KEK versions, and how many data keys each wraps (no key material is shown)."""
    config, vault = _vault(**settings)
    try:
        counts = vault.table.counts()
        versions = vault.keys.versions()
    finally:
        vault.table.close()
    master = MASTER_KEY_ENV if os.environ.get(MASTER_KEY_ENV, "").strip() else str(config.master_key_path)
    click.echo(f"master key: {master}")
    click.echo(f"key directory: {config.key_path}")
    rotated = counts.rotated_at.isoformat(timespec="seconds") if counts.rotated_at else "never"
    click.echo(f"current KEK: {counts.current_kek or 'none yet'} (last rotation: {rotated})")
    click.echo(f"KEK files present, by version: {', '.join(map(str, versions)) or 'none'}")
    for version in sorted({*versions, *counts.live_by_kek}):
        label = "the master key itself (older version)" if version == 0 else f"KEK {version}"
        click.echo(f"  {label}: {counts.live_by_kek.get(version, 0)} live data key(s)")
    click.echo(f"destroyed data keys: {counts.destroyed}")


@keys.command("rotate")
@store_options
@click.option("--batch", default=1000, show_default=True, help="Data keys re-wrapped a transaction.")
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for a rotation already running.")
def rotate_command(batch: int, wait: float, **settings) -> None:
    """Make a new KEK, re-wrap every live data key under it, destroy the old KEK.

    Safe while the services run and ingest. Afterwards no copy of the key table from before (a
    PostgreSQL WAL segment, a backup) unwraps a key, so a forgotten person's data stays unreadable.
    """
    from cdp.platform.rotation import rotate

    if batch < 1:
        raise click.UsageError("--batch must be at least 1")
    _, vault = _vault(**settings)
    try:
        done = rotate(vault, batch=batch, wait_s=wait)
    except (RotationBusy, KeyStoreError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        vault.table.close()
    destroyed = ", ".join(map(str, done.destroyed_versions)) or "none"
    click.echo(
        f"rotated to KEK {done.new_version}: {done.rewrapped} data key(s) re-wrapped, "
        f"KEK(s) destroyed: {destroyed}, in {done.seconds:.2f}s"
    )


@keys.command("init")
@store_options
def init(**settings) -> None:
    """Make the master key (unless CDP_MASTER_KEY is set) and the first KEK, if missing."""
    config, vault = _vault(**settings)
    try:
        version = vault.first_kek()
    except KeyStoreError as error:
        raise click.ClickException(str(error)) from None
    finally:
        vault.table.close()
    click.echo(f"current KEK {version} in {config.key_path}")
