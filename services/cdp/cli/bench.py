"""`cdp bench`: throughput and freshness, measured on this machine."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Benchmarks: ingest and the whole pipeline."""
