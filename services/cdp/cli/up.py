"""`cdp up`: the whole platform on this machine, one process per service."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import click

from cdp.cli.client import call
from cdp.client.local import ensure_default_source
from cdp.platform.config import DEFAULT_HTTP_PORT, DEFAULT_PROBE_PORTS, SERVICES, default_key_dir
from cdp.platform.launcher import Platform


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=".cdp",
    show_default=True,
    envvar="CDP_DATA_DIR",
    help="Where each service keeps its SQLite files and logs.",
)
@click.option(
    "--store", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True, envvar="CDP_STORE"
)
@click.option("--postgres-dsn", default="", envvar="CDP_POSTGRES_DSN", help="With --store postgres.")
@click.option(
    "--http-port",
    default=DEFAULT_HTTP_PORT,
    show_default=True,
    envvar="CDP_HTTP_PORT",
    help="The collector's Segment-compatible HTTP tracking API (0: off).",
)
@click.option(
    "--probes/--no-probes",
    default=True,
    show_default=True,
    help="Serve each service's /healthz, /readyz and /metrics on ports 9151-9155.",
)
@click.option(
    "--collector-processes",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    envvar="CDP_COLLECTOR_PROCESSES",
    help="Collector processes sharing its ports and store (ingest uses every core); each serves its own probes.",
)
def up(data_dir: Path, store: str, postgres_dsn: str, http_port: int, probes: bool, collector_processes: int) -> None:
    """Start collector, identity, profile, segment and activation; Ctrl-C stops them."""
    extra = ["--store", store] + (["--postgres-dsn", postgres_dsn] if postgres_dsn else [])
    probe_ports = dict(DEFAULT_PROBE_PORTS) if probes else {}
    if probes:  # the collector's further processes: 9156, 9157...
        last = max(DEFAULT_PROBE_PORTS.values())
        probe_ports.update({f"collector-{k}": last + k - 1 for k in range(2, collector_processes + 1)})
    platform = Platform(
        data_dir=data_dir,
        extra_args=extra,
        http_port=http_port,
        probe_ports=probe_ports,
        collector_processes=collector_processes,
    )
    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        platform.start_all()
    except (RuntimeError, TimeoutError) as error:
        platform.stop()
        raise click.ClickException(str(error)) from None
    write_key = call(ensure_default_source, platform, data_dir)
    keys = os.environ.get("CDP_KEY_DIR") or default_key_dir(data_dir)  # as the services find it
    click.echo(f"cdp is up; data in {data_dir.resolve()}, keys in {keys}")
    for service in SERVICES:
        metrics = f"   metrics: http://127.0.0.1:{platform.probe_ports[service]}/metrics" if probes else ""
        click.echo(f"  {service:<11} grpc://{platform.address(service)}{metrics}   log: {platform.log_path(service)}")
        if service == "collector" and collector_processes > 1:
            others = ", ".join(str(probe_ports[n]) for n in platform.collector_names()[1:]) if probes else ""
            more = f"; the others' metrics on {others}" if others else ""
            click.echo(
                f"  {'':<11} {collector_processes} processes on that port{more}; logs beside it (collector-2.log...)"
            )
    if http_port:
        click.echo(f"  tracking API http://127.0.0.1:{http_port}/v1/batch (Segment-compatible)")
    click.echo(f"  write key of source 'default': {write_key}  (saved in {data_dir / 'write_key'})")
    click.echo("Press Ctrl-C to stop.")
    try:
        while not stopping:
            for service, process in platform.processes.items():
                if process.poll() is not None:
                    click.echo(
                        f"{service} exited with {process.returncode}; stopping (see {platform.log_path(service)})",
                        err=True,
                    )
                    stopping = True
            time.sleep(0.2)
    finally:
        click.echo("stopping...")
        platform.stop()
        click.echo("stopped.")
