"""`cdp bench keys`: how long a key rotation takes, by number of live data keys and store.

Each measurement fills a fresh key table (a SQLite file, or a PostgreSQL schema of its own) with
that many data keys, then times `rotate()` (new KEK, every key re-wrapped in batches of one
transaction, old KEK destroyed) `repeat` times over the same keys.

The time a rotation takes, plus the moment identity waits after a forget for others to join
(cdp.platform.rotation.AFTER_FORGET_S), is how long a copy of the key table from before a forget
(a WAL segment, a backup) can still decrypt the forgotten person's data.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cdp.platform.config import StoreConfig
from cdp.platform.rotation import rotate
from cdp.platform.vault import Vault, open_key_table

FILL = 5000  # keys created a transaction while filling the table


@dataclass
class KeysSettings:
    counts: tuple[int, ...] = (10_000, 100_000)
    stores: tuple[str, ...] = ("sqlite",)
    postgres_dsn: str = ""
    repeat: int = 3
    batch: int = 1000
    data_dir: Path | None = None


def measure(kind: str, count: int, settings: KeysSettings, root: Path, log: Callable[[str], None]) -> dict:
    prefix = f"kb{uuid.uuid4().hex[:8]}_"
    config = StoreConfig(kind=kind, data_dir=root / "data", postgres_dsn=settings.postgres_dsn, schema_prefix=prefix)
    table = open_key_table(config)
    try:
        vault = Vault(table, secrets.token_bytes(32))
        started = time.perf_counter()
        for start in range(0, count, FILL):
            vault.keys_for(f"user_id:bench-{i}" for i in range(start, min(start + FILL, count)))
        filled = time.perf_counter() - started
        runs = []
        for i in range(settings.repeat):
            done = rotate(vault, batch=settings.batch)
            assert done.rewrapped == count, (done.rewrapped, count)
            runs.append(done.seconds)
            log(f"{kind} {count} keys: rotation {i + 1}/{settings.repeat} in {done.seconds:.2f}s")
        return {
            "store": kind,
            "keys": count,
            "fill_seconds": filled,
            "rotate_seconds": {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs},
            "keys_per_s": count / statistics.median(runs),
        }
    finally:
        table.close()
        if kind == "postgres":
            import psycopg
            from psycopg import sql

            with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(f"{prefix}vault")))


def run(settings: KeysSettings, log: Callable[[str], None] = print) -> dict:
    results = []
    for kind in settings.stores:
        for count in settings.counts:
            with tempfile.TemporaryDirectory(prefix="cdp-bench-keys-", dir=settings.data_dir) as tmp:
                results.append(measure(kind, count, settings, Path(tmp), log))
    return {"batch": settings.batch, "repeat": settings.repeat, "results": results}
